"""Bounded memory: ``fastfrac approximate`` on a 2 GB file stays within the documented budget."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from peak import run_measured

BUDGET_MB = 512  # stated in the README and in approximate --help


@pytest.mark.slow
def test_memory_peak_rss_of_a_2gb_safetensors_file_stays_under_the_budget(tmp_path) -> None:
    count = 2**29  # float32: 2 GiB
    header = json.dumps({"w": {"dtype": "F32", "shape": [count], "data_offsets": [0, 4 * count]}}).encode()
    path = tmp_path / "big.safetensors"
    rng = np.random.default_rng(0)
    try:
        with open(path, "wb") as f:
            f.write(len(header).to_bytes(8, "little") + header)
            for _ in range(count // 2**24):  # streamed: the test itself stays small too
                f.write(rng.normal(0, 0.05, 2**24).astype(np.float32).tobytes())
        run, peak_mb = run_measured([sys.executable, "-m", "fastfrac", "approximate", str(path),
                                     "-o", str(tmp_path / "out.safetensors"), "-p", "2", "-q"],
                                    timeout=900)
        assert run.returncode == 0, run.stderr
        print(f"peak RSS {peak_mb:.0f} MB for a {4 * count >> 20} MB file")
        assert peak_mb < BUDGET_MB
    finally:
        path.unlink(missing_ok=True)
        (tmp_path / "out.safetensors").unlink(missing_ok=True)
