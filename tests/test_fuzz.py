"""The readers' fuzzing harness (tests/fuzz/): kept regressions, the invariants, a bounded run.

CI runs each target (safetensors, npz, h5, keras) for FUZZ_RUNS executions
(default 3000, about 10-20 s a target on one core) from valid seed files;
longer runs by hand are described in tests/fuzz/fuzz_readers.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent / "fuzz"
sys.path.insert(0, str(FUZZ))

import harness
from peak import run_measured

RUNS = int(os.environ.get("FUZZ_RUNS", "3000"))
REGRESSIONS = sorted((FUZZ / "regressions").glob("*/*"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fuzz_regression(path: Path, tmp_path: Path) -> None:
    """Every input the fuzzer once broke the command with now keeps every invariant.

    Most end in a one-line error; h5/huge-layer-names-attribute (a damaged
    string that made HDF5 read for minutes) is approximated, since the
    reader no longer reads that attribute; h5/damaged-global-heap-index
    (HDF5 never returns from reading a layer's name) ends when the reader's
    deadline kills its metadata reading; h5/segfault-writing-a-damaged-dataset
    (HDF5 segfaults in H5Dwrite) is refused when the forked rehearsal of the
    writes dies of the signal.  check_one itself raises on a
    traceback, a second error line or a file left behind.
    """
    assert harness.check_one(path.parent.name, path.read_bytes(), tmp_path / "run") in (0, 1)


def test_regressions_are_kept() -> None:
    assert {p.parent.name for p in REGRESSIONS} >= {"npz", "keras", "h5"}


@pytest.mark.parametrize("target", list(harness.TARGETS))
def test_seeds_are_approximated(target: str, tmp_path: Path) -> None:
    for seed in harness.seeds(target, tmp_path / "seeds"):
        assert harness.check_one(target, seed.read_bytes(), tmp_path / "run") == 0, seed


def test_the_harness_catches_what_it_must(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def two_lines(argv: list[str]) -> int:
        print("fastfrac approximate: error: a\nb", file=sys.stderr)
        return 1

    def leaves_a_file(argv: list[str]) -> int:
        (tmp_path / "run" / ".out.npz.fastfrac-1-abcdefgh.tmp").write_bytes(b"")
        print("fastfrac approximate: error: x", file=sys.stderr)
        return 1

    def crashes(argv: list[str]) -> int:
        raise KeyError("boom")

    for fake, error in ((two_lines, harness.InvariantBroken), (leaves_a_file, harness.InvariantBroken),
                        (crashes, KeyError)):
        monkeypatch.setattr(harness, "main", fake)
        with pytest.raises(error):
            harness.check_one("npz", b"PK", tmp_path / "run")


@pytest.mark.parametrize("target", list(harness.TARGETS))
def test_fuzz_target_bounded_run(target: str, tmp_path: Path) -> None:
    # Under the launcher, libFuzzer's -rss_limit_mb sees the fuzzer's own memory,
    # not the high-water mark of this test process (see tests/peak.py).
    done, _ = run_measured(
        [sys.executable, str(FUZZ / "fuzz_readers.py"), target, f"-runs={RUNS}", "-seed=1",
         "-rss_limit_mb=1024", "-timeout=20", f"-artifact_prefix={tmp_path}/", str(tmp_path / "corpus")],
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Done {RUNS} runs" in done.stderr
