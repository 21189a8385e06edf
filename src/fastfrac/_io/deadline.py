"""Run a call that may never return in a forked child, and give up on it after a deadline.

HDF5 can spin for minutes, or for ever, inside one C call on a damaged file:
the fuzzer found a variable-length string attribute whose global-heap
object index was corrupt, and ``attrs["name"]`` did not return in 100 s.
No Python-level timeout can interrupt such a call (h5py holds its lock and
the GIL), so the Keras reader does its metadata reads in a child process
that is killed at the deadline, and reports a one-line error instead of
hanging.  HDF5 can also crash outright (a segfault in H5Dwrite on damaged
chunk storage, also found by the fuzzer): the child's death by a signal is
reported the same way.  The child is forked, not spawned, so it costs a few milliseconds
and needs no re-import; it only reads and sends back a pickled result.
Where ``os.fork`` does not exist the call simply runs in-process.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import warnings
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DEFAULT_SECONDS", "call_with_deadline"]

T = TypeVar("T")

# Reading a Keras file's metadata takes milliseconds; a minute is past any
# honest file.  FASTFRAC_HDF5_DEADLINE (seconds) changes it (the fuzzer uses less).
DEFAULT_SECONDS = 60.0


def _seconds() -> float:
    text = os.environ.get("FASTFRAC_HDF5_DEADLINE", "").strip()
    try:
        value = float(text) if text else DEFAULT_SECONDS
    except ValueError:
        value = DEFAULT_SECONDS
    return value if value > 0 else DEFAULT_SECONDS


# The signals a crash inside HDF5 raises.
_CRASH_SIGNALS = tuple(getattr(signal, name) for name in ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGFPE",
                                                          "SIGILL") if hasattr(signal, name))


def _die_by_signals() -> None:
    """In the child: a crash kills it, with none of the parent's crash handlers.

    Python's faulthandler (``python -X faulthandler``) would print a C stack on
    the user's terminal from the child, and a fuzzer's handler would report
    HDF5's crash as its own; the parent reports the death in one line instead.
    """
    import faulthandler

    faulthandler.disable()
    for number in _CRASH_SIGNALS:
        signal.signal(number, signal.SIG_DFL)


def call_with_deadline(
    work: Callable[[], T],
    on_timeout: Callable[[float], BaseException],
    on_crash: Callable[[str], BaseException] | None = None,
) -> T:
    """``work()``'s result (or its exception), computed in a child killed after the deadline.

    ``on_timeout(seconds)`` makes the exception raised when the child did not
    finish in time, ``on_crash(how)`` the one raised when the child ended
    without a result (HDF5 can segfault on a damaged file): ``how`` is
    ``"signal N"`` or ``"exit status N"`` (a signal handler of the process,
    such as a fuzzer's, may turn the signal into an exit).  The result must
    be picklable.

    >>> call_with_deadline(lambda: 6 * 7, lambda s: TimeoutError(s))
    42
    """
    if not hasattr(os, "fork"):
        return work()
    seconds = _seconds()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork in a threaded process; the child runs
        # only work() and _exit, never the parent's other threads' locks.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        _die_by_signals()
        try:
            outcome: tuple[str, object] = ("ok", work())
        except BaseException as exc:  # noqa: BLE001 (sent to the parent, which raises it)
            outcome = ("error", exc)
        try:
            payload = pickle.dumps(outcome)
        except Exception as exc:  # noqa: BLE001
            payload = pickle.dumps(("error", RuntimeError(f"unpicklable result: {exc!r}")))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            ready = select.select([read_end], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise on_timeout(seconds)
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    if not chunks:
        if on_crash is not None:
            how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                   else f"exit status {os.waitstatus_to_exitcode(status)}")
            raise on_crash(how)
        raise RuntimeError("the reading process ended without a result")
    status, value = pickle.loads(b"".join(chunks))
    if status == "error":
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]
