"""The threads= argument: same results for any thread count, and how the count is chosen.

The C driver (csrc/ff_parallel.c) cuts an array into contiguous chunks; every
answer depends on its own element only, so 1, 2, 3 or 7 threads must give
identical arrays and the same first-overflow error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastfrac
from fastfrac import reference
from fastfrac._inputs import thread_count

import corpora

THREADS = (1, 2, 3, 7)
N = 300_000  # well past the driver's one-thread threshold (16384 per thread)


@pytest.fixture(scope="module")
def weights() -> np.ndarray:
    x = np.tile(corpora.random_weights(np.float32), 3)[:N].copy()
    return x


def _same(results: list) -> None:
    first = results[0]
    for other in results[1:]:
        for a, b in zip(first, other):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("mode", corpora.MODES)
@pytest.mark.parametrize("dtype", corpora.INTS, ids=["int32", "int64"])
def test_approximate_identical_for_any_thread_count(weights, mode, dtype) -> None:
    x = weights if dtype is np.int32 else weights.astype(np.float64)
    _same([fastfrac.approximate(x, 3, mode=mode, dtype=dtype, threads=t) for t in THREADS])


def test_limit_denominator_identical_for_any_thread_count(weights) -> None:
    bounds = np.resize(corpora.random_bounds(np.float32, np.int64), weights.size)
    _same([
        fastfrac.limit_denominator(weights, bounds, dtype=np.int64, threads=t) for t in THREADS
    ])


@pytest.mark.parametrize("digits", [None, 4, 8])
def test_to_float_identical_for_any_thread_count(weights, digits) -> None:
    num, den = fastfrac.approximate(weights, 4, dtype=np.int64, threads=1)
    _same([(fastfrac.to_float(num, den, digits=digits, threads=t),) for t in THREADS])


def test_threads_match_the_reference_on_a_sample(weights) -> None:
    got = fastfrac.approximate(weights, 2, threads=2)
    idx = np.arange(0, weights.size, 97)
    ref = reference.approximate(weights[idx], 2)
    np.testing.assert_array_equal(got.num[idx], ref.num)
    np.testing.assert_array_equal(got.den[idx], ref.den)


@pytest.mark.parametrize("threads", THREADS)
def test_first_overflow_is_reported_whatever_the_chunks(weights, threads) -> None:
    """Overflows late in the array and in a later chunk: the earliest index wins."""
    x = weights.copy()
    x[N - 5] = 3e9  # the numerator of 3e9 does not fit int32
    x[N // 2 + 11] = -3e9
    x[N // 3 + 1] = 5e9
    with pytest.raises(ValueError, match=re.escape(f"at index ({N // 3 + 1},)")):
        fastfrac.approximate(x, 2, threads=threads)


def test_small_arrays_and_empty(weights) -> None:
    for n in (0, 1, 17, 1000, 20000):
        _same([fastfrac.approximate(weights[:n], 2, threads=t) for t in THREADS])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_after_threads_does_not_hang() -> None:
    """A multiprocessing child forked after the parent ran threads still computes (on one)."""
    script = textwrap.dedent("""
        import multiprocessing as mp, numpy as np, fastfrac
        w = np.random.default_rng(0).normal(0, 0.05, 200_000).astype(np.float32)
        a = fastfrac.approximate(w, 2, threads=2)
        def child(q):
            q.put(bool((fastfrac.approximate(w, 2, threads=2).num == a.num).all()))
        if __name__ == "__main__":
            ctx = mp.get_context("fork")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            print(q.get(timeout=60))
            p.join()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


# ---- choosing the count ------------------------------------------------------------


def test_default_uses_every_usable_core(monkeypatch) -> None:
    monkeypatch.delenv("FASTFRAC_NUM_THREADS", raising=False)
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert thread_count(None) == expected


def test_environment_variable_applies_when_none(monkeypatch) -> None:
    monkeypatch.setenv("FASTFRAC_NUM_THREADS", "3")
    assert thread_count(None) == 3
    assert thread_count(1) == 1  # an explicit argument wins


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5"])
def test_environment_variable_must_be_a_positive_integer(monkeypatch, weights, text) -> None:
    monkeypatch.setenv("FASTFRAC_NUM_THREADS", text)
    with pytest.raises(ValueError, match="FASTFRAC_NUM_THREADS"):
        fastfrac.approximate(weights[:10], 2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_threads_argument_is_checked(weights, bad) -> None:
    for call in (
        lambda: fastfrac.approximate(weights[:10], 2, threads=bad),
        lambda: fastfrac.limit_denominator(weights[:10], 10, threads=bad),
        lambda: fastfrac.to_float([1], [2], threads=bad),
    ):
        with pytest.raises(ValueError, match="threads"):
            call()


# ---- OpenMP ------------------------------------------------------------------------------


def test_openmp_enabled_is_a_bool() -> None:
    assert isinstance(fastfrac.openmp_enabled(), bool)


@pytest.mark.skipif(
    os.environ.get("FASTFRAC_REQUIRE_OPENMP") != "1",
    reason="set FASTFRAC_REQUIRE_OPENMP=1 to require an OpenMP build (CI does)",
)
def test_openmp_is_compiled_in() -> None:
    assert fastfrac.openmp_enabled(), "fastfrac was built without OpenMP"
