"""TensorFlow's log lines kept off the terminal while a fastfrac command runs.

TensorFlow 2.21 logs through absl from C++ before it reads
``TF_CPP_MIN_LOG_LEVEL`` ("All log messages before absl::InitializeLog() is
called are written to STDERR", oneDNN's "custom operations are on", the CPU
feature guard), and TFLite's interpreter prints its own "INFO:" lines; they
land in the middle of the progress display.  No setting silences all of
them, so :func:`quiet_tensorflow` does it at the file-descriptor level:
C code's writes to fd 2 go through a pipe whose reader drops those log
lines and passes every other line on, while Python's ``sys.stderr`` (the
progress display, warnings, fastfrac's own errors) writes straight to the
real stderr.  ``--debug`` turns it off.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator

__all__ = ["is_log_line", "quiet_tensorflow"]

_LOG_LINE = re.compile(
    rb"^(?:"
    rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "  # absl/glog: I0000 00:00:17.5  8695 port.cc:153]
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: "  # the CPU feature guard's second line
    rb"|INFO: Created TensorFlow Lite "  # the TFLite interpreter's delegate notice
    rb")"
)


def is_log_line(line: bytes) -> bool:
    """Whether ``line`` is one of TensorFlow's C++ log lines.

    >>> is_log_line(b"I0000 00:00:1796156676.546181    8695 port.cc:153] oneDNN custom operations are on.")
    True
    >>> is_log_line(b"fastfrac demo: error: no such file")
    False
    """
    return _LOG_LINE.match(line) is not None


def _forward(source: int, target: int) -> None:
    """Copy ``source`` to ``target`` line by line, dropping log lines, until end of file."""
    pending = b""
    while chunk := os.read(source, 65536):
        *lines, pending = (pending + chunk).split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not is_log_line(line))
        if kept:
            os.write(target, kept)
    if pending and not is_log_line(pending):
        os.write(target, pending)
    os.close(source)


@contextlib.contextmanager
def quiet_tensorflow(enabled: bool = True) -> Iterator[None]:
    """Silence TensorFlow's Python and C++ logging inside the block (nothing if not enabled)."""
    if not enabled:
        yield
        return
    # For what does read them: the C++ level (after absl is initialised) and
    # the Python loggers TensorFlow and absl use.
    saved_env = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forwarder = threading.Thread(target=_forward, args=(read_end, real), daemon=True,
                                 name="fastfrac-stderr-filter")
    forwarder.start()
    python_stderr = sys.stderr
    # Python's writes bypass the filter, so a terminal still looks like one (live bars).
    sys.stderr = io.TextIOWrapper(io.FileIO(os.dup(real), "w"), encoding=python_stderr.encoding,
                                  errors="backslashreplace", line_buffering=True)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(real, 2)  # closes the pipe's last write end: the forwarder sees end of file
        forwarder.join(timeout=5)
        os.close(real)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if saved_env is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = saved_env
