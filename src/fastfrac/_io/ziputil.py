"""Copying ZIP members (npz and .keras archives) with their names, dates and compression."""

from __future__ import annotations

import shutil
import zipfile

__all__ = ["clone_info", "copy_member"]

_COPY_BUFFER = 16 << 20


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
