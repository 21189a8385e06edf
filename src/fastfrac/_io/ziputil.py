"""ZIP archives (npz and .keras): opened with their members checked, members copied as they are."""

from __future__ import annotations

import os
import shutil
import zipfile

from fastfrac._errors import UserError

__all__ = ["clone_info", "copy_member", "open_archive"]

_COPY_BUFFER = 16 << 20
_READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def clone_info(info: zipfile.ZipInfo, file_size: int | None = None) -> zipfile.ZipInfo:
    """A ZipInfo for writing a member like ``info``: same name, date, compression, attributes.

    ``file_size`` (the uncompressed size to come; ``info``'s by default) only
    tells :mod:`zipfile` whether the member needs ZIP64 records.

    >>> src = zipfile.ZipInfo("a.npy", (2024, 5, 1, 12, 0, 0))
    >>> src.compress_type = zipfile.ZIP_DEFLATED
    >>> out = clone_info(src)
    >>> out.filename, out.date_time, out.compress_type == zipfile.ZIP_DEFLATED
    ('a.npy', (2024, 5, 1, 12, 0, 0), True)
    """
    out = zipfile.ZipInfo(info.filename, info.date_time)
    out.compress_type = info.compress_type
    out.comment = info.comment
    out.create_system = info.create_system
    out.external_attr = info.external_attr
    out.internal_attr = info.internal_attr
    out.file_size = info.file_size if file_size is None else file_size
    return out


def copy_member(source: zipfile.ZipFile, info: zipfile.ZipInfo, target: zipfile.ZipFile) -> None:
    """Copy one member's content unchanged, streaming (nothing is held in memory)."""
    with source.open(info) as fin, target.open(clone_info(info), "w") as fout:
        shutil.copyfileobj(fin, fout, _COPY_BUFFER)


def open_archive(path: str | os.PathLike[str], kind: str) -> zipfile.ZipFile:
    """``path`` opened for reading, refused unless it is a ZIP archive with each member once.

    Two members of one name would be read as one and written twice (zipfile
    only warns), so the copy would not be the archive given.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npz"
    >>> with zipfile.ZipFile(path, "w") as z:
    ...     z.writestr("a.npy", b"1")
    ...     import warnings; warnings.simplefilter("ignore")
    ...     z.writestr("a.npy", b"2")
    >>> open_archive(path, "npz")
    Traceback (most recent call last):
    ...
    fastfrac._errors.UserError: .../x.npz is not a valid npz file: the member 'a.npy' appears 2 times
    """
    if not zipfile.is_zipfile(path):
        raise UserError(f"{os.fspath(path)} is not a valid {kind} file (not a ZIP archive)")
    try:
        archive = zipfile.ZipFile(path)
    # A damaged central directory: bad records, member names that are not UTF-8.
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        why = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise UserError(f"{os.fspath(path)} is not a valid {kind} file ({why})") from None
    counts: dict[str, int] = {}
    for info in archive.infolist():
        counts[info.filename] = counts.get(info.filename, 0) + 1
        # zipfile would fail on these only when reading them, with RuntimeError/NotImplementedError.
        problem = ("is encrypted" if info.flag_bits & 0x1 else
                   None if info.compress_type in _READABLE else
                   f"uses compression method {info.compress_type}, which zipfile cannot read")
        if problem:
            archive.close()
            raise UserError(f"{os.fspath(path)} is not a valid {kind} file: the member "
                            f"{info.filename!r} {problem}")
    twice = next((name for name, n in counts.items() if n > 1), None)
    if twice is not None:
        archive.close()
        raise UserError(
            f"{os.fspath(path)} is not a valid {kind} file: the member {twice!r} appears "
            f"{counts[twice]} times"
        )
    return archive
