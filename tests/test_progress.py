"""--progress: the plain lines a pipe or a log file gets, the bar, and silence."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from fastfrac._progress import Progress, resolve_mode


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_auto_is_a_bar_on_a_terminal_and_plain_elsewhere() -> None:
    assert resolve_mode("auto", _Terminal()) == "bar"
    assert resolve_mode("auto", io.StringIO()) == "plain"
    assert [resolve_mode(m, io.StringIO()) for m in ("bar", "plain", "none")] == ["bar", "plain",
                                                                                  "none"]
    with pytest.raises(ValueError, match="progress must be one of auto, bar, plain, none"):
        resolve_mode("fancy")


def test_progress_plain_writes_a_line_every_interval_with_what_how_far_and_rate() -> None:
    out = io.StringIO()
    with Progress("plain", prefix="job", interval=0.2, stream=out) as show:
        show.start("approximating", total=1000, unit="values")
        for _ in range(10):
            show.advance(50)
            time.sleep(0.07)
        show.rename("approximating dense/kernel")
        show.advance(500)
    lines = out.getvalue().splitlines()
    assert lines[0] == "job: approximating: 0/1,000 values (0 %), 0 s"
    middle = lines[1:-1]
    assert 2 <= len(middle) <= 6, lines  # 0.7 s at one line per 0.2 s of silence
    for line in middle:
        assert re.fullmatch(r"job: approximating: \d+/1,000 values \(\d+ %\), [\d,.]+ values/s, "
                            r"(\d+ s left, )?\d+ s", line), line
    assert re.fullmatch(r"job: approximating dense/kernel: done, 1,000/1,000 values in [\d.]+ s",
                        lines[-1])


def test_progress_none_writes_nothing() -> None:
    out = io.StringIO()
    with Progress("none", stream=out, interval=0.01) as show:
        show.start("a", total=3)
        show.advance(3)
        time.sleep(0.05)
    assert out.getvalue() == ""


def _approximate(tmp_path, *options: str) -> subprocess.CompletedProcess[str]:
    np.savez(tmp_path / "in.npz", w=np.random.default_rng(0).normal(0, 0.05, 50_000).astype(np.float32))
    return subprocess.run(
        [sys.executable, "-m", "fastfrac", "approximate", str(tmp_path / "in.npz"),
         "-o", str(tmp_path / "out.npz"), "-p", "3", *options],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )


def test_progress_plain_lines_from_approximate_without_a_terminal(tmp_path) -> None:
    out = _approximate(tmp_path)  # auto, and stderr is a pipe
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    # Counted in bytes (200 kB of float32), as over a whole checkpoint.
    assert lines[0] == "fastfrac approximate: approximating: 0 B of 200.00 kB (0 %), 0 s"
    assert re.fullmatch(r"fastfrac approximate: w: done, 200.00 kB of 200.00 kB in [\d.]+ s",
                        lines[-1])
    assert "50,000 values" in out.stdout  # the summary is still printed


@pytest.mark.parametrize("options", [["-q"], ["--progress", "none"], ["-q", "--progress", "plain"]])
def test_progress_quiet_and_none_write_nothing_on_stderr(tmp_path, options) -> None:
    out = _approximate(tmp_path, *options)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert (out.stdout == "") == ("-q" in options)


def test_progress_bar_on_request(tmp_path) -> None:
    out = _approximate(tmp_path, "--progress", "bar")
    assert out.returncode == 0 and "fastfrac approximate:" not in out.stderr


def test_progress_option_on_every_long_subcommand() -> None:
    for command in ("approximate", "demo"):
        out = subprocess.run([sys.executable, "-m", "fastfrac", command, "--help"],
                             capture_output=True, text=True, timeout=120)
        assert "--progress {auto,bar,plain,none}" in out.stdout, command
