"""Version 3 of the fractions container on disk: compressed frames and a JSON footer.

A ``.ffc`` file is::

    b"FFRAC\\x00\\x03\\n"          8 bytes: magic and version
    frame, frame, ...            compressed integer arrays, back to back
    metadata                     UTF-8 JSON (below)
    length of the metadata       8 bytes, little-endian unsigned
    b"FFRAC\\x00\\x03\\n"          the magic again

The metadata goes last so that the file is written in one pass, a tensor at
a time, whatever its size; a reader finds it from the end.  Every array is a
list of frames of at most :data:`FRAME` elements; each frame is in the
narrowest integer type that holds its own values (a chunk of small
denominators is ``uint8`` even if the next chunk needs ``uint16``), its bytes
shuffled (the first byte of every element, then every second byte, ...,
which is what lets a general-purpose codec see the runs in the high bytes)
and compressed by Zstandard on its own.  A frame is ``[offset, length,
dtype, count]``: its byte range in the file, the NumPy type string of its
elements (``"|u1"``, ``"<i2"``, ...) and how many there are.

Frames are compressed on worker threads while the kernel approximates the
next chunk (zstd releases the GIL) and written in order by a thread of their
own, at most :data:`PENDING` in flight, so memory stays bounded and neither
the codec nor the writes hold up the caller.

Nothing in the file is trusted by the reader: magic, footer length, JSON,
every frame's range, type and count are checked against the file and the
tensor's shape, and a frame must decompress to exactly its declared size, so
a malicious file is one :class:`ValueError` line, never a large allocation.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

import numpy as np
import zstandard  # measured against zlib and blosc2: docs/codecs.md

from fastfrac._io.overlap import WriteBehind

# Through _isa, the one place that loads the compiled module (it sets FASTFRAC_ISA
# aside while it does); the byte planes need no instruction set of their own.
from fastfrac._isa import core as _core

__all__ = [
    "CODEC",
    "FRAME",
    "MAGIC",
    "FrameReader",
    "FrameWriter",
    "check_frames",
    "is_frames_file",
    "narrowest",
    "read_footer",
    "write_footer",
]

MAGIC = b"FFRAC\x00\x03\n"
# Elements per frame: the readers' chunk size, so one approximated chunk is one frame.
FRAME = 1 << 20
# Frames being compressed at once: enough to keep two workers busy while the
# kernel runs; each holds at most FRAME int64s plus its output.
PENDING = 4
# Byte shuffle then zstd level 1 (docs/codecs.md): the file as written is within
# 0.4 % of the smallest candidate on every corpus of the study and encodes 1.1-2.3x
# as fast as the fused pass on the large ones; zstd levels 3 and 9 without the
# shuffle were 12-27 % larger.  blosc2 (zstd level 1, its own shuffle) is no
# smaller, but decodes 2-4x faster.
#
# A frame of fewer than PLANE_BLOCKS_BELOW values (its planes below zstd's
# largest block, 128 KiB) ends a block at every plane, so each plane gets its
# own literal statistics: on the seed model, whose tensors are all small, that
# is 21.74 bits per weight instead of 23.15, below blosc2's 21.89.  Larger
# frames gain nothing from it (their blocks already lie within one plane) and
# it cost them 0.4-1.5 ms more per 2**20 values, so they are compressed in one call.
CODEC = {"name": "zstd", "level": 1, "shuffle": True, "plane_blocks_below": 1 << 17}
PLANE_BLOCKS_BELOW = CODEC["plane_blocks_below"]
# A metadata footer larger than this is refused before it is read: a
# 10**9-parameter model in 10**6-element frames needs about 200 kB.
MAX_METADATA = 1 << 28
_FOOTER = struct.Struct("<Q")
_INT_TYPES = tuple(np.dtype(t) for t in (
    np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64,
))
_INT_NAMES = {t.str: t for t in _INT_TYPES}


def narrowest(values: np.ndarray) -> np.dtype:
    """The narrowest integer type that holds every value (unsigned when none is negative).

    >>> narrowest(np.array([1, 255])), narrowest(np.array([-129, 3])), narrowest(np.array([], int))
    (dtype('uint8'), dtype('int16'), dtype('uint8'))
    """
    if not values.size:
        return np.dtype(np.uint8)
    if values.dtype == np.int64 and values.ndim == 1 and values.flags.c_contiguous:
        width, signed = _core.int64_narrowest(values)  # one pass, without the GIL
        return np.dtype(f"{'i' if signed else 'u'}{width}")
    low, high = int(values.min()), int(values.max())
    for kind in _INT_TYPES[0::2] if low >= 0 else _INT_TYPES[1::2]:
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return kind
    raise ValueError(f"values from {low} to {high} fit no 64-bit integer type")


def _planes(data: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``data``'s values in ``dtype`` (they fit), as byte planes: every element's
    first byte, then every second byte, ...

    int64 input (the fractions) is packed by the C core in one pass without
    the GIL (csrc/ff_planes.c): on a frame of 2**20 denominators needing
    8 bytes, NumPy's min, max, cast and transposed copy took 5.5 ms, about
    what zstd then took, and the C narrowing and packing take 3.2 ms.  Other
    types (plain tensors' bits) take the NumPy way.  A contiguous array: zstd
    takes any buffer, so no copy into bytes.
    """
    if data.dtype == np.int64 and data.ndim == 1 and data.flags.c_contiguous:
        return _core.int64_to_planes(data, dtype.itemsize)
    data = np.ascontiguousarray(data.astype(dtype, copy=False))
    if dtype.itemsize == 1:
        return data.view(np.uint8)
    return np.ascontiguousarray(data.view(np.uint8).reshape(-1, dtype.itemsize).T)


def _from_planes(raw: bytes, dtype: np.dtype, count: int) -> np.ndarray:
    """The inverse of :func:`_planes`, as int64 (the values of any stored type fit)."""
    return _core.planes_to_int64(raw, count, dtype.itemsize, dtype.kind == "i")


class FrameWriter:
    """Writes frames to ``out`` (positioned just after :data:`MAGIC`), compressing on threads.

    :meth:`add` queues one integer array and returns at once; the frame
    lists of every array are complete after :meth:`flush`.
    """

    def __init__(self, out: IO[bytes], *, threads: int = 2) -> None:
        self._out = out
        self._offset = out.tell()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fastfrac-zstd")
        # Frames reach the file in order on a thread of their own
        # (overlap.py), so a write never holds up the next chunk.
        self._behind = WriteBehind(out, depth=PENDING)
        self._local = threading.local()

    def _zstd(self) -> zstandard.ZstdCompressor:
        compressor = getattr(self._local, "zstd", None)
        if compressor is None:  # one per worker thread: a compressor is not thread-safe
            compressor = self._local.zstd = zstandard.ZstdCompressor(level=CODEC["level"])
        return compressor

    def _compress(self, values: np.ndarray, narrow: bool,
                  dtype: np.dtype | None) -> tuple[bytes, str, int]:
        if dtype is None:
            dtype = narrowest(values) if narrow else values.dtype
        return self._compress_planes(_planes(values, dtype), dtype, values.size)

    def _compress_planes(self, planes: np.ndarray, dtype: np.dtype,
                         n: int) -> tuple[bytes, str, int]:
        """One frame of n values of dtype, already in byte planes."""
        if dtype.itemsize == 1 or n >= PLANE_BLOCKS_BELOW:
            return self._zstd().compress(planes), dtype.str, n
        # Each plane in blocks of its own (still one standard zstd frame, with
        # its size in the header): a block holds one Huffman table, and the
        # low and high bytes of a small frame would otherwise share one.
        stream = self._zstd().compressobj(size=planes.size)
        view = memoryview(planes).cast("B")
        parts = []
        for j in range(dtype.itemsize):
            parts.append(stream.compress(view[j * n : (j + 1) * n]))
            parts.append(stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
        parts.append(stream.flush())
        return b"".join(parts), dtype.str, n

    def add(self, values: np.ndarray, frames: list[list[Any]], *, narrow: bool = True,
            dtype: np.dtype | None = None) -> None:
        """Compress ``values`` (an integer array, taken flat) into frames appended to ``frames``.

        Each frame is in the narrowest type of its own values, unless not
        ``narrow`` (then in the array's type).  ``dtype``, when the caller
        already knows the narrowest type of all of ``values`` (the fused pass
        finds it), saves looking for it; it is used only when ``values`` fit
        one frame, where it is that frame's own.  ``values`` is read on a
        worker thread after this returns: the caller must not modify it.
        """
        flat = np.ascontiguousarray(values).reshape(-1)
        known = dtype if narrow and flat.size <= FRAME else None
        for start in range(0, flat.size, FRAME):
            piece = flat[start : start + FRAME]
            # No copy: the caller hands over the array (the fused pass makes
            # new ones for every chunk) and must not change it afterwards.
            compressed = self._pool.submit(self._compress, piece, narrow, known)
            self._behind.submit(lambda compressed=compressed: self._write(frames, compressed))

    def add_planes(self, planes: np.ndarray, dtype: np.dtype, frames: list[list[Any]]) -> None:
        """Compress one frame already in byte planes (``dtype.itemsize`` rows of at
        most :data:`FRAME` values, C-contiguous uint8, as the fused pass writes
        them) and append it to ``frames``; the bytes are those :meth:`add`
        writes for the same values.  As there, ``planes`` is read on a worker
        thread: the caller must not modify it.
        """
        rows, n = planes.shape
        if rows != dtype.itemsize or n > FRAME or planes.dtype != np.uint8 \
                or not planes.flags.c_contiguous:
            raise ValueError(f"planes of shape {planes.shape} ({planes.dtype}) are not one frame "
                             f"of {dtype}")
        compressed = self._pool.submit(self._compress_planes, planes.reshape(-1), dtype, n)
        self._behind.submit(lambda: self._write(frames, compressed))

    def _write(self, frames: list[list[Any]], compressed: Future[tuple[bytes, str, int]]) -> None:
        """On the writing thread, in submission order: one frame into the file."""
        data, dtype, count = compressed.result()
        self._out.write(data)
        frames.append([self._offset, len(data), dtype, count])
        self._offset += len(data)

    def flush(self) -> int:
        """Write every queued frame; returns the offset after the last one."""
        self._behind.drain()
        return self._offset

    def close(self) -> None:
        """Stop the workers (queued frames are dropped unless :meth:`flush` ran)."""
        self._behind.close()
        self._pool.shutdown(wait=True, cancel_futures=True)


def write_footer(out: IO[bytes], metadata: dict[str, Any]) -> None:
    """The metadata, its length and the closing magic."""
    text = json.dumps(metadata, separators=(",", ":")).encode("utf-8")
    out.write(text)
    out.write(_FOOTER.pack(len(text)))
    out.write(MAGIC)


def is_frames_file(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts with this format's magic."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_footer(f: IO[bytes], size: int, name: str) -> tuple[dict[str, Any], int]:
    """The metadata of an open ``.ffc`` file of ``size`` bytes, and where it starts."""
    tail = len(MAGIC) + _FOOTER.size
    if size < len(MAGIC) + tail:
        raise ValueError(f"{name} is not a fastfrac fractions container (too short)")
    f.seek(0)
    if f.read(len(MAGIC)) != MAGIC:
        raise ValueError(f"{name} is not a fastfrac fractions container (no magic at the start)")
    f.seek(size - tail)
    (length,) = _FOOTER.unpack(f.read(_FOOTER.size))
    if f.read(len(MAGIC)) != MAGIC:
        raise ValueError(f"{name} is truncated or damaged: no magic at its end")
    start = size - tail - length
    if length > MAX_METADATA or start < len(MAGIC):
        raise ValueError(f"{name} is damaged: its metadata length {length} does not fit the file")
    f.seek(start)
    try:
        metadata = json.loads(f.read(length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{name} is damaged: its metadata is not JSON ({exc})") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{name} is damaged: its metadata is not a JSON object")
    return metadata, start


def check_frames(frames: Any, count: int, data_end: int, where: str) -> list[tuple[int, int, np.dtype, int]]:
    """A frame list from the metadata, each checked; ValueError naming ``where`` otherwise."""
    if not isinstance(frames, list):
        raise ValueError(f"{where}: frames are not a list")
    checked, total = [], 0
    for frame in frames:
        if (not isinstance(frame, list) or len(frame) != 4
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in frame[:2])
                or not isinstance(frame[3], int) or isinstance(frame[3], bool)):
            raise ValueError(f"{where}: a frame is not [offset, length, dtype, count]: {frame!r:.80}")
        offset, length, dtype, n = frame
        if dtype not in _INT_NAMES:
            raise ValueError(f"{where}: frame type {dtype!r:.40} is not an integer type")
        if not (len(MAGIC) <= offset and 0 <= length and offset + length <= data_end):
            raise ValueError(f"{where}: a frame's bytes [{offset}, {offset + length}) lie outside the data")
        if not 0 <= n <= FRAME:
            raise ValueError(f"{where}: a frame declares {n} elements (at most {FRAME})")
        total += n
        checked.append((offset, length, _INT_NAMES[dtype], n))
    if total != count:
        raise ValueError(f"{where}: frames hold {total} elements, the shape needs {count}")
    return checked


class FrameReader:
    """The elements of one array, read frame by frame: :meth:`take` the next ``n`` as int64."""

    def __init__(self, f: IO[bytes], frames: list[tuple[int, int, np.dtype, int]], where: str) -> None:
        self._f, self._frames, self._where = f, deque(frames), where
        self._buffer = np.empty(0, dtype=np.int64)
        self._decompressor = zstandard.ZstdDecompressor()

    def _next_frame(self) -> np.ndarray:
        offset, length, dtype, count = self._frames.popleft()
        self._f.seek(offset)
        raw = self._f.read(length)
        want = count * dtype.itemsize
        try:
            # zstd sizes its output from the frame's header, not from
            # max_output_size: a 3 kB frame may declare 100 MB.  So the header
            # must say exactly what the metadata says before anything is allocated.
            declared = zstandard.frame_content_size(raw)
            if declared != want:
                raise ValueError(f"{self._where}: a frame declares {declared} bytes, not {want}")
            data = self._decompressor.decompress(raw, max_output_size=want) if want else b""
        except zstandard.ZstdError as exc:
            raise ValueError(f"{self._where}: a frame does not decompress ({exc})") from None
        if len(data) != want:
            raise ValueError(f"{self._where}: a frame decompresses to {len(data)} bytes, not {want}")
        return _from_planes(data, dtype, count)

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` elements (fewer only past the end)."""
        parts, have = [self._buffer], self._buffer.size
        while have < n and self._frames:
            part = self._next_frame()
            parts.append(part)
            have += part.size
        joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self._buffer = joined[n:]
        return joined[:n]
