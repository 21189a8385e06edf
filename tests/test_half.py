"""float16 and bfloat16: every bit pattern, both modes, both output types, every kernel path.

The contract (issue "Half precision everywhere"): in decimal mode the value is
the shortest decimal that rounds back to x in x's own type, in exact mode
x's binary value; the bound is float32's rule on the exact float32 widening
of x.  Expected answers come from :mod:`fastfrac.reference` (exact rationals,
no kernel tables) and, for float16 decimal mode, from the direct expression
``Fraction(str(numpy.float16(x)))`` as well.  All 63,488 finite float16 and
65,280 finite bfloat16 patterns are checked at a few precisions by default;
the remaining p (0..9 for int32, 10..18 for int64) are behind the ``slow``
marker, which CI runs.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
import pytest

import fastfrac
from fastfrac import reference
from fastfrac._isa import core as _core
from fastfrac._inputs import check_finite
from fastfrac._types import BFLOAT16, FLOAT16

import corpora

HALVES = {"float16": FLOAT16, "bfloat16": BFLOAT16}
DEFAULT_P = {np.int32: (0, 2, 4), np.int64: (18,)}
SLOW_P = {np.int32: (1, 3, 5, 6, 7, 8, 9), np.int64: tuple(range(10, 18))}


@functools.lru_cache(maxsize=None)
def finite_patterns(name: str) -> np.ndarray:
    """Every finite value of the type, in bit-pattern order (both zeros included)."""
    x = np.arange(65536, dtype=np.uint16).view(HALVES[name])
    return x[np.isfinite(x.astype(np.float32))]


@functools.lru_cache(maxsize=None)
def values(name: str, mode: str) -> tuple[Fraction, ...]:
    """The rational each pattern stands for, from the reference."""
    return tuple(reference.element_value(v, mode) for v in finite_patterns(name))


@functools.lru_cache(maxsize=None)
def expected(name: str, mode: str, p: int, dtype: type) -> tuple[tuple[int, ...], tuple[Fraction, ...]]:
    """(bounds, answers) for every pattern: the float32 rule on the widened value."""
    widened = finite_patterns(name).astype(np.float32)
    bounds = corpora.seed_bounds(widened, p, dtype)
    return tuple(bounds), tuple(corpora.limit_all(values(name, mode), bounds))


def sweep(name: str, mode: str, dtype: type, ps: tuple[int, ...]) -> None:
    x = finite_patterns(name)
    for p in ps:
        bounds, answers = expected(name, mode, p, dtype)
        assert fastfrac.max_denominator(x, p, dtype=dtype).tolist() == list(bounds)
        corpora.check_kernel(corpora.approximate_runner(x, p, mode, dtype), x, answers, dtype,
                             bounds=bounds, what=f"{name} exhaustive p={p} {mode}")
        # The same answers from explicit bounds.
        corpora.check_kernel(corpora.limit_runner(x, np.array(bounds), mode, dtype), x, answers,
                             dtype, bounds=bounds, what=f"{name} limit p={p} {mode}")


@pytest.mark.parametrize("name", HALVES)
@pytest.mark.parametrize("mode", ("decimal", "exact"))
@pytest.mark.parametrize("dtype", (np.int32, np.int64), ids=("int32", "int64"))
def test_every_pattern(isa, name, mode, dtype) -> None:
    sweep(name, mode, dtype, DEFAULT_P[dtype])


@pytest.mark.slow
@pytest.mark.parametrize("name", HALVES)
@pytest.mark.parametrize("mode", ("decimal", "exact"))
@pytest.mark.parametrize("dtype", (np.int32, np.int64), ids=("int32", "int64"))
def test_every_pattern_every_p(isa, name, mode, dtype) -> None:
    sweep(name, mode, dtype, SLOW_P[dtype])


def test_float16_decimal_is_what_numpy_prints() -> None:
    """The reference itself against the direct expression, on every float16."""
    x = finite_patterns("float16")
    direct = [Fraction(str(v)) for v in x]
    assert list(values("float16", "decimal")) == direct


def test_float16_kernel_against_the_direct_expression(isa) -> None:
    x = finite_patterns("float16")
    for p in (0, 3):
        bounds = corpora.seed_bounds(x.astype(np.float32), p, np.int32)
        answers = [Fraction(str(v)).limit_denominator(b) for v, b in zip(x, bounds)]
        corpora.check_kernel(corpora.approximate_runner(x, p, "decimal", np.int32), x, answers,
                             np.int32, bounds=bounds, what=f"float16 direct p={p}")


@pytest.mark.parametrize("name", HALVES)
def test_shortest_digits_against_the_reference(isa, name) -> None:
    x = finite_patterns(name)
    nonzero = x[x.astype(np.float32) != 0]
    digits, exp10 = _core.shortest_digits(np.ascontiguousarray(nonzero))
    got = [Fraction(int(d)) * Fraction(10) ** int(e) for d, e in zip(digits, exp10)]
    want = [abs(reference.shortest_decimal(v)) for v in nonzero]
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, [(str(nonzero[i]), got[i], want[i]) for i in bad[:10]]


def test_bfloat16_decimal_is_not_the_widened_float32s() -> None:
    """The issue's example: bfloat16 0.10009765625 stands for 1/10, not 0.100097656."""
    x = np.array([0.1], dtype=BFLOAT16)
    assert float(x[0]) == 0.10009765625
    num, den = fastfrac.approximate(x, 4)
    assert (num[0], den[0]) == (1, 10)
    num32, den32 = fastfrac.approximate(x.astype(np.float32), 4)
    assert Fraction(int(num32[0]), int(den32[0])) != Fraction(1, 10)


@pytest.mark.parametrize("name", HALVES)
def test_non_finite_halves_are_the_usual_error(name) -> None:
    x = np.array([0.5, np.inf, np.nan], dtype=HALVES[name])
    with pytest.raises(ValueError, match=r"2 non-finite values.*index \(1,\)"):
        fastfrac.approximate(x, 2)


@pytest.mark.parametrize("name", HALVES)
def test_every_non_finite_pattern_is_refused_and_no_finite_one(name) -> None:
    # The half types' finiteness is a bit test (NumPy's isfinite widens each
    # element); every one of the 65536 patterns, alone, against float32's verdict.
    patterns = np.arange(65536, dtype=np.uint16).view(HALVES[name])
    verdict = np.isfinite(patterns.astype(np.float32))
    refused = []
    for value in patterns:
        try:
            check_finite(np.array([value]))
        except ValueError:
            refused.append(True)
        else:
            refused.append(False)
    assert np.array_equal(~verdict, np.array(refused))
    assert 0 < (~verdict).sum() < 65536


def test_uint16_bit_patterns_are_refused() -> None:
    with pytest.raises(TypeError, match="bit patterns: view them as numpy.float16 or ml_dtypes.bfloat16"):
        fastfrac.approximate(np.arange(4, dtype=np.uint16), 2)


@pytest.mark.parametrize("name", HALVES)
def test_layouts_and_byte_order(name) -> None:
    """Strided, multi-dimensional and (float16) big-endian input give the contiguous answer."""
    x = finite_patterns(name)
    x = x[np.abs(x.astype(np.float64)) < 1e4][::37][:600].reshape(20, 30)  # numerators fit int64
    want = fastfrac.approximate(np.ascontiguousarray(x), 3, dtype=np.int64)
    got = fastfrac.approximate(np.asfortranarray(x), 3, dtype=np.int64)
    assert np.array_equal(got.num, want.num) and np.array_equal(got.den, want.den)
    got = fastfrac.approximate(x[:, ::2], 3, dtype=np.int64)
    assert np.array_equal(got.num, want.num[:, ::2]) and np.array_equal(got.den, want.den[:, ::2])
    if name == "float16":
        swapped = x.astype(x.dtype.newbyteorder(">"))
        got = fastfrac.approximate(swapped, 3, dtype=np.int64)
        assert np.array_equal(got.num, want.num) and np.array_equal(got.den, want.den)


@pytest.mark.parametrize("name", HALVES)
def test_to_float_dtype_is_through_float64(name) -> None:
    x = finite_patterns(name)
    x = x[np.abs(x.astype(np.float64)) < 1e9][::50]  # numerators that fit int64
    num, den = fastfrac.approximate(x, 2, dtype=np.int64)
    for digits in (None, 4):
        got = fastfrac.to_float(num, den, digits, dtype=HALVES[name])
        want = fastfrac.to_float(num, den, digits).astype(HALVES[name])
        assert got.dtype == HALVES[name] and got.tobytes() == want.tobytes()
        ref = reference.to_float(num, den, digits, dtype=HALVES[name])
        assert ref.tobytes() == want.tobytes()
