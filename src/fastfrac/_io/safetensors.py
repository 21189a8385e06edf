"""Reading and rewriting .safetensors files without the safetensors library.

The format: an 8-byte little-endian header length N, N bytes of JSON
(``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{...}}``, offsets relative to the end of the header), then the raw
little-endian tensor bytes.  Approximating a tensor changes neither its type
nor its shape, so the output's header is the input's, byte for byte; the
data is read chunk by chunk with ``os.preadv`` into one reused buffer and
written as it is produced.  A memory map would count every page of the input
the kernel touched in the process's resident size (an 800 MB file made an
883 MB process); read this way the file's pages stay in the page cache, which
the kernel reclaims, and the process holds one chunk at a time whatever the
file's size.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fastfrac._errors import UserError
from fastfrac._io.formats import CHUNK, StartJob, TensorInfo, copy_reason
from fastfrac._io.limits import bad, check_byte_count, check_json_depth, check_shape
from fastfrac._io.overlap import WriteBehind, read_ahead
from fastfrac._types import BFLOAT16

__all__ = ["SafetensorsFile", "open_file"]

# Types NumPy (with ml_dtypes' bfloat16) can hold; every other safetensors type
# is copied as raw bytes.
_NUMPY_TYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": BFLOAT16,
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?",
}
# Bits per value of every type the format defines (sub-byte ones are packed);
# a dtype not listed here is refused.
_BITS = {
    **{name: np.dtype(code).itemsize * 8 for name, code in _NUMPY_TYPES.items()},
    "C64": 64, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
    "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4,
}
BITS = _BITS  # for sizes of types NumPy lacks (fastfrac._io.sizes)
_MAX_HEADER = 100 << 20  # the safetensors library's own limit
_COPY_BYTES = 8 << 20  # per read of copied bytes: small beside the memory budget


@dataclass(frozen=True)
class _Entry:
    info: TensorInfo
    begin: int  # absolute file offsets
    end: int
    file_type: np.dtype | None


def _bad(path: Path, why: str) -> UserError:
    return UserError(f"{path} is not a valid safetensors file: {why}")


def _no_duplicates(path: Path) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """json.loads keeps the last of two equal keys silently; a header must not have any."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise _bad(path, f"the header names {key!r} twice")
            seen.add(key)
        return dict(items)

    return pairs


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # json.loads accepts NaN and Infinity otherwise


def _read_header(path: Path) -> tuple[int, list[_Entry]]:
    """(offset of the data, tensors in data order)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _bad(path, "shorter than the 8-byte header length")
        n = int.from_bytes(head, "little")
        # Both limits before reading: the length is the file's word, not a fact.
        if n > _MAX_HEADER:
            raise _bad(path, f"header length {n} is over the limit of {_MAX_HEADER} bytes")
        if n > size - 8:
            raise _bad(path, f"header length {n} exceeds the file ({size} bytes)")
        raw = f.read(n)
    check_json_depth(raw, path)
    try:
        header = json.loads(raw, object_pairs_hook=_no_duplicates(path), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, over-long integers
        raise _bad(path, f"the header is not JSON ({' '.join(str(exc).split())})") from None
    if not isinstance(header, dict):
        raise _bad(path, "the header is not a JSON object")
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _bad(path, "__metadata__ is not an object of strings")
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
    if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= spec.keys():
        raise bad(path, "lacks a dtype, shape or data_offsets", name)
    dtype, offsets = spec["dtype"], spec["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _BITS:
        raise bad(path, f"dtype {dtype!r} is not a safetensors type ({', '.join(sorted(_BITS))})", name)
    shape = check_shape(spec["shape"], path, name)
    if not (
        isinstance(offsets, list) and len(offsets) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in offsets)
    ):
        raise bad(path, f"data_offsets {offsets!r} is not a pair of integers", name)
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise bad(path, f"data_offsets [{begin}, {end}] lie outside the {data_size} data bytes", name)
    check_byte_count(shape, _BITS[dtype], end - begin, path, name)
    file_type = np.dtype(_NUMPY_TYPES[dtype]) if dtype in _NUMPY_TYPES else None
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
        with open(self.path, "rb") as src, open(dst, "wb") as file:
            fd = src.fileno()
            # One read-ahead over every tensor, so that the next tensor's
            # first chunk is read while this one's last is approximated.
            # Both threads stop before the files close, whatever happens.
            chunks = self._read_ahead(fd, self._entries)
            out = WriteBehind(file)
            try:
                size = os.fstat(fd).st_size
                _copy(fd, 0, self._start, out, self.path)  # header length and JSON, unchanged
                pos = self._start
                for entry in self._entries:
                    _copy(fd, pos, entry.begin, out, self.path)  # bytes between tensors, if any
                    self._write_entry(entry, chunks, start_job, out)
                    pos = entry.end
                _copy(fd, pos, size, out, self.path)
                out.drain()
            finally:
                chunks.close()
                out.close()

    def _read_ahead(self, fd: int, entries: list[_Entry]) -> Generator[np.ndarray, None, None]:
        """The tensors' bytes in :func:`_ranges`' pieces, read on a thread one piece ahead."""
        ranges = [piece for entry in entries for piece in _ranges(entry)]
        return read_ahead(lambda buffer, offset: _read_into(fd, buffer, offset, self.path), ranges)

    def _write_entry(self, entry: _Entry, chunks: Iterator[np.ndarray], start_job: StartJob,
                     out: WriteBehind) -> None:
        """One tensor's bytes, approximated or copied, from ``chunks`` (its pieces) to ``out``.

        Every piece is handed to ``out`` to write behind: approximated ones are
        new arrays, copied ones are copied out of the read-ahead's buffer.
        """
        job = start_job(entry.info)
        pieces = itertools.islice(chunks, len(_ranges(entry)))
        if job is None:
            for piece in pieces:
                out.give(piece.copy())
            return
        assert entry.file_type is not None  # only NumPy types are approximated
        for piece in pieces:
            new = job.convert(piece.view(entry.file_type))
            out.give(np.ascontiguousarray(new, dtype=entry.file_type))
        job.finish()

    def preallocate(self, dst: str | os.PathLike[str]) -> None:
        """Create ``dst`` at this file's size with its header and every byte outside the tensors.

        :meth:`rewrite_tensor` then fills in each tensor where it lies, in
        any order, from any process that sees ``dst``: the offsets are the
        input's, so the result is :meth:`rewrite`'s byte for byte.
        """
        with open(self.path, "rb") as src, open(dst, "wb") as out:
            fd = src.fileno()
            size = os.fstat(fd).st_size
            _copy(fd, 0, self._start, out, self.path)
            out.truncate(size)  # a sparse file where the tensors go
            pos = self._start
            for begin, end in [(e.begin, e.end) for e in self._entries] + [(size, size)]:
                if begin > pos:  # bytes between tensors, or after the last one
                    _copy(fd, pos, begin, _At(out.fileno(), pos), self.path)
                pos = max(pos, end)

    def rewrite_tensor(self, dst: str | os.PathLike[str], name: str, start_job: StartJob) -> None:
        """Write tensor ``name`` into ``dst`` (made by :meth:`preallocate`) at its offsets, by pwrite."""
        entry = next(e for e in self._entries if e.info.name == name)
        with open(self.path, "rb") as src:
            out_fd = os.open(dst, os.O_WRONLY)
            chunks = self._read_ahead(src.fileno(), [entry])
            out = WriteBehind(_At(out_fd, entry.begin))
            try:
                self._write_entry(entry, chunks, start_job, out)
                out.drain()
            finally:
                chunks.close()
                out.close()
                os.close(out_fd)


class _At:
    """A file written from ``offset`` on by pwrite: ``.write`` as a file's, no shared position."""

    def __init__(self, fd: int, offset: int) -> None:
        self._fd, self._pos = fd, offset

    def write(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view:
            n = os.pwrite(self._fd, view, self._pos)
            view, self._pos = view[n:], self._pos + n


def _ranges(entry: _Entry) -> list[tuple[int, int]]:
    """A tensor's bytes as ``(offset, length)`` pieces: chunks of :data:`CHUNK` values
    (of _COPY_BYTES for a type NumPy lacks, which is only copied)."""
    step = _COPY_BYTES if entry.file_type is None else CHUNK * entry.file_type.itemsize
    return [(offset, min(step, entry.end - offset)) for offset in range(entry.begin, entry.end, step)]


def _read_into(fd: int, buffer: np.ndarray, offset: int, path: Path) -> None:
    """Fill ``buffer`` with the file's bytes at ``offset`` (pread: no shared file position)."""
    view = memoryview(buffer).cast("B")
    done = 0
    while done < len(view):
        if hasattr(os, "preadv"):
            n = os.preadv(fd, [view[done:]], offset + done)
        else:  # Windows has no preadv: one copy more
            data = os.pread(fd, len(view) - done, offset + done)
            n = len(data)
            view[done : done + n] = data
        if n == 0:  # the file shrank after its header was read
            raise UserError(f"{path} was truncated while being read")
        done += n


def _copy(fd: int, begin: int, end: int, out: Any, path: Path) -> None:
    buffer = np.empty(min(_COPY_BYTES, max(end - begin, 0)), np.uint8)
    for offset in range(begin, end, _COPY_BYTES):
        chunk = buffer[: min(_COPY_BYTES, end - offset)]
        _read_into(fd, chunk, offset, path)
        out.write(chunk)


def open_file(path: str | os.PathLike[str], scratch: Callable[[str], Path]) -> SafetensorsFile:
    """The reader of :mod:`fastfrac._io.formats` (``scratch`` is not needed here)."""
    return SafetensorsFile(path)
