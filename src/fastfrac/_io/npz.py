"""Reading and rewriting .npz archives member by member, without loading whole arrays.

An npz file is a ZIP archive of ``.npy`` members (stored by
:func:`numpy.savez`, deflated by :func:`numpy.savez_compressed`).  Each
member is a magic string, a header (dtype, shape, order) and the raw values.
Approximating a float array keeps its header, so the rewritten member is the
original header followed by the new values, streamed chunk by chunk through
the same compression.  Other members (integer, float16, object arrays,
files that are not ``.npy``) are copied unchanged.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import tokenize
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

from fastfrac._io.formats import CHUNK, StartJob, TensorInfo, copy_reason
from fastfrac._io.limits import MAX_NPY_HEADER, bad, check_byte_count, check_shape
from fastfrac._io.ziputil import clone_info, copy_member, open_archive

__all__ = ["NpzFile", "open_file"]

_COPY_BUFFER = 16 << 20


class _Header(NamedTuple):
    raw: bytes  # magic, version, length and header dict, as stored
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool


def _read_exact(f: IO[bytes], n: int, path: Path, name: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise bad(path, f"the member ends {n - len(data)} bytes early: the file is truncated", name)
    return data


def _read_header(f: IO[bytes], path: Path, name: str, member_size: int) -> _Header | None:
    """The .npy header at the stream's position, checked; None if the member is not a .npy at all.

    ``member_size`` is the member's uncompressed size: the values the header
    declares must fill the rest of it exactly.
    """
    magic = f.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        return None
    major = magic[6]
    length_format = {1: "<H", 2: "<I", 3: "<I"}.get(major)
    if length_format is None:
        return None  # a .npy version NumPy does not know either: copied
    length_bytes = _read_exact(f, struct.calcsize(length_format), path, name)
    (length,) = struct.unpack(length_format, length_bytes)
    # Checked before reading: the length is the file's word, and reading it allocates.
    if length > MAX_NPY_HEADER:
        raise bad(path, f"the .npy header declares {length} bytes, over NumPy's limit of "
                        f"{MAX_NPY_HEADER}", name)
    text = _read_exact(f, length, path, name)
    reader = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    try:
        shape, fortran_order, dtype = reader(io.BytesIO(length_bytes + text),
                                             max_header_size=MAX_NPY_HEADER)
    # literal_eval and np.dtype raise all of these on a hostile header.
    except (ValueError, SyntaxError, TypeError, KeyError, RecursionError, MemoryError,
            tokenize.TokenError) as exc:  # TokenError: NumPy's filter for Python 2 headers
        why = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise bad(path, f"the .npy header is not one NumPy reads ({why})", name) from None
    shape = check_shape(shape, path, name)
    raw = magic + length_bytes + text
    if not dtype.hasobject:  # pickled objects have no fixed size (and are only copied)
        check_byte_count(shape, dtype.itemsize * 8, member_size - len(raw), path, name)
    return _Header(raw, dtype, shape, bool(fortran_order))


def _spelled(dtype: np.dtype) -> str:
    return dtype.name if dtype.isnative or dtype.itemsize == 1 else dtype.str


class NpzFile:
    """An .npz archive: its arrays (in member order) and a rewriting copier.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> np.savez(path, w=np.float32([[0.5, 0.1]]), steps=np.int64(3))
    >>> [(t.name, t.shape, t.dtype, t.reason) for t in NpzFile(path).tensors]
    [('w', (1, 2), 'float32', None), ('steps', (), 'int64', 'integer tensor')]
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tensors: list[TensorInfo] = []
        with open_archive(self.path, "npz") as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue  # np.load reads such members as bytes: copied, not a tensor
                name = info.filename[: -len(".npy")]
                with archive.open(info) as f:
                    header = _read_header(f, self.path, name, info.file_size)
                self.tensors.append(_tensor(name, header))

    def rewrite(self, dst: str | os.PathLike[str], start_job: StartJob) -> None:
        """Write the archive to ``dst`` with each array approximated or copied as start_job says."""
        by_member = {f"{t.name}.npy": t for t in self.tensors}
        with zipfile.ZipFile(self.path) as source, zipfile.ZipFile(dst, "w", allowZip64=True) as target:
            for info in source.infolist():
                tensor = by_member.get(info.filename)
                job = None if tensor is None else start_job(tensor)
                if job is None:
                    copy_member(source, info, target)
                    continue
                with source.open(info) as fin, target.open(clone_info(info), "w") as fout:
                    assert tensor is not None  # scanned as a float array
                    header = _read_header(fin, self.path, tensor.name, info.file_size)
                    assert header is not None
                    fout.write(header.raw)
                    itemsize = header.dtype.itemsize
                    for i in range(0, tensor.size, CHUNK):
                        count = min(CHUNK, tensor.size - i)
                        values = np.frombuffer(
                            _read_exact(fin, count * itemsize, self.path, tensor.name), header.dtype
                        )
                        fout.write(np.ascontiguousarray(job.convert(values), dtype=header.dtype))
                    shutil.copyfileobj(fin, fout, _COPY_BUFFER)  # trailing bytes, if any
                    job.finish()
            target.comment = source.comment


def _tensor(name: str, header: _Header | None) -> TensorInfo:
    if header is None:
        return TensorInfo(name, name, (), "?", None, "not an array NumPy can read")
    spelled = _spelled(header.dtype)
    reason = copy_reason(header.dtype, spelled)
    if header.dtype.hasobject:
        reason = "object array"
    float_type = None if reason else header.dtype.newbyteorder("=")
    return TensorInfo(name, name, header.shape, spelled, float_type, reason, header.fortran_order)


def open_file(path: str | os.PathLike[str], scratch: Callable[[str], Path]) -> NpzFile:
    """The reader of :mod:`fastfrac._io.formats` (``scratch`` is not needed here)."""
    return NpzFile(path)
