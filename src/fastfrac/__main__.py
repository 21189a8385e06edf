"""``python -m fastfrac``: a short worked example (the command line comes later)."""

from __future__ import annotations

import time

import numpy as np

import fastfrac
from fastfrac import reference


def main() -> None:
    """Approximate 10**5 N(0, 0.05) float32 weights at p = 2 and p = 4 and compare with Fraction."""
    rng = np.random.default_rng(2025)
    w = rng.normal(0.0, 0.05, 100_000).astype(np.float32)
    print("fastfrac", fastfrac.__version__, "- best rational approximations of", w.size, "weights")
    for p in (2, 4):
        t0 = time.perf_counter()
        num, den = fastfrac.approximate(w, p)
        kernel = time.perf_counter() - t0
        back = fastfrac.to_float(num, den, digits=2 * p)
        sample = slice(0, 2_000)  # the Fraction loop is slow: check and time a sample
        t0 = time.perf_counter()
        ref = reference.approximate(w[sample], p)
        per_value = (time.perf_counter() - t0) / w[sample].size
        same = np.array_equal(ref.num, num[sample]) and np.array_equal(ref.den, den[sample])
        print(
            f"p={p}: {w[0]:+.7f} -> {num[0]}/{den[0]} -> {back[0]:+g};"
            f" max |error| {np.max(np.abs(back - w)):.2e};"
            f" kernel {w.size / kernel / 1e6:.1f} M values/s vs Fraction"
            f" {1 / per_value / 1e3:.0f} k values/s; identical on the sample: {same}"
        )


if __name__ == "__main__":
    main()
