"""fastfrac.approximate and fastfrac.max_denominator against the Fraction expression.

Every expected answer is computed in the test from ``fractions.Fraction``:
``Fraction(str(v)).limit_denominator(bound)`` (``Fraction(float(v))`` in
exact mode) with ``bound = int(10**p / abs(v))`` evaluated on the NumPy
scalar and clamped to the output type.  Numerators that do not fit the
output type must raise ValueError naming the first such index.
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
from corpora import CAP, FLOATS, INTS, MAX_P, MODES

FT_IDS = {np.float32: "float32", np.float64: "float64"}
IT_IDS = {np.int32: "int32", np.int64: "int64"}

ftypes = pytest.mark.parametrize("ftype", FLOATS, ids=lambda t: FT_IDS[t])
dtypes = pytest.mark.parametrize("dtype", INTS, ids=lambda t: IT_IDS[t])
modes = pytest.mark.parametrize("mode", MODES)


# ---- the bound is the seed's expression, in x's own float type --------------------


@ftypes
@pytest.mark.parametrize("p", range(19))
def test_bound_expression_evaluates_in_the_element_type(ftype, p):
    """NumPy 2 computes the seed's ``10**p / abs(v)`` in v's type (what the spec relies on)."""
    v = ftype(0.3)
    q = 10**p / abs(v)
    assert type(q) is ftype
    assert q == ftype(10**p) / ftype(0.3)


# ---- hypothesis: kernel == reference == Fraction ---------------------------------


def element_floats(width: int) -> st.SearchStrategy[float]:
    """Any finite float of the width, weight-like ones, and small magnitudes."""
    return st.one_of(
        st.floats(width=width, allow_nan=False, allow_infinity=False),
        st.floats(min_value=-2.0, max_value=2.0, width=width),
        st.builds(
            lambda m, e: m * 10.0**e,
            st.floats(min_value=-10.0, max_value=10.0),
            st.integers(min_value=-14, max_value=5),
        ),
    )


def direct_expected(
    x: np.ndarray, p: int, mode: str, cap: int
) -> tuple[list[int], list[Fraction]]:
    """The seed's expression, written out: bound and Fraction per element."""
    bounds, answers = [], []
    with np.errstate(over="ignore"):
        for v in x.reshape(-1):
            if v == 0:
                bound = 1
            else:
                q = 10**p / abs(v)
                bound = cap if np.isinf(q) else min(max(int(q), 1), cap)
            value = Fraction(str(v)) if mode == "decimal" else Fraction(float(v))
            bounds.append(bound)
            answers.append(value.limit_denominator(bound))
    return bounds, answers


@ftypes
@dtypes
@modes
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_kernel_reference_and_fraction_agree(ftype, dtype, mode, data):
    width = 32 if ftype is np.float32 else 64
    values = data.draw(st.lists(element_floats(width), min_size=1, max_size=16), label="x")
    p = data.draw(st.integers(min_value=0, max_value=MAX_P[dtype]), label="p")
    with np.errstate(over="ignore"):
        x = np.array(values, dtype=ftype)
    x = x[np.isfinite(x)]  # the lambda strategy can round to inf in float32
    if x.size == 0:
        return
    bounds, expected = direct_expected(x, p, mode, CAP[dtype])

    assert fastfrac.max_denominator(x, p, dtype=dtype).tolist() == bounds
    assert reference.max_denominator(x, p, dtype=dtype).tolist() == bounds

    corpora.check_kernel(
        corpora.approximate_runner(x, p, mode, dtype), x, expected, dtype, bounds=bounds,
        what=f"approximate p={p} {mode}",
    )
    corpora.check_reference(
        lambda: reference.approximate(x, p, mode=mode, dtype=dtype), expected, x, dtype
    )


@ftypes
@dtypes
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_property_max_denominator_is_the_seed_bound(ftype, dtype, data):
    width = 32 if ftype is np.float32 else 64
    values = data.draw(
        st.lists(st.floats(width=width, allow_nan=False, allow_infinity=False), min_size=1,
                 max_size=32)
    )
    p = data.draw(st.integers(min_value=0, max_value=MAX_P[dtype]))
    x = np.array(values, dtype=ftype)
    expected = corpora.seed_bounds(x, p, dtype)
    got = fastfrac.max_denominator(x, p, dtype=dtype)
    assert got.dtype == np.int64 and got.shape == x.shape
    assert got.tolist() == expected


# ---- random weight-like corpora (10**5 values per float type) ---------------------


def _chunks(n: int, k: int) -> list[slice]:
    edges = np.linspace(0, n, k + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


@ftypes
@dtypes
@modes
def test_random_weights_all_precisions_in_chunks(ftype, dtype, mode):
    """The full 10**5-value corpus, one contiguous chunk per p in 0..max_p."""
    x = corpora.random_weights(ftype)
    values = corpora.random_values(ftype, mode)
    ps = range(MAX_P[dtype] + 1)
    checked = 0
    for p, part in zip(ps, _chunks(x.size, len(ps))):
        xs = x[part]
        bounds = corpora.seed_bounds(xs, p, dtype)
        expected = corpora.limit_all(values[part], bounds)
        checked += corpora.check_kernel(
            corpora.approximate_runner(xs, p, mode, dtype), xs, expected, dtype,
            bounds=bounds, what=f"random {FT_IDS[ftype]} p={p} {mode} {IT_IDS[dtype]}",
        )
    assert checked == x.size


@ftypes
@modes
def test_random_weights_reference_agrees(ftype, mode):
    """fastfrac.reference (the oracle) equals the kernel on a slice of the random corpus."""
    x = corpora.random_weights(ftype)[:3000]
    for p, dtype in ((2, np.int32), (4, np.int32), (9, np.int32), (12, np.int64), (18, np.int64)):
        ref = reference.approximate(x, p, mode=mode, dtype=dtype)
        got = fastfrac.approximate(x, p, mode=mode, dtype=dtype)
        np.testing.assert_array_equal(got.num, ref.num)
        np.testing.assert_array_equal(got.den, ref.den)


@pytest.mark.slow
@ftypes
@modes
@pytest.mark.parametrize("p", range(19))
def test_random_weights_every_precision_full(ftype, mode, p):
    """The full random corpus at every p: int32 (p <= 9) and int64."""
    x = corpora.random_weights(ftype)
    values = corpora.random_values(ftype, mode)
    b64 = corpora.seed_bounds(x, p, np.int64)
    e64 = corpora.limit_all(values, b64)
    corpora.check_kernel(
        corpora.approximate_runner(x, p, mode, np.int64), x, e64, np.int64, bounds=b64,
        what=f"random p={p} {mode} int64",
    )
    if p <= MAX_P[np.int32]:
        b32 = corpora.clamp_bounds(b64, np.int32)
        e32 = corpora.limit_all(values, b32, reuse=(b64, e64))
        corpora.check_kernel(
            corpora.approximate_runner(x, p, mode, np.int32), x, e32, np.int32, bounds=b32,
            what=f"random p={p} {mode} int32",
        )


# ---- where the bound floor(10**p / |x|) steps ------------------------------------


@ftypes
@pytest.mark.parametrize("p", range(19))
def test_bound_steps(ftype, p):
    """x = T(10**p)/T(k) and 2 ulps around: the bound and the answers, both modes."""
    x = corpora.bound_steps(ftype, p)
    dts = [d for d in INTS if p <= MAX_P[d]]
    bounds = {d: corpora.seed_bounds(x, p, d) for d in dts}
    for d in dts:
        assert fastfrac.max_denominator(x, p, dtype=d).tolist() == bounds[d]
    # The corpus really straddles steps: consecutive neighbours with different bounds.
    b = np.array(bounds[np.int64])
    assert np.count_nonzero(np.diff(b.reshape(5, -1), axis=0)) > x.size // 20
    for mode in MODES:
        values = corpora.seed_values(x, mode)
        previous = None
        for d in sorted(dts, key=lambda t: -np.dtype(t).itemsize):  # int64 first
            expected = corpora.limit_all(values, bounds[d], reuse=previous)
            corpora.check_kernel(
                corpora.approximate_runner(x, p, mode, d), x, expected, d, bounds=bounds[d],
                what=f"bound steps p={p} {mode} {IT_IDS[d]}",
            )
            previous = (bounds[d], expected)


# ---- the clamp of the bound to the output type ----------------------------------


@ftypes
@dtypes
def test_bound_clamp_edges(ftype, dtype):
    """|x| around 10**p / 2**31 (int32) and 10**p / 2**63 (int64), every p, both modes."""
    cap = CAP[dtype]
    above = below = 0
    for p in range(MAX_P[dtype] + 1):
        x = corpora.clamp_edges(ftype, p, dtype)
        bounds = corpora.seed_bounds(x, p, dtype)
        assert fastfrac.max_denominator(x, p, dtype=dtype).tolist() == bounds
        with np.errstate(over="ignore"):
            raw = [int(10**p / abs(v)) for v in x]  # the unclamped floor
        above += sum(r > cap for r in raw)
        below += sum(r < cap for r in raw)
        for mode in MODES:
            corpora.check_approximate(x, p, mode, dtype, what=f"clamp p={p} {mode}")
    assert above and below  # the corpus sits on both sides of the clamp


@ftypes
@dtypes
@modes
def test_bound_clamp_int32_differs_from_int64_below_the_edge(ftype, dtype, mode):
    """Below |x| = 10**p / 2**31 the int32 bound is clamped; int64 is not (p = 2)."""
    x = np.array([ftype(3e-9), ftype(-7.5e-9)])
    assert fastfrac.max_denominator(x, 2, dtype=np.int32).tolist() == [CAP[np.int32]] * 2
    wide = fastfrac.max_denominator(x, 2, dtype=np.int64).tolist()
    assert wide == corpora.seed_bounds(x, 2, np.int64)
    assert min(wide) > CAP[np.int32]
    corpora.check_approximate(x, 2, mode, dtype)


# ---- tiny values: subnormals, near 1/(2 cap), log-uniform down to the smallest normal --


@ftypes
@dtypes
@modes
def test_subnormals(ftype, dtype, mode):
    x = corpora.subnormals(ftype)
    for p in sorted({0, 1, MAX_P[dtype] // 2, MAX_P[dtype]}):
        bounds = corpora.seed_bounds(x, p, dtype)
        assert fastfrac.max_denominator(x, p, dtype=dtype).tolist() == bounds
        corpora.check_approximate(x, p, mode, dtype, what=f"subnormals p={p}")


@ftypes
@dtypes
@modes
def test_tiny_near_half_over_cap(ftype, dtype, mode):
    """Around 1/(2 cap) the answer at the largest bound switches between 0/1 and ±1/cap."""
    x = corpora.tiny_edges(ftype, dtype)
    got = fastfrac.approximate(x, 0, mode=mode, dtype=dtype)
    corpora.check_approximate(x, 0, mode, dtype, what="tiny edges p=0")
    assert (got.num == 0).any() and (got.num != 0).any()


@ftypes
@dtypes
@modes
def test_tiny_log_uniform(ftype, dtype, mode):
    x = corpora.log_tiny(ftype)
    for p in sorted({0, MAX_P[dtype] // 2, MAX_P[dtype]}):
        corpora.check_approximate(x, p, mode, dtype, what=f"log-tiny p={p}")


# ---- zero, integers, the largest floats, numerator overflow -------------------


@ftypes
@dtypes
@modes
def test_signed_zeros(ftype, dtype, mode):
    x = np.array([0.0, -0.0, 0.0, -0.0], dtype=ftype).reshape(2, 2)
    assert np.signbit(x).any()
    for p in (0, MAX_P[dtype]):
        assert fastfrac.max_denominator(x, p, dtype=dtype).tolist() == [[1, 1], [1, 1]]
        num, den = fastfrac.approximate(x, p, mode=mode, dtype=dtype)
        assert num.tolist() == [[0, 0], [0, 0]] and den.tolist() == [[1, 1], [1, 1]]
        corpora.check_approximate(x, p, mode, dtype)
    for z in (ftype(0.0), ftype(-0.0)):
        num, den = fastfrac.approximate(z, 3, mode=mode, dtype=dtype)
        assert num.shape == () and (int(num), int(den)) == (0, 1)
        assert Fraction(str(z)) == Fraction(float(z)) == 0


@ftypes
@dtypes
@modes
def test_integers(ftype, dtype, mode):
    """Integral floats (small, powers of two and ten, their neighbours); big ones overflow."""
    x = corpora.integers(ftype)
    for p in sorted({0, 3, MAX_P[dtype]}):
        corpora.check_approximate(x, p, mode, dtype, what=f"integers p={p}")


@ftypes
@dtypes
@modes
def test_largest_floats_overflow(ftype, dtype, mode):
    x = corpora.largest(ftype)
    for p in (0, MAX_P[dtype]):
        bounds = corpora.seed_bounds(x, p, dtype)
        expected = corpora.limit_all(corpora.seed_values(x, mode), bounds)
        # Derived from Fraction: none of these numerators fits any output type.
        assert all(abs(f.numerator) > 2**63 for f in expected)
        corpora.check_kernel(
            corpora.approximate_runner(x, p, mode, dtype), x, expected, dtype,
            what=f"largest p={p}",
        )


@ftypes
@dtypes
@modes
def test_numerators_at_the_integer_limits(ftype, dtype, mode):
    """Values near 2**31, 2**63, 1e19...: fit or overflow exactly as Fraction says."""
    x = corpora.around_int_limits(ftype)
    for p in (0, 2):
        corpora.check_approximate(x, p, mode, dtype, what=f"int limits p={p}")


@pytest.mark.parametrize("p", [0, 5, 18])
def test_float32_two_pow_63_decimal_fits_int64(p):
    """str(float32(2**63)) is 9.223372e+18, below 2**63: decimal fits int64, exact does not."""
    x = np.float32(2**63)
    value = Fraction(str(x))
    assert value.denominator == 1 and value.numerator <= 2**63 - 1 < Fraction(float(x))
    num, den = fastfrac.approximate(x, p, dtype=np.int64)
    assert (int(num), int(den)) == (value.numerator, 1)
    num, den = fastfrac.approximate(np.array([x, -x]), p, dtype=np.int64)
    assert num.tolist() == [value.numerator, -value.numerator] and den.tolist() == [1, 1]
    with pytest.raises(ValueError, match=r"at index \(\)"):
        fastfrac.approximate(x, p, mode="exact", dtype=np.int64)
    # The next float32 up prints as 9.223373e+18: above 2**63 - 1 in both modes.
    up = np.nextafter(x, np.float32(np.inf))
    assert Fraction(str(up)) > 2**63 - 1
    with pytest.raises(ValueError, match=r"at index \(1,\)"):
        fastfrac.approximate(np.array([x, up]), p, dtype=np.int64)
    with pytest.raises(ValueError, match="int64"):
        fastfrac.approximate(x, min(p, 9), dtype=np.int32)


@dtypes
def test_decimal_and_exact_differ_where_fraction_says(dtype):
    """float32 0.1 is 1/10 in decimal mode and 13421773/134217728 exactly."""
    x = np.float32(0.1)
    assert Fraction(str(x)) == Fraction(1, 10)
    exact = Fraction(float(x))
    p = MAX_P[dtype]
    for mode, value in (("decimal", Fraction(1, 10)), ("exact", exact)):
        bound = corpora.seed_bounds(np.array([x]), p, dtype)[0]
        want = value.limit_denominator(bound)
        num, den = fastfrac.approximate(x, p, mode=mode, dtype=dtype)
        assert Fraction(int(num), int(den)) == want


@ftypes
@dtypes
@modes
def test_powers_of_two(ftype, dtype, mode):
    """Every normal power of two and its neighbours: asymmetric rounding intervals."""
    x = corpora.powers_of_two(ftype)
    for p in (0, MAX_P[dtype]):
        corpora.check_approximate(x, p, mode, dtype, what=f"powers of two p={p}")
