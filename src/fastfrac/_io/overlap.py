"""File I/O overlapped with the kernel: reads ahead and writes behind, each in order on a thread.

The rewriters read a chunk, approximate it and write the result.  Done one
after the other on the calling thread, every read and write is a gap between
two runs of the kernel's team, and on a 2-core machine that gap is slow: the
team's idle thread spins (libgomp waits actively for a while) and the
container's compression threads are busy, so the calling thread gets a
fraction of a core.  Measured on the 1.2 GB synthetic checkpoint of
benchmarks/bench_checkpoint.py with ``--fractions`` (2 threads): the model
file's writes took 2.0 s of the calling thread, against 0.35 s without a
container; moved behind, its reads took 2.1 s instead of 0.3 s.  With both
here, the calling thread only approximates.

:class:`WriteBehind` queues at most ``depth`` writes (each holds its chunk),
:func:`read_ahead` fills one buffer while the caller works on the other, so
memory stays bounded.  The first write that fails fails every later one, and
its error reaches the caller at the next call: nothing is written after a gap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["DEPTH", "WriteBehind", "read_ahead"]

# Queued writes: a chunk of the largest type is 8 MB (2**20 float64 values).
DEPTH = 4


class WriteBehind:
    """Run writes to one file in order on a thread of its own; :meth:`close` before the file.

    >>> import io
    >>> out = io.BytesIO()
    >>> behind = WriteBehind(out)
    >>> behind.give(b"ab"); behind.give(b"cd"); behind.drain()
    >>> behind.close(); out.getvalue()
    b'abcd'
    """

    def __init__(self, out: Any, *, depth: int = DEPTH) -> None:
        self._out, self._depth = out, depth
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastfrac-write")
        self._pending: deque[Future[None]] = deque()
        self._failed = False

    def submit(self, write: Callable[[], None]) -> None:
        """Queue ``write()`` behind the writes already queued (blocks while ``depth`` are)."""
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()  # raises what that write raised
        self._pending.append(self._thread.submit(self._run, write))

    def give(self, data: Any) -> None:
        """Queue ``out.write(data)``; the caller hands ``data`` over and must not change it."""
        self.submit(lambda: self._out.write(data))

    def write(self, data: Any) -> None:
        """Write ``data`` now, after what is queued (for buffers the caller reuses)."""
        self.drain()
        self._out.write(data)

    def _run(self, write: Callable[[], None]) -> None:
        if self._failed:  # an earlier write was lost: the file is being abandoned
            raise RuntimeError("an earlier write to this file failed")
        try:
            write()
        except BaseException:
            self._failed = True
            raise

    def drain(self) -> None:
        """Wait until every queued write is done; raises the first failure."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Drop what is still queued and stop the thread (call :meth:`drain` first to keep it)."""
        self._failed = True  # a queued write that starts now does nothing
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._thread.shutdown(wait=True)


def read_ahead(read: Callable[[np.ndarray, int], None],
               ranges: Sequence[tuple[int, int]]) -> Iterator[np.ndarray]:
    """Each ``(offset, length)`` of ``ranges`` in turn, read by ``read(buffer, offset)``
    on a thread while the caller works on the range before.

    Two buffers of the longest length take turns: a yielded buffer may be
    refilled as soon as the caller asks for the next one, so it must be done
    with it by then (the kernel makes new arrays for its results; bytes kept
    as they are must be copied).

    >>> data = bytes(range(10))
    >>> def read(buffer, offset): buffer[:] = np.frombuffer(data[offset:offset + buffer.size], np.uint8)
    >>> [bytes(b) for b in read_ahead(read, [(0, 4), (4, 4), (8, 2)])]
    [b'\\x00\\x01\\x02\\x03', b'\\x04\\x05\\x06\\x07', b'\\x08\\t']
    """
    if not ranges:
        return
    longest = max(length for _, length in ranges)
    buffers = [np.empty(longest, np.uint8), np.empty(longest if len(ranges) > 1 else 0, np.uint8)]

    def fill(i: int) -> Future[None]:
        offset, length = ranges[i]
        return reader.submit(read, buffers[i % 2][:length], offset)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastfrac-read") as reader:
        ahead = fill(0)
        for i in range(len(ranges)):
            ahead.result()  # raises what the read raised
            if i + 1 < len(ranges):  # into the other buffer: the caller is done with it
                ahead = fill(i + 1)
            yield buffers[i % 2][: ranges[i][1]]
