"""``fastfrac bench``: the kernel's speed against the Python loops, on this machine.

Self-contained and short: N(0, 0.05) float32 values (the scale of trained
weights), the C kernel in both modes on all of them (best of up to three runs
within about two seconds), and the pure-Python loops -- fastfrac.reference
(``fractions.Fraction``, the research script's expression) and quicktions
(a Cython ``Fraction``, if installed) -- on a sample, whose fractions are
checked against the kernel's.  Every figure comes from the same run.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fastfrac
from fastfrac import reference
from fastfrac._inputs import thread_count
from fastfrac._tables import Column, format_table, format_value

__all__ = ["run_bench"]

_KERNEL_BUDGET = 2.0  # seconds: stop repeating a kernel run after this


def _best_time(fn: Callable[[], Any], budget: float = _KERNEL_BUDGET, runs: int = 3) -> float:
    best, spent = float("inf"), 0.0
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget:
            break
    return best


def _quicktions_loop(sample: np.ndarray, bounds: list[int]) -> Callable[[], list[Any]] | None:
    """The reference's loop with quicktions.Fraction (bounds precomputed), or None."""
    try:
        from quicktions import Fraction
    except ImportError:
        return None
    return lambda: [Fraction(str(x)).limit_denominator(b) for x, b in zip(sample, bounds)]


def _same(fractions: Sequence[Any], num: np.ndarray, den: np.ndarray) -> bool:
    return [(f.numerator, f.denominator) for f in fractions] == list(zip(num.tolist(), den.tolist()))


def run_bench(size: int = 1_000_000, ps: Sequence[int] = (2, 4), sample: int = 20_000,
              seed: int = 2025, threads: int | None = None) -> str:
    """The benchmark's table as text.

    The kernel runs on ``threads`` threads (None: as :func:`fastfrac.approximate`
    decides, every usable core unless FASTFRAC_NUM_THREADS says otherwise) and
    on the kernel path the header names; the Python loops run on one.

    Examples
    --------
    >>> print(run_bench(size=2000, ps=[2], sample=200))  # doctest: +ELLIPSIS
    fastfrac ... float32 values from N(0, 0.05)...
    p  method ...
    2  fractions.Fraction ...
    """
    isa = fastfrac.selected_isa()  # a bad FASTFRAC_ISA stops here, before the slow loops
    w = np.random.default_rng(seed).normal(0.0, 0.05, size).astype(np.float32)
    part = w[: min(sample, size)]
    rows: list[dict[str, Any]] = []
    for p in ps:
        start = time.perf_counter()
        expected = reference.approximate(part, p)  # one run: it is the slow one
        ref_rate = part.size / (time.perf_counter() - start)
        rows.append({"p": p, "method": "fractions.Fraction (reference)", "values": part.size,
                     "rate": ref_rate, "speedup": 1.0, "identical": "-"})
        bounds = fastfrac.max_denominator(part, p).tolist()
        loop = _quicktions_loop(part, bounds)
        if loop is not None:
            start = time.perf_counter()
            got = loop()
            rate = part.size / (time.perf_counter() - start)
            rows.append({"p": p, "method": "quicktions.Fraction", "values": part.size,
                         "rate": rate, "speedup": rate / ref_rate,
                         "identical": "yes" if _same(got, *expected) else "NO"})
        for mode in ("decimal", "exact"):
            seconds = _best_time(lambda: fastfrac.approximate(w, p, mode=mode, threads=threads))
            num, den = fastfrac.approximate(part, p, mode=mode)
            check = reference.approximate(part, p, mode=mode) if mode == "exact" else expected
            same = np.array_equal(num, check.num) and np.array_equal(den, check.den)
            rows.append({"p": p, "method": f"fastfrac kernel, {mode}", "values": size,
                         "rate": size / seconds, "speedup": size / seconds / ref_rate,
                         "identical": "yes" if same else "NO"})
    n_threads = thread_count(threads) if fastfrac.openmp_enabled() else 1
    head = (
        f"fastfrac {fastfrac.__version__}, NumPy {np.__version__}, Python "
        f"{platform.python_version()} on {platform.machine()}; kernel path {isa}, "
        f"{n_threads} thread{'s' if n_threads > 1 else ''}: {size:,} float32 values from "
        f"N(0, 0.05) for the kernel, the first {part.size:,} for the Python loops "
        "(identical: same fractions as fractions.Fraction on those)"
    )
    columns: list[Column] = [
        ("p", "p", format_value),
        ("method", "method", format_value),
        ("values", "values", lambda v: format_value(v, ",d")),
        ("rate", "values/s", lambda v: format_value(v, ",.0f")),
        ("speedup", "speed-up", lambda v: f"{v:,.1f}x"),
        ("identical", "identical", format_value),
    ]
    return head + "\n" + format_table(rows, columns)
