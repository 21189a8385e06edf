"""float16 and bfloat16 inputs against float32 on the same values: ns per value, one thread.

The half-precision issue asks that half inputs be no slower per value than
float32 inputs.  Workload: 10**6 weights from N(0, 0.05) drawn once, cast to
each type (so the three arrays hold nearly the same numbers), p = 2 and 4,
both modes, int32 output, one thread, on every kernel path this CPU runs.

``python benchmarks/bench_half.py [rounds]`` prints medians and best rounds,
the rounds interleaved (every type and path once per round) so that the
drift of a shared machine hits all of them alike.  Under ``pytest
--benchmark`` each case is timed by pytest-benchmark in the group of its
path, mode and p; plain ``pytest`` runs the cases untimed on 2000 values as
a check that every type gives the reference's fractions.
"""

from __future__ import annotations

import statistics
import sys
import time

import ml_dtypes
import numpy as np
import pytest

import fastfrac
from fastfrac import reference
from fastfrac._isa import core as _core

N = 10**6
TYPES = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def weights(n: int, name: str) -> np.ndarray:
    return np.random.default_rng(0).normal(0.0, 0.05, n).astype(TYPES[name])


@pytest.fixture
def n(request: pytest.FixtureRequest) -> int:
    return N if request.config.getoption("ff_benchmark", default=False) else 2000


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("mode", ("decimal", "exact"))
@pytest.mark.parametrize("p", (2, 4))
def test_half_against_float32(benchmark, isa, n, name, mode, p) -> None:
    x = weights(n, name)
    benchmark.group = f"{isa} {mode} p={p}"
    benchmark.extra_info["dtype"] = name
    got = benchmark(fastfrac.approximate, x, p, mode=mode, threads=1)
    if n <= 2000:
        want = reference.approximate(x, p, mode=mode)
        assert np.array_equal(got.num, want.num) and np.array_equal(got.den, want.den)


def main(rounds: int = 11) -> None:
    arrays = {name: weights(N, name) for name in TYPES}
    # The float16 values held as float32: how long those numbers take on the
    # float32 path, which tells the values' cost from the half load path's.
    arrays["f16 as f32"] = arrays["float16"].astype(np.float32)
    cases = [(isa, mode, p) for isa in fastfrac.available_isas() for mode in ("decimal", "exact")
             for p in (2, 4)]
    times: dict[tuple, list[float]] = {(*c, name): [] for c in cases for name in arrays}
    before = _core.selected_isa()
    try:
        for _ in range(rounds):
            for isa, mode, p in cases:
                _core._force_isa(isa)
                for name, x in arrays.items():
                    start = time.perf_counter()
                    fastfrac.approximate(x, p, mode=mode, threads=1)
                    times[(isa, mode, p, name)].append(time.perf_counter() - start)
    finally:
        _core._force_isa(before)
    print(f"ns per value, {N:,} values from N(0, 0.05), one thread, int32 output, "
          f"{rounds} interleaved rounds: median (best)")
    print(f"{'path':8} {'mode':8} {'p':>2}  " + "  ".join(f"{name:>15}" for name in arrays)
          + "  slowest half / float32")
    for isa, mode, p in cases:
        cells, medians = [], {}
        for name in arrays:
            t = times[(isa, mode, p, name)]
            medians[name] = statistics.median(t)
            cells.append(f"{1e9 * medians[name] / N:6.1f} ({1e9 * min(t) / N:5.1f})")
        worst = max(medians["float16"], medians["bfloat16"]) / medians["float32"]
        print(f"{isa:8} {mode:8} {p:>2}  " + "  ".join(f"{c:>15}" for c in cells) + f"  {worst:10.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 11)
