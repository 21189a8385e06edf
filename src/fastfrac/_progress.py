"""Progress of a long command on stderr: a live bar, plain lines, or nothing.

``fastfrac approximate`` and ``fastfrac demo`` both report through
:class:`Progress`, chosen by their ``--progress`` option:

- ``bar``: a live rich bar (for a terminal);
- ``plain``: one line per step and then one every few seconds, with what is
  running, how far it is and its rate (for a pipe or a log file, where a live
  bar would be a stream of control characters);
- ``none``: nothing;
- ``auto``: ``bar`` when stderr is a terminal, else ``plain``.

It lives in the core room because nothing in it is about a file format or a
model: only tasks with a name, an optional total and a unit.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

__all__ = ["MODES", "Progress", "resolve_mode"]

MODES = ("auto", "bar", "plain", "none")


def resolve_mode(mode: str, stream: Any = None) -> str:
    """``bar``, ``plain`` or ``none``: what ``mode`` means for ``stream`` (default stderr).

    >>> import io
    >>> resolve_mode("auto", io.StringIO()), resolve_mode("bar", io.StringIO())
    ('plain', 'bar')
    """
    if mode not in MODES:
        raise ValueError(f"progress must be one of {', '.join(MODES)}, not {mode!r}")
    if mode != "auto":
        return mode
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "plain"


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:.3g}"


BYTES = "bytes"  # the unit whose amounts are shown as kB, MB, GB


def _quantity(value: float, unit: str) -> str:
    """``value`` of ``unit``, bytes in decimal multiples (what a checkpoint's size is quoted in).

    >>> _quantity(1500, "values"), _quantity(2.5e9, BYTES), _quantity(512, BYTES)
    ('1,500 values', '2.50 GB', '512 B')
    """
    if unit != BYTES:
        return f"{_amount(value)} {unit}".rstrip()
    for size, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if value >= size:
            return f"{value / size:.2f} {name}"
    return f"{value:.0f} B"


class Progress:
    """One task at a time: :meth:`start` a task, :meth:`advance` or :meth:`update` it.

    Parameters
    ----------
    mode : {"auto", "bar", "plain", "none"}
    prefix : str
        Starts every plain line (the command's name).
    interval : float
        Seconds between plain lines while a task runs.
    transient : bool
        Remove the bar when done (the summary that follows says it all).
    stream : file, optional
        Where plain lines go (default: sys.stderr at the time of writing).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with Progress("plain", prefix="demo", stream=out, interval=60) as show:
    ...     show.start("training", total=2, unit="epochs")
    ...     show.update(2, note="loss 0.001")
    >>> print(out.getvalue())  # doctest: +ELLIPSIS
    demo: training: 0/2 epochs (0 %), 0 s
    demo: training: done, 2/2 epochs, loss 0.001 in 0.0 s
    """

    def __init__(self, mode: str = "auto", *, prefix: str = "fastfrac", interval: float = 3.0,
                 transient: bool = False, stream: Any = None) -> None:
        self._mode = resolve_mode(mode, stream)
        self._prefix = prefix
        self._interval = interval
        self._transient = transient
        self._stream = stream
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        # The running task: name, total (None: unknown), unit, done, note, start time.
        self._what = ""
        self._total: float | None = None
        self._unit = ""
        self._done = 0.0
        self._note = ""
        self._started: float | None = None
        self._last = 0.0  # when the last plain line was written

    @property
    def mode(self) -> str:
        """``bar``, ``plain`` or ``none``."""
        return self._mode

    # -- context --------------------------------------------------------------------

    def __enter__(self) -> Progress:
        if self._mode == "bar":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                SpinnerColumn(finished_text="[green]done"),
                TextColumn("{task.description}"),
                BarColumn(bar_width=24),
                TextColumn("{task.fields[count]}"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=self._transient,
            )
            self._bar.start()
        elif self._mode == "plain":
            self._ticker = threading.Thread(target=self._tick, name="fastfrac-progress",
                                            daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish(ok=exc[0] is None)
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._bar is not None:
            self._bar.stop()

    # -- tasks ----------------------------------------------------------------------

    def start(self, what: str, total: float | None = None, unit: str = "") -> None:
        """A new task (the previous one is done); ``total`` None for an unknown length."""
        if self._mode == "none":
            return
        self._finish(ok=True)
        with self._lock:
            self._what, self._total, self._unit = what, total, unit
            self._done, self._note, self._started = 0.0, "", time.monotonic()
        if self._bar is not None:
            self._task = self._bar.add_task(what, total=total, count=self._count(), rate="")
        else:
            self._line()

    def advance(self, n: float = 1) -> None:
        """The running task did ``n`` more units."""
        self.update(self._done + n)

    def update(self, done: float, *, note: str | None = None, what: str | None = None) -> None:
        """The running task has done ``done`` units; optionally a note or a new name."""
        if self._mode == "none" or self._started is None:
            return
        with self._lock:
            self._done = done
            self._note = self._note if note is None else note
            self._what = self._what if what is None else what
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, description=self._what,
                             count=self._count(), rate=self._rate())

    def rename(self, what: str) -> None:
        """What the running task works on now (a tensor's name, say)."""
        self.update(self._done, what=what)

    # -- output ---------------------------------------------------------------------

    def _count(self) -> str:
        if self._total is None:
            return self._note
        if self._unit == BYTES:
            text = f"{_quantity(self._done, BYTES)} of {_quantity(self._total, BYTES)}"
        else:
            text = f"{_amount(self._done)}/{_amount(self._total)} {self._unit}".rstrip()
        return f"{text}, {self._note}" if self._note else text

    def _rate(self) -> str:
        """The bar's rate column: units per second so far (rich's own is a recent average)."""
        if self._started is None or not self._done:
            return ""
        elapsed = time.monotonic() - self._started
        return f"{_quantity(self._done / elapsed, self._unit)}/s" if elapsed > 0 else ""

    def _status(self) -> str:
        assert self._started is not None
        elapsed = time.monotonic() - self._started
        parts = [f"{self._prefix}: {self._what}"]
        if self._total is not None:
            share = 100 * self._done / self._total if self._total else 100
            rate = ""
            if elapsed > 0 and self._done:
                per_second = self._done / elapsed
                rate = f", {_quantity(per_second, self._unit)}/s"
                if self._done < self._total:  # time left at the rate so far
                    rate += f", {(self._total - self._done) / per_second:.0f} s left"
            parts.append(f": {self._count()} ({share:.0f} %){rate}")
        elif self._note:
            parts.append(f": {self._note}")
        parts.append(f", {elapsed:.0f} s")
        return "".join(parts)

    def _line(self, text: str | None = None) -> None:
        with self._lock:
            line = self._status() if text is None else text
            self._last = time.monotonic()
        stream = sys.stderr if self._stream is None else self._stream
        print(line, file=stream, flush=True)

    def _tick(self) -> None:
        """Plain mode: a line for the running task whenever ``interval`` passed without one."""
        while not self._stop.wait(self._interval / 4):
            if self._started is not None and time.monotonic() - self._last >= self._interval:
                self._line()

    def _finish(self, ok: bool) -> None:
        if self._started is None:
            return
        if self._bar is not None and self._task is not None:
            total = self._total if self._total is not None else 1
            done = total if ok else self._done
            self._bar.update(self._task, total=total, completed=done, count=self._count())
            self._bar.stop_task(self._task)
            self._task = None
        elif self._mode == "plain" and ok:
            elapsed = time.monotonic() - self._started
            amount = f", {self._count()}" if self._total is not None else ""
            self._line(f"{self._prefix}: {self._what}: done{amount} in {elapsed:.1f} s")
        self._started = None
