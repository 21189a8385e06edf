"""The byte planes of the container's frames (csrc/ff_planes.c) against NumPy's own cast and transpose.

Version 3 files written before the planes moved into C used NumPy: the C
packing must give the same bytes, so those files still read and new files
are what the format's documentation says.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastfrac import _core
from fastfrac._io import frames

INT64 = st.integers(-(2**63), 2**63 - 1)
TYPES = [np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32,
                                np.uint64, np.int64)]


def numpy_planes(values: np.ndarray, dtype: np.dtype) -> bytes:
    """The planes as frames.py made them with NumPy: cast, then bytes transposed."""
    narrow = np.ascontiguousarray(values.astype(dtype))
    return np.ascontiguousarray(narrow.view(np.uint8).reshape(-1, dtype.itemsize).T).tobytes()


def extremes(dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    picks = [info.min, info.min + 1, -1, 0, 1, info.max - 1, info.max, info.max // 3]
    return np.array([v for v in picks if info.min <= v <= info.max and -(2**63) <= v < 2**63],
                    dtype=np.int64)


@pytest.mark.parametrize("dtype", TYPES, ids=str)
def test_planes_are_numpys_bytes_and_come_back(dtype) -> None:
    rng = np.random.default_rng(dtype.itemsize)
    info = np.iinfo(dtype)
    low, high = max(info.min, -(2**63)), min(info.max, 2**63 - 1)
    values = np.concatenate([extremes(dtype),
                             rng.integers(low, high, 1001, dtype=np.int64, endpoint=True)])
    planes = _core.int64_to_planes(values, dtype.itemsize)
    assert planes.tobytes() == numpy_planes(values, dtype)
    back = _core.planes_to_int64(planes.tobytes(), values.size, dtype.itemsize, dtype.kind == "i")
    if dtype == np.uint64:  # above INT64_MAX the bits come back as int64, as NumPy casts them
        back = back.astype(np.uint64).astype(np.int64)
    np.testing.assert_array_equal(back, values)


@given(st.lists(INT64, max_size=300))
def test_narrowest_type_holds_every_value_and_round_trips(values) -> None:
    v = np.array(values, dtype=np.int64)
    dtype = frames.narrowest(v)
    assert dtype == narrowest_by_range(v)
    assert np.array_equal(v.astype(dtype).astype(np.int64), v)  # it holds them
    planes = frames._planes(v, dtype)
    assert planes.tobytes() == numpy_planes(v, dtype)
    np.testing.assert_array_equal(frames._from_planes(planes.tobytes(), dtype, v.size), v)


def narrowest_by_range(v: np.ndarray) -> np.dtype:
    """The rule from the smallest and largest value, as the C core's bit test must decide it."""
    low, high = (int(v.min()), int(v.max())) if v.size else (0, 0)
    kinds = TYPES[0::2] if low >= 0 else TYPES[1::2]
    return next(t for t in kinds if np.iinfo(t).min <= low and high <= np.iinfo(t).max)


@pytest.mark.parametrize("dtype", TYPES, ids=str)
def test_narrowest_at_each_types_edges(dtype) -> None:
    """Each type's own extremes, and one step past them, pick the type the range rule picks."""
    info = np.iinfo(dtype)
    for edge in (info.min, info.max):
        for value in (edge - 1, edge, edge + 1):
            if -(2**63) <= value < 2**63:
                v = np.array([value, 0], dtype=np.int64)
                assert frames.narrowest(v) == narrowest_by_range(v), value


def test_narrowest_of_nothing() -> None:
    assert _core.int64_narrowest(np.empty(0, np.int64)) == (1, False)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        _core.int64_to_planes(np.zeros(3, np.int32), 4)
    with pytest.raises(TypeError):
        _core.int64_narrowest(np.zeros((2, 2), np.int64))
    with pytest.raises(ValueError, match="width"):
        _core.int64_to_planes(np.zeros(3, np.int64), 3)
    with pytest.raises(ValueError, match="are not 2 values"):
        _core.planes_to_int64(b"\x00" * 5, 2, 4, False)


def write_frames(values: np.ndarray, threads: int) -> tuple[io.BytesIO, list, int]:
    """values through a FrameWriter into memory: the file, its frame list, the data's end."""
    out = io.BytesIO()
    out.write(frames.MAGIC)
    writer = frames.FrameWriter(out, threads=threads)
    listed: list = []
    writer.add(values, listed)
    end = writer.flush()
    writer.close()
    return out, listed, end


def test_frames_round_trip_across_frame_boundaries() -> None:
    """Frames of different widths in one array (each its own narrowest type), through a file."""
    rng = np.random.default_rng(7)
    size = frames.FRAME * 2 + 12345
    values = rng.integers(0, 200, size, dtype=np.int64)
    values[frames.FRAME + 5] = -70_000  # only the second frame needs int32
    values[-1] = 2**40  # and the last a 64-bit type (unsigned: nothing there is negative)
    out, listed, end = write_frames(values, threads=2)
    assert [f[2] for f in listed] == ["|u1", "<i4", "<u8"]
    checked = frames.check_frames(listed, size, end, "test")
    reader = frames.FrameReader(out, checked, "test")
    got = np.concatenate([reader.take(300_000) for _ in range(-(-size // 300_000))])
    np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize("size", [1, 1000, frames.PLANE_BLOCKS_BELOW - 1, frames.PLANE_BLOCKS_BELOW])
def test_small_frames_keep_each_plane_in_blocks_of_its_own(size) -> None:
    """Below PLANE_BLOCKS_BELOW values a multi-byte frame ends a zstd block at every
    plane: still one standard frame that declares its size and decodes to the planes,
    at most a block header per plane larger than one call (the gain is measured in
    docs/codecs.md, not promised per frame); larger frames are one call as before."""
    import zstandard

    rng = np.random.default_rng(size)
    values = np.abs(rng.normal(0, 300, size)).astype(np.int64) + 1
    values[::97] = 70_000  # a few need 4 bytes
    out, listed, end = write_frames(values, threads=1)
    (offset, length, dtype, count), = listed
    raw = out.getvalue()[offset : offset + length]
    planes = _core.int64_to_planes(values, np.dtype(dtype).itemsize).tobytes()
    assert zstandard.frame_content_size(raw) == len(planes) and count == size
    assert zstandard.ZstdDecompressor().decompress(raw) == planes
    one_call = zstandard.ZstdCompressor(level=1).compress(planes)
    if size < frames.PLANE_BLOCKS_BELOW:
        assert raw != one_call and len(raw) <= len(one_call) + 8 * np.dtype(dtype).itemsize
    else:
        assert raw == one_call  # large frames: one call, as before
    reader = frames.FrameReader(out, frames.check_frames(listed, size, end, "test"), "test")
    np.testing.assert_array_equal(reader.take(size), values)


@pytest.mark.parametrize("size", [1, 1000, frames.PLANE_BLOCKS_BELOW, frames.FRAME])
@pytest.mark.parametrize("signed", [False, True])
def test_planes_from_the_fused_pass_write_the_same_frame(size, signed) -> None:
    """add_planes (the planes the fused pass writes) and add (int64 values) give the
    same bytes and frame list, small frames' plane blocks included."""
    from fastfrac._fused import approximate_chunk

    rng = np.random.default_rng(size)
    x = rng.normal(0, 0.05, size).astype(np.float32)
    if not signed:
        x = np.abs(x)
    result = approximate_chunk(x, 2, planes=(1, 1))  # too narrow for den: the second pass
    fractions = approximate_chunk(x, 2, fractions=True).fractions
    for planes, values, dtype in zip(result.planes, fractions, result.fraction_types):
        by_values = write_frames(values, threads=1)
        out = io.BytesIO()
        out.write(frames.MAGIC)
        writer = frames.FrameWriter(out, threads=1)
        listed: list = []
        writer.add_planes(planes, dtype, listed)
        end = writer.flush()
        writer.close()
        assert (out.getvalue(), listed, end) == (by_values[0].getvalue(), *by_values[1:])


def test_planes_that_are_not_one_frame_are_refused() -> None:
    writer = frames.FrameWriter(io.BytesIO(), threads=1)
    try:
        for planes, dtype in [
            (np.zeros((2, 10), np.uint8), np.dtype(np.int8)),  # rows are not the type's size
            (np.zeros((1, frames.FRAME + 1), np.uint8), np.dtype(np.uint8)),  # more than a frame
            (np.zeros((10, 2), np.uint8).T, np.dtype(np.int16)),  # not C-contiguous
            (np.zeros((1, 10), np.int16), np.dtype(np.uint8)),  # not bytes
        ]:
            with pytest.raises(ValueError, match="not one frame"):
                writer.add_planes(planes, dtype, [])
    finally:
        writer.close()


class _FullDisk(io.BytesIO):
    """A file that takes ``room`` writes, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data) -> int:  # type: ignore[override]
        if self.room == 0:
            raise OSError(28, "No space left on device")
        self.room -= 1
        return super().write(data)


def test_a_failed_write_reaches_the_caller_and_no_later_frame_is_written() -> None:
    """Frames are written on a thread of their own: its error must surface, in order."""
    out = _FullDisk(room=2)
    writer = frames.FrameWriter(out, threads=2)
    listed: list = []
    values = np.arange(frames.FRAME * 6 + 1, dtype=np.int64) % 1000
    with pytest.raises(OSError, match="No space left"):
        writer.add(values, listed)  # blocks on the oldest frames once PENDING are queued
        writer.flush()
    writer.close()
    assert len(listed) == 2  # the two frames that fit, listed at their offsets
    assert [f[0] for f in listed] == [0, listed[0][1]]
    assert out.getbuffer().nbytes == listed[0][1] + listed[1][1]
