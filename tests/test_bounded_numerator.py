"""A bounded numerator: the closest n/d with d <= max_den and |n| <= max_num.

Checked against a brute-force search over every n/d of small bounds, against
``fastfrac.reference.best_bounded`` (the Stern-Brocot walk on Fractions) with
hypothesis, and against today's limit_denominator where max_num does not
bind.  The tie rule (smaller denominator, then smaller value) is CPython's:
the brute force checks that too.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastfrac
from fastfrac import reference

import corpora


@functools.lru_cache(maxsize=None)
def admissible(max_den: int, max_num: int) -> tuple[Fraction, ...]:
    return tuple({Fraction(n, d) for d in range(1, max_den + 1) for n in range(-max_num, max_num + 1)})


def brute(v: Fraction, max_den: int, max_num: int) -> Fraction:
    """The closest admissible fraction, then the smaller denominator, then the smaller value."""
    return min(admissible(max_den, max_num), key=lambda c: (abs(c - v), c.denominator, c))


# Every n/d with |n| <= 30, d <= 20, as float64: their exact values are the
# binary neighbours of n/d, their decimal values n/d itself (mostly).
SMALL = np.array(sorted({n / d for n in range(-30, 31) for d in range(1, 21)}), dtype=np.float64)


@pytest.mark.parametrize("mode", ("decimal", "exact"))
def test_brute_force_over_small_bounds(mode) -> None:
    values = [reference.element_value(x, mode) for x in SMALL]
    for max_den in (1, 2, 3, 5, 8, 11):
        for max_num in (0, 1, 2, 4, 7, 11):
            got = fastfrac.limit_denominator(SMALL, max_den, max_num=max_num, mode=mode)
            want = [brute(v, max_den, max_num) for v in values]
            corpora.assert_fractions_equal(got, want, SMALL, np.int32,
                                           what=f"brute force D={max_den} N={max_num} {mode}")
            ref = [reference.best_bounded(v, max_den, max_num) for v in values]
            assert ref == want


def test_cpython_is_the_brute_force_tie_rule() -> None:
    """With no numerator bound, limit_denominator is closest, then smaller den, then smaller value."""
    for v in map(Fraction, SMALL):
        for max_den in (1, 2, 3, 5, 8, 11):
            assert v.limit_denominator(max_den) == brute(v, max_den, 40)


@pytest.mark.parametrize("dtype", (np.int32, np.int64), ids=("int32", "int64"))
@pytest.mark.parametrize("mode", ("decimal", "exact"))
def test_a_bound_that_does_not_bind_changes_nothing(dtype, mode) -> None:
    x = corpora.random_weights(np.float32)[:20000]
    limits = fastfrac._types.output_limits(dtype)
    for p in (0, 2, 4):
        bounds = fastfrac.max_denominator(x, p, dtype=dtype)
        want = fastfrac.limit_denominator(x, bounds, mode=mode, dtype=dtype)
        got = fastfrac.limit_denominator(x, bounds, mode=mode, dtype=dtype, max_num=limits.num_max)
        assert np.array_equal(got.num, want.num) and np.array_equal(got.den, want.den)
        got = fastfrac.approximate(x, p, mode=mode, dtype=dtype, max_num=limits.num_max)
        assert np.array_equal(got.num, want.num) and np.array_equal(got.den, want.den)


FLOAT_TYPES = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32,
               "float64": np.float64}


@pytest.mark.parametrize("name", FLOAT_TYPES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_property_kernel_equals_the_reference(name, data) -> None:
    ftype = FLOAT_TYPES[name]
    width = 16 if name in ("float16", "bfloat16") else (32 if name == "float32" else 64)
    values = data.draw(st.lists(
        st.floats(width=width, allow_nan=False, allow_infinity=False, min_value=-1e4, max_value=1e4),
        min_size=1, max_size=12), label="x")
    x = np.array(values, dtype=np.float64).astype(ftype)
    x = x[np.isfinite(x.astype(np.float64))]
    if x.size == 0:
        return
    max_den = data.draw(st.lists(st.integers(1, 2**31 - 1), min_size=x.size, max_size=x.size))
    max_num = data.draw(st.lists(st.one_of(st.integers(0, 50), st.integers(0, 2**31 - 1)),
                                 min_size=x.size, max_size=x.size))
    mode = data.draw(st.sampled_from(("decimal", "exact")))
    got = fastfrac.limit_denominator(x, max_den, max_num=max_num, mode=mode)
    want = reference.limit_denominator(x, max_den, max_num=max_num, mode=mode)
    assert np.array_equal(got.num, want.num) and np.array_equal(got.den, want.den)


def test_huge_and_tiny_values_never_overflow() -> None:
    x = np.array([1e300, -1e300, 1e-300, -1e-300, 3e38, 0.0, -0.0], dtype=np.float64)
    got = fastfrac.limit_denominator(x, 1000, max_num=7, dtype=np.int64)
    assert got.num.tolist() == [7, -7, 0, 0, 7, 0, 0] and got.den.tolist() == [1, 1, 1, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="does not fit"):
        fastfrac.limit_denominator(x[:1], 1000, dtype=np.int64)  # without max_num it overflows


def test_max_num_zero_allows_only_zero() -> None:
    got = fastfrac.limit_denominator([0.7, -3.2, 1e-9], 10**6, max_num=0)
    assert got.num.tolist() == [0, 0, 0] and got.den.tolist() == [1, 1, 1]


def test_max_num_broadcasts_like_max_den() -> None:
    x = np.array([[3.141592653589793], [2.718281828459045]])
    got = fastfrac.limit_denominator(x, [[1000]], max_num=[10, 100, 1000])
    assert got.num.shape == (2, 3)
    row = [Fraction(int(n), int(d)) for n, d in zip(got.num[0], got.den[0])]
    assert row == [reference.best_bounded(Fraction(3.141592653589793), 1000, m) for m in (10, 100, 1000)]
    assert row[-1] == Fraction(355, 113) and row[0] == Fraction(3, 1)


@pytest.mark.parametrize("max_num, error", [
    (-1, "max_num must be >= 0"),
    (2**31, "above int32's maximum"),
    ([1, 2, 3], "do not broadcast"),
    (1.5, "max_num must be integers"),
])
def test_bad_max_num_is_one_clear_error(max_num, error) -> None:
    with pytest.raises((ValueError, TypeError), match=error):
        fastfrac.limit_denominator([0.5, 0.25], 10, max_num=max_num)
