"""Coverage-guided fuzzing of the model-file readers with atheris (libFuzzer for Python).

Run by hand, for as long as you like (``-runs=N`` or ``-max_total_time=S``)::

    PYTHONPATH=src python tests/fuzz/fuzz_readers.py npz -runs=1000000 \\
        -rss_limit_mb=1024 -timeout=20 /tmp/corpus-npz

TARGET is safetensors, npz, h5 or keras; the corpus folder (created and
seeded with valid files if empty) keeps what libFuzzer finds interesting.
An input that breaks an invariant (:func:`harness.check_one`) or raises is
written to ``crash-<sha1>`` (``-artifact_prefix``); copy it to
``tests/fuzz/regressions/<target>/`` so that tests/test_fuzz.py replays it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["fastfrac"]):
    # Imported here, not lazily, so that their code is instrumented for coverage.
    import harness

    import fastfrac._io.keras_h5
    import fastfrac._io.npz
    import fastfrac._io.rewrite
    import fastfrac._io.safetensors  # noqa: F401


def main() -> None:
    target = sys.argv.pop(1)
    if target not in harness.TARGETS:
        sys.exit(f"TARGET must be one of {', '.join(harness.TARGETS)}, not {target!r}")
    corpus = next((Path(a) for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None and (not corpus.exists() or corpus.is_dir() and not any(corpus.iterdir())):
        harness.seeds(target, corpus)
    # tmpfs when there is one: the command writes several files per input.
    scratch = Path(tempfile.mkdtemp(prefix=f"fastfrac-fuzz-{target}-",
                                    dir="/dev/shm" if os.path.isdir("/dev/shm") else None))

    def one_input(data: bytes) -> None:
        harness.check_one(target, data, scratch / "run")

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
