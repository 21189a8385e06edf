"""Reading and rewriting .safetensors files without the safetensors library.

The format: an 8-byte little-endian header length N, N bytes of JSON
(``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{...}}``, offsets relative to the end of the header), then the raw
little-endian tensor bytes.  Approximating a tensor changes neither its type
nor its shape, so the output's header is the input's, byte for byte; the
data is read through a NumPy memmap and written chunk by chunk, so memory
stays bounded by the chunk size plus the pages of the input the kernel has
touched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fastfrac._errors import UserError
from fastfrac._io.formats import CHUNK, StartJob, TensorInfo, copy_reason

__all__ = ["SafetensorsFile", "open_file"]

# Types NumPy can hold; every other safetensors type is copied as raw bytes.
_NUMPY_TYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?",
}
# Sizes of the others, to check the offsets (types not listed are not checked).
_ITEMSIZES = {"BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "C64": 8}
_MAX_HEADER = 100 << 20  # the safetensors library's own limit
_COPY_BYTES = 64 << 20


@dataclass(frozen=True)
class _Entry:
    info: TensorInfo
    begin: int  # absolute file offsets
    end: int
    file_type: np.dtype | None


def _bad(path: Path, why: str) -> UserError:
    return UserError(f"{path} is not a valid safetensors file: {why}")


def _read_header(path: Path) -> tuple[int, list[_Entry]]:
    """(offset of the data, tensors in data order)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _bad(path, "shorter than the 8-byte header length")
        n = int.from_bytes(head, "little")
        if n > min(size - 8, _MAX_HEADER):
            raise _bad(path, f"header length {n} exceeds the file")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _bad(path, f"the header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _bad(path, "the header is not a JSON object")
    start, data_size = 8 + n, size - 8 - n
    entries = []
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        entries.append(_entry(path, name, spec, start, data_size))
    entries.sort(key=lambda e: (e.begin, e.end))
    for before, after in zip(entries, entries[1:]):
        if after.begin < before.end:
            raise _bad(path, f"tensors {before.info.name!r} and {after.info.name!r} overlap")
    return start, entries


def _entry(path: Path, name: str, spec: Any, start: int, data_size: int) -> _Entry:
    try:
        dtype, shape = str(spec["dtype"]), tuple(int(n) for n in spec["shape"])
        begin, end = (int(n) for n in spec["data_offsets"])
    except (TypeError, KeyError, ValueError):
        raise _bad(path, f"tensor {name!r} lacks a dtype, shape or data_offsets") from None
    if min(shape, default=0) < 0 or not 0 <= begin <= end <= data_size:
        raise _bad(path, f"tensor {name!r} has a bad shape or offsets")
    file_type = np.dtype(_NUMPY_TYPES[dtype]) if dtype in _NUMPY_TYPES else None
    itemsize = file_type.itemsize if file_type is not None else _ITEMSIZES.get(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    if itemsize is not None and end - begin != count * itemsize:
        raise _bad(path, f"tensor {name!r}: {end - begin} bytes for {count} {dtype} values")
    reason = copy_reason(file_type, dtype)
    float_type = None if reason else file_type.newbyteorder("=")  # type: ignore[union-attr]
    info = TensorInfo(name, name, shape, dtype, float_type, reason)
    return _Entry(info, start + begin, start + end, file_type)


class SafetensorsFile:
    """A .safetensors file: its tensors (in data order) and a rewriting copier.

    Examples
    --------
    >>> import pathlib, tempfile, json
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.safetensors"
    >>> header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    >>> _ = path.write_bytes(len(header).to_bytes(8, "little") + header + np.float32([0.5, 0.1]).tobytes())
    >>> [(t.name, t.shape, t.dtype) for t in SafetensorsFile(path).tensors]
    [('w', (2,), 'F32')]
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._start, self._entries = _read_header(self.path)
        self.tensors = [e.info for e in self._entries]

    def rewrite(self, dst: str | os.PathLike[str], start_job: StartJob) -> None:
        """Write the file to ``dst`` with each tensor approximated or copied as start_job says."""
        size = self.path.stat().st_size
        data = np.memmap(self.path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        with open(dst, "wb") as out:
            out.write(data[: self._start])  # header length and JSON, unchanged
            pos = self._start
            for entry in self._entries:
                _copy(data, pos, entry.begin, out)  # bytes between tensors, if any
                job = start_job(entry.info)
                if job is None:
                    _copy(data, entry.begin, entry.end, out)
                else:
                    values = data[entry.begin : entry.end].view(entry.file_type)
                    for i in range(0, values.size, CHUNK):
                        new = job.convert(values[i : i + CHUNK])
                        out.write(np.ascontiguousarray(new, dtype=entry.file_type))
                    job.finish()
                pos = entry.end
            _copy(data, pos, size, out)
        del data  # unmap before the caller renames or deletes files


def _copy(data: np.ndarray, begin: int, end: int, out: Any) -> None:
    for i in range(begin, end, _COPY_BYTES):
        out.write(data[i : min(i + _COPY_BYTES, end)])


def open_file(path: str | os.PathLike[str], scratch: Callable[[str], Path]) -> SafetensorsFile:
    """The reader of :mod:`fastfrac._io.formats` (``scratch`` is not needed here)."""
    return SafetensorsFile(path)
