"""Run a command and measure its peak resident memory, honestly.

``ru_maxrss`` is a high-water mark that survives ``execve`` and that
``RUSAGE_CHILDREN`` keeps over every child ever waited for.  A command
started straight from pytest therefore inherits the test process's own peak
(well over 1 GB once TensorFlow is loaded), and libFuzzer's ``-rss_limit_mb``
and any RUSAGE_CHILDREN reading see that instead of the command's.  So the
command runs under a small launcher: forked from the launcher, its peak
starts from the launcher's few MB, and the launcher reports it.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

_LAUNCHER = """
import resource, subprocess, sys
status = subprocess.call(sys.argv[1:])
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write(f"\\nPEAK-RSS-KB {status} {kb}\\n")
sys.exit(status)
"""


def run_measured(argv: list[str], **kwargs: Any) -> tuple[subprocess.CompletedProcess[str], float]:
    """(the finished command, its peak RSS in MB); kwargs go to subprocess.run.

    The command's stderr is returned without the launcher's report line.
    """
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *argv], capture_output=True,
                          text=True, **kwargs)
    head, _, tail = done.stderr.rpartition("PEAK-RSS-KB ")
    status, kb = tail.split()
    done.stderr = head.rstrip("\n")
    assert int(status) == done.returncode
    return done, int(kb) / 1024
