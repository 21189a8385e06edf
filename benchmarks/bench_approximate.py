"""fastfrac.approximate against its pure-Python peers, on weight-like float32 data.

What is measured
----------------
Data: float32 values drawn from N(0, 0.05) with a fixed seed; a run of size n
uses the first n of one 10**6-value array, n = 10**3, 10**4, 10**5, 10**6.
For each precision p in {2, 4} one benchmark group holds, side by side:

``reference``
    ``fastfrac.reference.approximate(x, p)``: the seed's loop over
    ``fractions.Fraction`` in decimal mode.  The baseline of every speed-up,
    for both modes of the kernel.
``quicktions``
    The same loop over ``quicktions.Fraction`` (decimal mode, same bound).
``kernel-decimal``, ``kernel-exact``
    ``fastfrac.approximate(x, p, mode=...)`` on one thread (``threads=1``
    where the function takes that argument).

The kernels are timed with pytest-benchmark's calibrated rounds.  The
pure-Python peers are timed with ``benchmark.pedantic``: 3 rounds up to
10**4 values, 1 round above.  At n = 10**6 the peers run on the first 10**5
values only and their time is multiplied by 10 (a per-element loop, so its
time is linear in n); ``extra_info`` records ``n_timed`` and ``scale``.  The
speed-up printed under ``--benchmark`` is the reference's median time (so
scaled) divided by the other's median time, same p and n.

Correctness: every kernel output is compared with ``fastfrac.reference`` on
the data it benchmarks (all of it without ``--benchmark``, where n is 10**3
only and nothing is timed; the first 10**4 values under ``--benchmark``),
and the quicktions loop with the reference on its timed slice.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import quicktions

import fastfrac
from fastfrac import reference

FULL_SIZES = (10**3, 10**4, 10**5, 10**6)
QUICK_SIZES = (10**3,)
PRECISIONS = (2, 4)
PEER_MAX = 10**5  # the pure-Python peers time at most this many values
CHECK_MAX = 10**4  # under --benchmark, kernels are checked on this prefix
CAP = 2**31 - 1  # int32 output, the default
ONE_THREAD = {"threads": 1}

_REFERENCE: dict[tuple[int, str, int], fastfrac.Fractions] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "n" in metafunc.fixturenames:
        timed = metafunc.config.getoption("ff_benchmark", default=False)
        sizes = FULL_SIZES if timed else QUICK_SIZES
        metafunc.parametrize("n", sizes, ids=[f"n=1e{round(math.log10(n))}" for n in sizes])


@pytest.fixture(scope="module")
def weights() -> np.ndarray:
    rng = np.random.default_rng(20250101)
    x = rng.normal(0.0, 0.05, FULL_SIZES[-1]).astype(np.float32)
    x.flags.writeable = False
    return x


def quicktions_approximate(x: np.ndarray, p: int) -> fastfrac.Fractions:
    """fastfrac.reference.approximate's loop (decimal mode, int32) over quicktions.Fraction."""
    nums, dens = [], []
    with np.errstate(over="ignore"):
        for v in x:
            if v == 0:
                bound = 1
            else:
                q = 10**p / abs(v)
                bound = CAP if math.isinf(q) else min(max(int(q), 1), CAP)
            f = quicktions.Fraction(str(v)).limit_denominator(bound)
            nums.append(f.numerator)
            dens.append(f.denominator)
    return fastfrac.Fractions(np.array(nums, np.int32), np.array(dens, np.int32))


def reference_on(x: np.ndarray, p: int, mode: str) -> fastfrac.Fractions:
    """fastfrac.reference.approximate on a prefix of the data, computed once."""
    key = (p, mode, x.size)
    if key not in _REFERENCE:
        _REFERENCE[key] = reference.approximate(x, p, mode=mode)
    return _REFERENCE[key]


def assert_same(got: fastfrac.Fractions, want: fastfrac.Fractions, what: str) -> None:
    m = want.num.size
    np.testing.assert_array_equal(got.num[:m], want.num, err_msg=what)
    np.testing.assert_array_equal(got.den[:m], want.den, err_msg=what)


def setup_group(benchmark: Any, role: str, mode: str, p: int, n: int, n_timed: int) -> str:
    group = f"approximate float32 N(0, 0.05) p={p} n={n:.0e}"
    benchmark.group = group
    benchmark.extra_info.update(
        role=role, mode=mode, p=p, n=n, n_timed=n_timed, scale=n / n_timed, threads=1
    )
    return group


def peer_slice(weights: np.ndarray, n: int) -> np.ndarray:
    return weights[: min(n, PEER_MAX)]


def peer_rounds(n_timed: int) -> int:
    return 3 if n_timed <= 10**4 else 1


@pytest.mark.parametrize("p", PRECISIONS, ids=lambda p: f"p={p}")
def test_reference(benchmark, speedup_log, weights, p, n):
    x = peer_slice(weights, n)
    group = setup_group(benchmark, "reference", "decimal", p, n, x.size)
    result = benchmark.pedantic(
        reference.approximate, args=(x, p), rounds=peer_rounds(x.size), iterations=1
    )
    assert result.num.shape == x.shape
    _REFERENCE[(p, "decimal", x.size)] = result
    speedup_log(benchmark, group=group, role="reference", scale=n / x.size)


@pytest.mark.parametrize("p", PRECISIONS, ids=lambda p: f"p={p}")
def test_quicktions(benchmark, speedup_log, weights, p, n):
    x = peer_slice(weights, n)
    group = setup_group(benchmark, "quicktions", "decimal", p, n, x.size)
    result = benchmark.pedantic(
        quicktions_approximate, args=(x, p), rounds=peer_rounds(x.size), iterations=1
    )
    assert_same(result, reference_on(x, p, "decimal"), f"quicktions p={p} n={x.size}")
    speedup_log(benchmark, group=group, role="quicktions", scale=n / x.size)


@pytest.mark.parametrize("mode", ["decimal", "exact"])
@pytest.mark.parametrize("p", PRECISIONS, ids=lambda p: f"p={p}")
def test_kernel(benchmark, speedup_log, weights, p, n, mode):
    x = weights[:n]
    group = setup_group(benchmark, f"kernel-{mode}", mode, p, n, n)
    result = benchmark(fastfrac.approximate, x, p, mode=mode, **ONE_THREAD)
    assert result.num.shape == x.shape and result.num.dtype == np.int32
    checked = x[: min(n, CHECK_MAX)]
    assert_same(result, reference_on(checked, p, mode), f"kernel {mode} p={p} n={n}")
    speedup_log(benchmark, group=group, role=f"kernel-{mode}")
