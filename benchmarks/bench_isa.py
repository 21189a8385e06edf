"""Kernel paths side by side: serial vs AVX2 vs AVX-512, 1 vs 2 threads, and peers.

Workload: float32 weights drawn from N(0, 0.05), the acceptance case (and,
in the printed table, the same values as float64 on the best path).  The
peers are the per-element Fraction loop (fastfrac.reference, the baseline of
every ratio), quicktions when installed, and a plain numba @njit loop
(exact mode, int64 Euclid, written below) when numba is installed.

Under ``pytest --benchmark`` (see the root conftest.py) every test is timed
at 10**6 values and grouped so that the paths of one workload sit together,
and the summary prints each one's speed-up over the reference loop of its
group (timed on a prefix of N_REFERENCE values and scaled, a per-element
loop being linear).  Plain ``pytest`` runs them untimed on 2000 values, as
checks that every path and peer agrees with fastfrac.reference.
``python benchmarks/bench_isa.py [repeats]`` prints the acceptance table
(medians and best of several rounds, all in one process) and decimal mode's
split: the shortest-digits step timed alone (``_core.shortest_digits``, on
each path) as a share of the whole decimal search.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fastfrac
from fastfrac import _core, reference

N = 10**6
N_REFERENCE = 5_000  # the Fraction loop runs on a prefix; its figure is per value


def weights(n: int = N, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.05, n).astype(np.float32)


# ---- the numba peer: exact mode, int64 Euclid ----------------------------------------

try:  # numba is optional: the peer is skipped without it
    from numba import njit
except ImportError:  # pragma: no cover
    njit = None


def _numba_exact_py(x: np.ndarray, p: int, num: np.ndarray, den: np.ndarray) -> None:
    """Fraction(float(v)).limit_denominator(int(float32(10**p) / |v|)) with int64 arithmetic.

    Valid for float32 weights above about 1e-11 (the binary denominator must
    fit int64), which is all of an N(0, 0.05) sample in practice.
    """
    pow10 = np.float32(10.0**p)
    for i in range(x.size):
        v = x[i]
        if v == 0:
            num[i], den[i] = 0, 1
            continue
        q = pow10 / abs(v)  # in float32, as the seed's expression on a float32 scalar
        md = 2147483647 if q >= 2147483647.0 else max(int(q), 1)
        mant, ex = math.frexp(float(v))  # v = mant * 2**ex, 0.5 <= |mant| < 1
        n = int(mant * 16777216.0)  # 2**24: an exact integer for float32 input
        shift = 24 - ex
        if shift <= 0:
            n, big_m = n << -shift, 1
        else:
            big_m = 1 << shift
        d = big_m
        p0, q0, p1, q1 = 0, 1, 1, 0
        while True:
            a = n // d
            q2 = q0 + a * q1
            if q2 > md:
                break
            p0, q0, p1, q1 = p1, q1, p0 + a * p1, q2
            n, d = d, n - a * d
            if d == 0:
                break
        if d == 0:
            num[i], den[i] = p1, q1
            continue
        k = (md - q0) // q1
        qk = q0 + k * q1
        if d <= (big_m // 2) // qk:  # CPython's tie rule 2 d qk <= M, without overflow
            num[i], den[i] = p1, q1
        else:
            num[i], den[i] = p0 + k * p1, qk


numba_exact = njit(cache=False, nogil=True)(_numba_exact_py) if njit is not None else None


def run_numba(x: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    num = np.empty(x.size, np.int64)
    den = np.empty(x.size, np.int64)
    numba_exact(x, p, num, den)
    return num, den


def run_quicktions(x: np.ndarray, p: int) -> list[Any]:
    import quicktions

    with np.errstate(over="ignore"):
        return [
            quicktions.Fraction(str(v)).limit_denominator(max(int(10**p / abs(v)), 1)) if v else 0
            for v in x
        ]


# ---- pytest-benchmark (the root conftest.py's --benchmark switch) --------------------


@pytest.fixture(scope="module")
def n(request: pytest.FixtureRequest) -> int:
    """10**6 values when timed (pytest --benchmark), a quick 2000 otherwise."""
    return N if request.config.getoption("ff_benchmark", default=False) else 2000


@pytest.fixture(scope="module")
def w(n: int) -> np.ndarray:
    x = weights(n)
    x.flags.writeable = False
    return x


@pytest.fixture(scope="module")
def expected(w: np.ndarray) -> Callable[[int, str], fastfrac.Fractions]:
    """fastfrac.reference.approximate on a prefix, computed once per (p, mode)."""
    cache: dict[tuple[int, str], fastfrac.Fractions] = {}

    def get(p: int, mode: str) -> fastfrac.Fractions:
        if (p, mode) not in cache:
            cache[p, mode] = reference.approximate(w[:N_REFERENCE], p, mode=mode)
        return cache[p, mode]

    return get


def _group(benchmark: Any, what: str, n: int, **info: Any) -> str:
    group = f"isa: {what} n={n:.0e}"
    benchmark.group = group
    benchmark.extra_info.update(n=n, **info)
    return group


def _check(got: fastfrac.Fractions, want: fastfrac.Fractions) -> None:
    m = want.num.size
    np.testing.assert_array_equal(got.num[:m], want.num)
    np.testing.assert_array_equal(got.den[:m], want.den)


@pytest.mark.parametrize("p", [2, 4], ids=lambda p: f"p={p}")
def test_reference_loop(benchmark, speedup_log, w, n, p) -> None:
    """The baseline of the group: the seed's per-element Fraction loop, on a prefix, scaled."""
    x = w[:N_REFERENCE]
    group = _group(benchmark, f"approximate float32 N(0, 0.05) p={p}", n, role="reference",
                   n_timed=x.size, scale=n / x.size)
    benchmark.pedantic(reference.approximate, args=(x, p), rounds=1, iterations=1)
    speedup_log(benchmark, group=group, role="reference", scale=n / x.size)


@pytest.mark.parametrize("p", [2, 4], ids=lambda p: f"p={p}")
@pytest.mark.parametrize("mode", ["decimal", "exact"])
def test_paths(benchmark, speedup_log, w, n, expected, isa, mode, p) -> None:
    """One kernel path, one thread."""
    group = _group(benchmark, f"approximate float32 N(0, 0.05) p={p}", n, role=f"{isa}-{mode}",
                   threads=1)
    got = benchmark.pedantic(fastfrac.approximate, args=(w, p),
                             kwargs=dict(mode=mode, threads=1), rounds=5, warmup_rounds=1)
    speedup_log(benchmark, group=group, role=f"{isa}-{mode}")
    _check(got, expected(p, mode))


@pytest.mark.parametrize("p", [2, 4], ids=lambda p: f"p={p}")
@pytest.mark.parametrize("mode", ["decimal", "exact"])
def test_two_threads(benchmark, speedup_log, w, n, expected, mode, p) -> None:
    """The best path on two threads (compare with its one-thread column)."""
    role = f"{mode}-2-threads"
    group = _group(benchmark, f"approximate float32 N(0, 0.05) p={p}", n, role=role, threads=2)
    got = benchmark.pedantic(fastfrac.approximate, args=(w, p),
                             kwargs=dict(mode=mode, threads=2), rounds=5, warmup_rounds=1)
    speedup_log(benchmark, group=group, role=role)
    _check(got, expected(p, mode))


@pytest.mark.skipif(numba_exact is None, reason="numba is not installed")
@pytest.mark.parametrize("p", [2, 4], ids=lambda p: f"p={p}")
def test_numba_exact(benchmark, speedup_log, w, n, p) -> None:
    """The compiled scalar peer: a numba loop with int64 Euclid (exact mode)."""
    run_numba(w[:10], p)  # compile outside the timing
    group = _group(benchmark, f"approximate float32 N(0, 0.05) p={p}", n, role="numba-exact")
    num, den = benchmark.pedantic(run_numba, args=(w, p), rounds=5, warmup_rounds=1)
    speedup_log(benchmark, group=group, role="numba-exact")
    ours = fastfrac.approximate(w, p, mode="exact", threads=1)
    np.testing.assert_array_equal(num, ours.num)
    np.testing.assert_array_equal(den, ours.den)


@pytest.mark.parametrize("ftype", ["float32", "float64"])
def test_shortest_digits(benchmark, w, n, isa, ftype) -> None:
    """Decimal mode's first step alone (compare with the decimal columns); float64
    is the same values widened, whose digits run to 17."""
    x = w.astype(ftype)
    _group(benchmark, f"shortest digits {ftype} N(0, 0.05)", n, role=isa, threads=1)
    got = benchmark.pedantic(_core.shortest_digits, args=(x,), rounds=5, warmup_rounds=1)
    k = slice(0, 2000)
    _core._force_isa("serial")
    try:
        want = _core.shortest_digits(x[k])
    finally:
        _core._force_isa(isa)
    np.testing.assert_array_equal(got[0][k], want[0])
    np.testing.assert_array_equal(got[1][k], want[1])


@pytest.fixture(scope="module")
def fractions_of(w: np.ndarray) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def get(p: int) -> tuple[np.ndarray, np.ndarray]:
        if p not in cache:
            cache[p] = tuple(fastfrac.approximate(w, p, dtype=np.int64))
        return cache[p]

    return get


@pytest.mark.parametrize("p", [2, 4], ids=lambda p: f"digits={2 * p}")
def test_to_float_reference(benchmark, speedup_log, n, fractions_of, p) -> None:
    num, den = fractions_of(p)
    k = slice(0, N_REFERENCE)
    group = _group(benchmark, f"to_float digits={2 * p}", n, role="reference",
                   n_timed=N_REFERENCE, scale=n / N_REFERENCE)
    benchmark.pedantic(reference.to_float, args=(num[k], den[k], 2 * p), rounds=1, iterations=1)
    speedup_log(benchmark, group=group, role="reference", scale=n / N_REFERENCE)


def _time_to_float(benchmark, speedup_log, n, fractions_of, p, role, threads) -> None:
    num, den = fractions_of(p)
    group = _group(benchmark, f"to_float digits={2 * p}", n, role=role, threads=threads)
    got = benchmark.pedantic(fastfrac.to_float, args=(num, den),
                             kwargs=dict(digits=2 * p, threads=threads), rounds=5, warmup_rounds=1)
    speedup_log(benchmark, group=group, role=role)
    k = slice(0, N_REFERENCE)
    assert got[k].tobytes() == reference.to_float(num[k], den[k], 2 * p).tobytes()


@pytest.mark.parametrize("p", [2, 4], ids=lambda p: f"digits={2 * p}")
def test_to_float_paths(benchmark, speedup_log, n, fractions_of, isa, p) -> None:
    """One to_float path, one thread."""
    _time_to_float(benchmark, speedup_log, n, fractions_of, p, role=isa, threads=1)


@pytest.mark.parametrize("p", [2, 4], ids=lambda p: f"digits={2 * p}")
def test_to_float_two_threads(benchmark, speedup_log, n, fractions_of, p) -> None:
    """to_float on the best path and two threads (compare with its one-thread column)."""
    _time_to_float(benchmark, speedup_log, n, fractions_of, p, role="2-threads", threads=2)


# ---- the acceptance table: python benchmarks/bench_isa.py ------------------------------


def main(repeat: int = 7) -> None:
    """Time every path and peer in interleaved rounds (load drift hits all alike).

    Prints each case's median and best round; on a shared machine the best
    round is the one least disturbed by other processes (as timeit argues),
    so the ratios are given for both.
    """
    x = weights()
    small = x[:N_REFERENCE]
    num2, den2 = fastfrac.approximate(x, 2, dtype=np.int64)
    num4, den4 = fastfrac.approximate(x, 4, dtype=np.int64)
    k = slice(0, N_REFERENCE)
    best = fastfrac.available_isas()[0]
    cases: list[tuple[str, str | None, Callable[[], Any], int]] = []  # name, isa, run, values

    def add(name: str, isa: str | None, run: Callable[[], Any], n: int) -> None:
        cases.append((name, isa, run, n))

    for p in (2, 4):
        add(f"reference decimal p={p}", None, lambda p=p: reference.approximate(small, p),
            small.size)
    add("reference to_float digits=4", None, lambda: reference.to_float(num2[k], den2[k], 4),
        N_REFERENCE)
    add("reference to_float digits=8", None, lambda: reference.to_float(num4[k], den4[k], 8),
        N_REFERENCE)
    add("quicktions decimal p=2", None, lambda: run_quicktions(small, 2), small.size)
    if numba_exact is not None:
        run_numba(x[:10], 2)  # compile outside the timing
        add("numba exact p=2", None, lambda: run_numba(x, 2), x.size)
    x64 = x.astype(np.float64)  # the same values as float64
    for isa in fastfrac.available_isas():
        for mode in ("decimal", "exact"):
            for p in (2, 4):
                add(f"{isa} {mode} p={p}", isa,
                    lambda p=p, mode=mode: fastfrac.approximate(x, p, mode=mode, threads=1), x.size)
        add(f"{isa} shortest digits", isa, lambda: _core.shortest_digits(x), x.size)
        add(f"{isa} float64 shortest digits", isa, lambda: _core.shortest_digits(x64), x.size)
        for digits, (a, b) in ((4, (num2, den2)), (8, (num4, den4))):
            add(f"{isa} to_float digits={digits}", isa,
                lambda a=a, b=b, d=digits: fastfrac.to_float(a, b, digits=d, threads=1), x.size)
    for mode in ("decimal", "exact"):
        for p in (2, 4):
            add(f"{best} float64 {mode} p={p}", best,
                lambda p=p, mode=mode: fastfrac.approximate(x64, p, mode=mode, threads=1), x.size)
    for mode in ("decimal", "exact"):
        for p in (2, 4):
            add(f"{best} {mode} p={p} 2 threads", best,
                lambda p=p, mode=mode: fastfrac.approximate(x, p, mode=mode, threads=2), x.size)
    for digits, (a, b) in ((4, (num2, den2)), (8, (num4, den4))):
        add(f"{best} to_float digits={digits} 2 threads", best,
            lambda a=a, b=b, d=digits: fastfrac.to_float(a, b, digits=d, threads=2), x.size)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"float32 N(0, 0.05), {x.size} values (reference loops: {N_REFERENCE}); "
          f"{repeat} interleaved rounds; isas {fastfrac.available_isas()}; "
          f"openmp {fastfrac.openmp_enabled()}; load average {load:.2f} before")
    before = _core.selected_isa()
    times: dict[str, list[float]] = {name: [] for name, *_ in cases}
    try:
        for _ in range(repeat):
            for name, isa, run, n in cases:
                _core._force_isa(isa or before)
                t = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - t) / n * 1e9)
    finally:
        _core._force_isa(before)
    ns = {name: statistics.median(v) for name, v in times.items()}
    fastest = {name: min(v) for name, v in times.items()}
    print(f"  {'ns/value':<40s} {'median':>10s} {'best':>10s}")
    for name, value in ns.items():
        print(f"  {name:<40s} {value:10.1f} {fastest[name]:10.1f}")
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.2f} after")

    def ratio(base: str, other: str) -> str:
        return f"{ns[base] / ns[other]:7.2f}x (best rounds {fastest[base] / fastest[other]:.2f}x)"

    print("\ndecimal mode's split: the shortest-digits step alone, as a share of the whole "
          "decimal search (medians)")
    for isa in fastfrac.available_isas():
        for p in (2, 4):
            share = ns[f"{isa} shortest digits"] / ns[f"{isa} decimal p={p}"]
            print(f"  {isa} p={p}: {ns[f'{isa} shortest digits']:.1f} of "
                  f"{ns[f'{isa} decimal p={p}']:.1f} ns/value ({share:.0%})")
    for p in (2, 4):
        digits, whole = ns[f"{best} float64 shortest digits"], ns[f"{best} float64 decimal p={p}"]
        print(f"  {best} float64 p={p}: {digits:.1f} of {whole:.1f} ns/value ({digits / whole:.0%})")

    print("\nacceptance ratios: medians (best rounds)")
    for p in (2, 4):
        for mode in ("decimal", "exact"):
            print(f"  {best} {mode} p={p}, 1 thread, vs the reference loop: "
                  f"{ratio(f'reference decimal p={p}', f'{best} {mode} p={p}')}")
    for mode in ("decimal", "exact"):
        for p in (2, 4):
            print(f"  {best} float64 {mode} p={p} vs float32, same values (time ratio): "
                  f"{ratio(f'{best} float64 {mode} p={p}', f'{best} {mode} p={p}')}")
    if numba_exact is not None:
        print(f"  {best} exact p=2 vs numba: {ratio('numba exact p=2', f'{best} exact p=2')}")
    for mode in ("decimal", "exact"):
        for p in (2, 4):
            print(f"  {best} {mode} p={p}, 2 threads vs 1: "
                  f"{ratio(f'{best} {mode} p={p}', f'{best} {mode} p={p} 2 threads')}")
    for digits in (4, 8):
        r = ratio(f"reference to_float digits={digits}", f"{best} to_float digits={digits}")
        print(f"  {best} to_float digits={digits}, 1 thread, vs its reference loop: {r}")
        r = ratio(f"{best} to_float digits={digits}", f"{best} to_float digits={digits} 2 threads")
        print(f"  {best} to_float digits={digits}, 2 threads vs 1: {r}")


def _parse(argv: list[str] | None = None) -> int:
    """The number of rounds from the command line (``--help`` says what is timed)."""
    parser = argparse.ArgumentParser(
        description="Every kernel path (serial, AVX2, AVX-512 where the CPU has them) against "
        "the pure-Python reference loop and its peers, on 10**6 float32 N(0, 0.05) values: "
        "ns per value, the shortest-digits share of decimal mode, and the ratios.")
    parser.add_argument("rounds", nargs="?", type=int, default=7,
                        help="interleaved rounds; medians and best rounds are printed (default: 7)")
    rounds = parser.parse_args(argv).rounds
    if rounds < 1:
        parser.error(f"rounds must be at least 1, not {rounds}")
    return rounds


if __name__ == "__main__":
    main(_parse())
