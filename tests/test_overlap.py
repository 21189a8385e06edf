"""Reads ahead and writes behind (fastfrac._io.overlap): order, bounded queues, failures."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

from fastfrac._io.overlap import WriteBehind, read_ahead


class _Recorder(io.BytesIO):
    """A file that fails its write number ``fail_at`` (0-based) and records the writing threads."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.fail_at, self.calls, self.threads = fail_at, 0, set()

    def write(self, data) -> int:  # type: ignore[override]
        self.threads.add(threading.get_ident())
        if self.calls == self.fail_at:
            raise OSError(28, "No space left on device")
        self.calls += 1
        return super().write(data)


def test_writes_land_in_order_on_another_thread() -> None:
    out = _Recorder()
    behind = WriteBehind(out, depth=2)
    pieces = [bytes([i]) * (i + 1) for i in range(50)]
    for piece in pieces:
        behind.give(piece)
    behind.write(b"now")  # a buffer the caller reuses: written after the queue, at once
    behind.drain()
    behind.close()
    assert out.getvalue() == b"".join(pieces) + b"now"
    # the given pieces on the writing thread, the direct write on this one
    assert len(out.threads) == 2 and threading.get_ident() in out.threads


def test_a_failed_write_is_raised_and_nothing_after_it_is_written() -> None:
    out = _Recorder(fail_at=3)
    behind = WriteBehind(out, depth=2)
    with pytest.raises(OSError, match="No space left"):
        for i in range(20):
            behind.give(bytes([i]))
        behind.drain()
    behind.close()
    assert out.getvalue() == bytes([0, 1, 2])  # no gap: the writes after the failure never ran


def test_close_drops_what_is_queued() -> None:
    gate = threading.Event()
    out = _Recorder()
    behind = WriteBehind(out, depth=8)
    behind.submit(gate.wait)  # holds the thread until released
    for i in range(5):
        behind.give(bytes([i]))
    gate.set()
    behind.close()
    assert out.getvalue() == b""


@pytest.mark.parametrize("lengths", [[], [7], [4, 4, 2], [1, 9, 3, 3, 8, 1]])
def test_read_ahead_yields_every_range(lengths: list[int]) -> None:
    data = bytes(range(256)) * 4
    offsets = np.cumsum([0, *lengths])[:-1].tolist()
    ranges = [(offset * 3, length) for offset, length in zip(offsets, lengths)]  # gaps between

    def read(buffer: np.ndarray, offset: int) -> None:
        buffer[:] = np.frombuffer(data[offset : offset + buffer.size], np.uint8)

    got = [bytes(piece) for piece in read_ahead(read, ranges)]
    assert got == [data[offset : offset + length] for offset, length in ranges]


def test_read_ahead_raises_the_readers_error_at_its_piece() -> None:
    def read(buffer: np.ndarray, offset: int) -> None:
        if offset == 2:
            raise ValueError("the file shrank")
        buffer[:] = offset

    pieces = read_ahead(read, [(0, 1), (1, 1), (2, 1), (3, 1)])
    assert [int(next(pieces)[0]), int(next(pieces)[0])] == [0, 1]
    with pytest.raises(ValueError, match="shrank"):
        next(pieces)
