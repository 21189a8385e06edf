"""fastfrac.limit_denominator with explicit bounds, against Fraction.limit_denominator.

Expected answers are ``Fraction(str(v)).limit_denominator(n)`` (decimal mode)
or ``Fraction(float(v)).limit_denominator(n)`` (exact mode), computed in the
test.  CPython's tie rule (keep the convergent) and its floor-based first
step (not odd-symmetric) are exercised by constructed exact ties.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastfrac
from fastfrac import reference

import corpora
from corpora import CAP, FLOATS, INTS, MODES

FT_IDS = {np.float32: "float32", np.float64: "float64"}
IT_IDS = {np.int32: "int32", np.int64: "int64"}

ftypes = pytest.mark.parametrize("ftype", FLOATS, ids=lambda t: FT_IDS[t])
dtypes = pytest.mark.parametrize("dtype", INTS, ids=lambda t: IT_IDS[t])
modes = pytest.mark.parametrize("mode", MODES)


def direct(v: np.floating, n: int, mode: str) -> Fraction:
    """The Fraction expression, written out."""
    value = Fraction(str(v)) if mode == "decimal" else Fraction(float(v))
    return value.limit_denominator(n)


# ---- hypothesis: kernel == reference == Fraction ---------------------------------


def element_floats(width: int) -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(width=width, allow_nan=False, allow_infinity=False),
        st.floats(min_value=-3.0, max_value=3.0, width=width),
        st.integers(min_value=-4000, max_value=4000).map(lambda k: k / 200),
    )


def bound_values(cap: int) -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(min_value=1, max_value=300),
        st.integers(min_value=1, max_value=cap),
        st.sampled_from([1, 2, cap - 1, cap]),
    )


@ftypes
@dtypes
@modes
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_per_element_bounds(ftype, dtype, mode, data):
    width = 32 if ftype is np.float32 else 64
    pairs = data.draw(
        st.lists(st.tuples(element_floats(width), bound_values(CAP[dtype])), min_size=1,
                 max_size=16)
    )
    x = np.array([v for v, _ in pairs], dtype=ftype)
    bounds = np.array([b for _, b in pairs], dtype=np.int64)
    expected = [direct(v, int(b), mode) for v, b in zip(x, bounds)]
    corpora.check_kernel(
        corpora.limit_runner(x, bounds, mode, dtype), x, expected, dtype,
        bounds=bounds.tolist(), what=f"limit_denominator {mode}",
    )
    corpora.check_reference(
        lambda: reference.limit_denominator(x, bounds, mode=mode, dtype=dtype), expected, x, dtype
    )


@ftypes
@dtypes
@modes
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_property_scalar_bound_broadcasts(ftype, dtype, mode, data):
    width = 32 if ftype is np.float32 else 64
    values = data.draw(st.lists(element_floats(width), min_size=1, max_size=12))
    n = data.draw(bound_values(CAP[dtype]))
    x = np.array(values, dtype=ftype)
    expected = [direct(v, n, mode) for v in x]
    corpora.check_kernel(
        lambda idx: fastfrac.limit_denominator(
            x if idx is None else x[idx], n, mode=mode, dtype=dtype
        ),
        x, expected, dtype, what=f"scalar bound {n}",
    )


# ---- exact ties and the floor-based first step -----------------------------------


@ftypes
@dtypes
@modes
def test_ties_farey_midpoints(ftype, dtype, mode):
    """v midway between both candidates: CPython keeps the convergent."""
    x, bounds = corpora.tie_midpoints(ftype, mode)
    expected = [direct(v, int(b), mode) for v, b in zip(x, bounds)]
    # Each is a real tie: the mirror image of the answer through v is another
    # fraction within the bound, exactly as close.
    for v, b, f in zip(x, bounds, expected):
        value = corpora.seed_value(v, mode)
        mirror = 2 * value - f
        assert mirror != f and mirror.denominator <= b, (v, b, f)
    assert len(expected) >= (300 if mode == "decimal" else 100)
    corpora.check_kernel(
        corpora.limit_runner(x, bounds, mode, dtype), x, expected, dtype,
        bounds=bounds.tolist(), what=f"ties {mode}",
    )


@ftypes
@dtypes
@modes
def test_halves_and_near_ties(ftype, dtype, mode):
    """k/(2d) for d <= 40 with bounds d-1, d, d+1, 2d-1, 2d."""
    x, bounds = corpora.halves(ftype)
    n = corpora.check_limit(x, bounds, mode, dtype, what=f"halves {mode}")
    assert n == x.size


@ftypes
@dtypes
@modes
def test_max_den_one_takes_the_floor_of_half_integers(ftype, dtype, mode):
    """max_den=1: 0.5 -> 0/1 but -0.5 -> -1/1 (CPython is not odd-symmetric)."""
    assert Fraction("0.5").limit_denominator(1) == 0
    assert Fraction("-0.5").limit_denominator(1) == -1
    x = (np.arange(-10, 10) + 0.5).astype(ftype)
    num, den = fastfrac.limit_denominator(x, 1, mode=mode, dtype=dtype)
    assert num.tolist() == [direct(v, 1, mode).numerator for v in x]
    assert num.tolist() == np.floor(x).astype(int).tolist()
    assert den.tolist() == [1] * x.size
    num, den = fastfrac.limit_denominator(np.array([0.5, -0.5], dtype=ftype), 1, mode=mode,
                                          dtype=dtype)
    assert num.tolist() == [0, -1] and den.tolist() == [1, 1]


@ftypes
@dtypes
@modes
def test_negation_is_not_symmetric_on_ties_only(ftype, dtype, mode):
    """-v gives -(answer for v) except at ties; checked against Fraction both ways."""
    x, bounds = corpora.halves(ftype)
    x = x[:4000]
    bounds = bounds[:4000]
    got_pos = fastfrac.limit_denominator(np.abs(x), bounds, mode=mode, dtype=dtype)
    got_neg = fastfrac.limit_denominator(-np.abs(x), bounds, mode=mode, dtype=dtype)
    asym = 0
    for i, (v, b) in enumerate(zip(np.abs(x), bounds)):
        pos, neg = direct(v, int(b), mode), direct(-v, int(b), mode)
        assert (got_pos.num[i], got_pos.den[i]) == (pos.numerator, pos.denominator)
        assert (got_neg.num[i], got_neg.den[i]) == (neg.numerator, neg.denominator)
        if neg != -pos:
            asym += 1
            value = corpora.seed_value(v, mode)
            assert (2 * value - pos).denominator <= b  # v was a tie
    assert asym > 0  # the corpus has ties where the asymmetry shows


# ---- random corpora with random bounds ---------------------------------------------


@ftypes
@dtypes
@modes
def test_random_weights_random_bounds(ftype, dtype, mode):
    """The full 10**5-value corpus with log-uniform bounds in [1, cap] (a quarter below 200)."""
    x = corpora.random_weights(ftype)
    bounds = corpora.random_bounds(ftype, dtype)
    values = corpora.random_values(ftype, mode)
    blist = bounds.tolist()
    expected = corpora.limit_all(values, blist)
    corpora.check_kernel(
        corpora.limit_runner(x, bounds, mode, dtype), x, expected, dtype, bounds=blist,
        what=f"random bounds {mode} {IT_IDS[dtype]}",
    )


@ftypes
@dtypes
@modes
def test_bounds_at_the_type_maximum(ftype, dtype, mode):
    """max_den = 2**31 - 1 / 2**63 - 1, the largest accepted, on a slice of the corpus."""
    x = corpora.random_weights(ftype)[:5000]
    bounds = np.full(x.shape, CAP[dtype], dtype=np.int64)
    corpora.check_limit(x, bounds, mode, dtype, what="bound = cap")


@ftypes
@dtypes
@modes
def test_small_bounds_on_every_corpus_family(ftype, dtype, mode):
    """Subnormals, tiny values, integers, powers of two and the largest floats, bounds 1..cap."""
    x = np.concatenate(
        [
            corpora.subnormals(ftype),
            corpora.tiny_edges(ftype, dtype),
            corpora.integers(ftype),
            corpora.largest(ftype),
            corpora.around_int_limits(ftype),
            corpora.powers_of_two(ftype)[::7],
            np.array([0.0, -0.0], dtype=ftype),
        ]
    )
    for n in (1, 2, 1000, CAP[dtype] // 2, CAP[dtype]):
        corpora.check_limit(x, np.full(x.shape, n, dtype=np.int64), mode, dtype,
                            what=f"families bound={n}")


@pytest.mark.slow
@ftypes
@modes
@pytest.mark.parametrize("n", [1, 113, 10**6, 2**31 - 1, 2**63 - 1])
def test_random_weights_fixed_bounds_full(ftype, mode, n):
    """The full random corpus at a fixed bound n, for every output type that accepts n."""
    x = corpora.random_weights(ftype)
    values = corpora.random_values(ftype, mode)
    expected = corpora.limit_all(values, [n] * x.size)
    for dtype in INTS:
        if n <= CAP[dtype]:
            corpora.check_kernel(
                lambda idx, d=dtype: fastfrac.limit_denominator(
                    x if idx is None else x[idx], n, mode=mode, dtype=d
                ),
                x, expected, dtype, what=f"random fixed bound {n} {IT_IDS[dtype]}",
            )


# ---- shapes and broadcasting of the bounds -------------------------------------


@modes
def test_bounds_broadcast_against_x(mode):
    x = np.array([[0.1], [-0.333], [3.14159265], [2.5], [1e-7]], dtype=np.float32)  # (5, 1)
    bounds = np.array([1, 7, 113, 10**6])  # (4,)
    num, den = fastfrac.limit_denominator(x, bounds, mode=mode)
    assert num.shape == den.shape == (5, 4)
    for i in range(5):
        for j in range(4):
            f = direct(x[i, 0], int(bounds[j]), mode)
            assert (num[i, j], den[i, j]) == (f.numerator, f.denominator)


@modes
def test_zero_dimensional_x_with_array_of_bounds(mode):
    x = np.float64(np.pi)
    bounds = [1, 10, 100, 1000, 10**5]
    num, den = fastfrac.limit_denominator(x, bounds, mode=mode)
    assert num.shape == (5,)
    assert [Fraction(int(a), int(b)) for a, b in zip(num, den)] == [
        direct(x, n, mode) for n in bounds
    ]


@dtypes
def test_numerator_overflow_from_a_large_bound(dtype):
    """pi with the largest bound: the numerator exceeds int32 but fits int64."""
    x = np.array([0.5, np.pi, -np.pi])
    expected = [direct(v, CAP[dtype], "decimal") for v in x]
    n = corpora.check_kernel(
        corpora.limit_runner(x, np.full(3, CAP[dtype]), "decimal", dtype), x, expected, dtype,
        what="pi at cap",
    )
    assert n == 3
    if dtype is np.int32:
        assert corpora.first_overflow(expected, dtype) == 1  # derived from Fraction
