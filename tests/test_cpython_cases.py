"""CPython's own limit_denominator cases, replayed through fastfrac.

From Lib/test/test_fractions.py (``testLimitDenominator``) and the docstring
of ``Fraction.limit_denominator``.  Each stated answer is first re-derived
with ``fractions.Fraction`` in the test, then required of the kernel, in
decimal mode (where the float stands for the decimal CPython wrote) and, for
comparison, in exact mode against ``Fraction(float(x))``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import fastfrac

FT_IDS = {np.float32: "float32", np.float64: "float64"}
ftypes = pytest.mark.parametrize("ftype", [np.float32, np.float64], ids=lambda t: FT_IDS[t])
dtypes = pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=["int32", "int64"])

PI_TEXT = "3.1415926535897932"  # as written in CPython's test


def kernel(x, n, mode="decimal", dtype=np.int32) -> Fraction:
    num, den = fastfrac.limit_denominator(x, n, mode=mode, dtype=dtype)
    assert num.shape == ()
    return Fraction(int(num), int(den))


# (bound, CPython's stated answer) for rpi = F('3.1415926535897932')
PI_CASES = [(10000, Fraction(355, 113)), (113, Fraction(355, 113)), (112, Fraction(333, 106))]


@pytest.mark.parametrize(("n", "answer"), PI_CASES)
@dtypes
def test_pi_float64(n, answer, dtype):
    x = np.float64(PI_TEXT)
    assert Fraction(PI_TEXT).limit_denominator(n) == answer  # CPython's statement
    assert Fraction(str(x)).limit_denominator(n) == answer  # the float's shortest decimal
    assert kernel(x, n, dtype=dtype) == answer
    assert kernel(x, n, "exact", dtype) == Fraction(float(x)).limit_denominator(n)


@pytest.mark.parametrize(("n", "answer"), PI_CASES)
def test_minus_pi(n, answer):
    """CPython: -rpi.limit_denominator(10000) == F(-355, 113); no tie, so negation commutes."""
    x = -np.float64(PI_TEXT)
    assert (-Fraction(PI_TEXT)).limit_denominator(n) == -answer
    assert kernel(x, n) == -answer
    assert kernel(x, n, "exact") == Fraction(float(x)).limit_denominator(n)


@pytest.mark.parametrize("n", [10000, 113, 112, 106, 105, 100, 10, 7, 1])
def test_pi_float32(n):
    """float32 pi prints as 3.1415927: its answers come from Fraction, not CPython's list."""
    x = np.float32(np.pi)
    assert str(x) == "3.1415927"
    assert kernel(x, n) == Fraction("3.1415927").limit_denominator(n)
    assert kernel(x, n, "exact") == Fraction(float(x)).limit_denominator(n)


@pytest.mark.parametrize(("n", "answer"), [(10, Fraction(22, 7)), (100, Fraction(311, 99))])
@ftypes
def test_docstring_examples(n, answer, ftype):
    """Fraction('3.141592653589793').limit_denominator(10) == 22/7, (100) == 311/99."""
    assert Fraction("3.141592653589793").limit_denominator(n) == answer
    x = ftype(np.pi)
    assert Fraction(str(x)).limit_denominator(n) == answer
    assert kernel(x, n) == answer
    assert kernel(x, n, "exact") == Fraction(float(x)).limit_denominator(n)


@ftypes
def test_docstring_fraction_within_bound_is_returned(ftype):
    """Fraction(4321, 8765).limit_denominator(10000) is itself; via its decimal, the same holds."""
    assert Fraction(4321, 8765).limit_denominator(10000) == Fraction(4321, 8765)
    x = ftype(4321 / 8765)
    value = Fraction(str(x))
    assert kernel(x, 10000, dtype=np.int64) == value.limit_denominator(10000)
    assert kernel(x, 10000, "exact", np.int64) == Fraction(float(x)).limit_denominator(10000)
    # With a bound at least the decimal's denominator the decimal itself comes back.
    assert kernel(x, value.denominator, dtype=np.int64) == value


@pytest.mark.parametrize(("n", "answer"), [(100, Fraction(1)), (101, Fraction(102, 101))])
@ftypes
@dtypes
def test_201_over_200_ties(n, answer, ftype, dtype):
    """F(201, 200) is a tie at bound 100 (-> 1) and at 101 (-> 102/101): the convergent wins."""
    assert Fraction(201, 200).limit_denominator(n) == answer
    x = ftype(1.005)
    assert Fraction(str(x)) == Fraction(201, 200)
    assert kernel(x, n, dtype=dtype) == answer
    num, den = fastfrac.limit_denominator(np.array([x, -x]), n, dtype=dtype)
    assert Fraction(int(num[0]), int(den[0])) == answer
    assert Fraction(int(num[1]), int(den[1])) == Fraction(-201, 200).limit_denominator(n)
    # Exact mode: float(1.005) is not 201/200, so there is no tie to break.
    assert kernel(x, n, "exact", dtype) == Fraction(float(x)).limit_denominator(n)


@pytest.mark.parametrize("mode", ["decimal", "exact"])
@ftypes
def test_zero(mode, ftype):
    """F(0).limit_denominator(10000) == F(0); so are -0.0 and every bound."""
    assert Fraction(0).limit_denominator(10000) == 0
    for x in (ftype(0.0), ftype(-0.0)):
        for n in (1, 10000, 2**31 - 1):
            assert kernel(x, n, mode) == 0
            num, den = fastfrac.limit_denominator(x, n, mode=mode)
            assert (int(num), int(den)) == (0, 1)


@pytest.mark.parametrize("n", [0, -1])
@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=["int32", "int64"])
def test_bad_bounds(n, dtype):
    """CPython: F(1).limit_denominator(0 or -1) raises ValueError; fastfrac too."""
    with pytest.raises(ValueError, match="max_denominator should be at least 1"):
        Fraction(1).limit_denominator(n)
    with pytest.raises(ValueError, match="max_den"):
        fastfrac.limit_denominator(1.0, n, dtype=dtype)
    with pytest.raises(ValueError, match="max_den"):
        fastfrac.limit_denominator([1.0, 2.0], [5, n], dtype=dtype)
