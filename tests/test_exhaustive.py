"""Every float32 bit pattern through each SIMD path's shortest digits, against the serial routine.

``pytest -m exhaustive`` runs it (plain ``pytest`` and CI deselect it: a path
takes minutes of one core per 2**32 patterns).  The patterns are walked as
``i * STRIDE mod 2**32`` for i = 0, 1, ...: STRIDE is odd, so the walk is a
permutation of all 2**32 patterns, and any prefix of it is spread evenly over
every exponent and mantissa residue.  ``FASTFRAC_EXHAUSTIVE_PATTERNS=N``
stops after the first N (a partial run that still covers the range).

The serial routine is itself checked against NumPy's printed digits in
tests/test_shortest.py; here the fast paths must equal it bit for bit.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

from fastfrac._isa import core

STRIDE = 2_654_435_761  # a prime near 2**32 / golden ratio: consecutive steps land far apart
BLOCK = 1 << 24
ALL = 1 << 32


def patterns(start: int, count: int) -> np.ndarray:
    """The walk's patterns start .. start+count-1 as float32 (i * STRIDE < 2**64: no overflow)."""
    i = np.arange(start, start + count, dtype=np.uint64)
    return (i * np.uint64(STRIDE)).astype(np.uint32).view(np.float32)


def test_the_walk_is_a_permutation_on_a_small_modulus() -> None:
    """The argument in miniature: an odd stride visits every residue of a power of two once."""
    seen = (np.arange(1 << 16, dtype=np.uint64) * np.uint64(STRIDE)) % np.uint64(1 << 16)
    assert np.unique(seen).size == 1 << 16


@pytest.mark.exhaustive
@pytest.mark.parametrize("path", ["avx512", "avx2"])
def test_every_float32_has_the_serial_shortest_digits(path: str) -> None:
    if path not in core.available_isas():
        pytest.skip(f"this CPU cannot run {path}")
    total = int(os.environ.get("FASTFRAC_EXHAUSTIVE_PATTERNS", ALL))
    before = core.selected_isa()
    started, checked = time.perf_counter(), 0
    try:
        for start in range(0, total, BLOCK):
            x = patterns(start, min(BLOCK, total - start))
            x = np.ascontiguousarray(x[np.isfinite(x) & (x != 0)])  # what the routine takes
            core._force_isa("serial")
            want_digits, want_exp = core.shortest_digits(x)
            core._force_isa(path)
            got_digits, got_exp = core.shortest_digits(x)
            bad = np.flatnonzero((got_digits != want_digits) | (got_exp != want_exp))
            if bad.size:
                k = bad[0]
                pytest.fail(
                    f"{path}: {bad.size} mismatches in block {start // BLOCK}; first "
                    f"0x{x[k:k + 1].view(np.uint32)[0]:08x} ({x[k]!r}): {got_digits[k]}e{got_exp[k]}, "
                    f"serial {want_digits[k]}e{want_exp[k]}"
                )
            checked += x.size
            if start // BLOCK % 16 == 15:
                print(f"{path}: {start + BLOCK:,} patterns, {time.perf_counter() - started:.0f} s",
                      file=sys.stderr)
    finally:
        core._force_isa(before)
    print(f"{path}: {checked:,} finite nonzero float32 of {total:,} patterns equal serial "
          f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)
