"""The input contract of approximate, limit_denominator and max_denominator.

Layouts (non-contiguous, Fortran, byte-swapped, read-only), 0-d and empty
arrays, lists and scalars, the accepted and rejected dtypes, NaN/inf,
p and max_den ranges, numerator overflow messages, and the guarantee that
the input is never modified.  Results of unusual layouts are compared with
the same values as a plain C-contiguous native array, and those with Fraction.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

import fastfrac

import corpora
from corpora import CAP, FLOATS, INTS, MAX_P, MODES

FT_IDS = {np.float32: "float32", np.float64: "float64"}
IT_IDS = {np.int32: "int32", np.int64: "int64"}
ftypes = pytest.mark.parametrize("ftype", FLOATS, ids=lambda t: FT_IDS[t])
dtypes = pytest.mark.parametrize("dtype", INTS, ids=lambda t: IT_IDS[t])
modes = pytest.mark.parametrize("mode", MODES)

FUNCTIONS = ["approximate", "limit_denominator", "max_denominator"]


def call(name: str, x, **kw):
    """Each public function with a valid second argument."""
    if name == "approximate":
        return fastfrac.approximate(x, kw.pop("p", 3), **kw)
    if name == "limit_denominator":
        return fastfrac.limit_denominator(x, kw.pop("max_den", 1000), **kw)
    kw.pop("mode", None)
    return fastfrac.max_denominator(x, kw.pop("p", 3), **kw)


def sample(ftype, shape=(4, 6), seed=3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.3, shape).astype(ftype)


def expected_approximate(x, p, mode, dtype):
    bounds = corpora.seed_bounds(x, p, dtype)
    return corpora.limit_all(corpora.seed_values(x, mode), bounds)


def assert_same_as_plain(got, x, p, mode, dtype):
    """got (from an unusual layout of x) equals the Fraction answers for x's values."""
    plain = np.array(x, dtype=x.dtype.newbyteorder("="), order="C", copy=True)
    corpora.assert_fractions_equal(got, expected_approximate(plain, p, mode, dtype), plain, dtype)
    ref = fastfrac.approximate(plain, p, mode=mode, dtype=dtype)
    np.testing.assert_array_equal(got.num, ref.num)
    np.testing.assert_array_equal(got.den, ref.den)
    assert got.num.flags.c_contiguous and got.den.flags.c_contiguous


# ---- layouts ------------------------------------------------------------------------


def layouts(ftype):
    base = sample(ftype, (6, 8))
    swapped = base.astype(base.dtype.newbyteorder("S"))
    readonly = base.copy()
    readonly.flags.writeable = False
    cube = sample(ftype, (3, 4, 5), seed=9)
    return {
        "strided": base[::2, 1::3],
        "reversed": base[::-1, ::-1],
        "transposed": base.T,
        "fortran": np.asfortranarray(base),
        "byteswapped": swapped,
        "byteswapped-strided": swapped[1::2, ::-2],
        "readonly": readonly,
        "3d-sliced": cube[:, ::2, 1:],
        "broadcast-view": np.broadcast_to(base[0], (3, 8)),
    }


LAYOUTS = list(layouts(np.float32))


@ftypes
@dtypes
@modes
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_match_plain_arrays(ftype, dtype, mode, layout):
    x = layouts(ftype)[layout]
    assert x.dtype.kind == "f" and x.dtype.itemsize == np.dtype(ftype).itemsize
    before = x.copy()
    got = fastfrac.approximate(x, 4, mode=mode, dtype=dtype)
    assert got.num.shape == x.shape
    assert_same_as_plain(got, x, 4, mode, dtype)
    bounds = fastfrac.max_denominator(x, 4, dtype=dtype)
    assert bounds.shape == x.shape and bounds.dtype == np.int64
    assert bounds.tolist() == np.array(corpora.seed_bounds(x, 4, dtype)).reshape(x.shape).tolist()
    lim = fastfrac.limit_denominator(x, bounds, mode=mode, dtype=dtype)
    np.testing.assert_array_equal(lim.num, got.num)
    np.testing.assert_array_equal(lim.den, got.den)
    np.testing.assert_array_equal(x, before)  # the input is never modified
    assert x.dtype == before.dtype


@ftypes
def test_byteswapped_input_is_not_modified(ftype):
    x = sample(ftype).astype(np.dtype(ftype).newbyteorder("S"))
    raw = x.tobytes()
    for name in FUNCTIONS:
        call(name, x)
    fastfrac.approximate(x, 2, mode="exact", dtype=np.int64)
    assert x.tobytes() == raw
    assert x.dtype.byteorder in "<>" and not x.dtype.isnative


@pytest.mark.parametrize("name", FUNCTIONS)
def test_readonly_input_accepted(name):
    x = sample(np.float32)
    x.flags.writeable = False
    call(name, x)
    assert not x.flags.writeable


@ftypes
@pytest.mark.parametrize("name", FUNCTIONS)
def test_input_never_modified(ftype, name):
    """Including values that are normalised on the way (-0.0, subnormals, ties)."""
    x = np.concatenate(
        [sample(ftype).reshape(-1), corpora.subnormals(ftype)[:20], [-0.0, 0.5, -0.5, 1e-30]]
    ).astype(ftype)
    before = x.copy()
    raw = x.tobytes()
    for mode in MODES:
        call(name, x, mode=mode)
    assert x.tobytes() == raw
    np.testing.assert_array_equal(x, before)


# ---- shapes: 0-d, empty, n-d ---------------------------------------------------------


@ftypes
@dtypes
@modes
def test_zero_dimensional_in_zero_dimensional_out(ftype, dtype, mode):
    for x in (np.array(0.3, dtype=ftype), ftype(0.3), ftype(-2.5)):
        num, den = fastfrac.approximate(x, 2, mode=mode, dtype=dtype)
        assert num.shape == den.shape == ()
        assert isinstance(num, np.ndarray) and num.dtype == np.dtype(dtype)
        want = corpora.seed_value(ftype(x), mode).limit_denominator(
            corpora.seed_bounds(np.asarray(x), 2, dtype)[0]
        )
        assert Fraction(int(num), int(den)) == want
        num, den = fastfrac.limit_denominator(x, 7, mode=mode, dtype=dtype)
        assert num.shape == ()
        want = corpora.seed_value(ftype(x), mode).limit_denominator(7)
        assert Fraction(int(num), int(den)) == want
        bound = fastfrac.max_denominator(x, 2, dtype=dtype)
        assert bound.shape == () and bound.dtype == np.int64


@ftypes
@dtypes
@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0, 2), (2, 0)])
def test_empty_arrays(ftype, dtype, shape):
    x = np.zeros(shape, dtype=ftype)
    for mode in MODES:
        num, den = fastfrac.approximate(x, 2, mode=mode, dtype=dtype)
        assert num.shape == den.shape == shape and num.dtype == np.dtype(dtype)
        num, den = fastfrac.limit_denominator(x, 5, mode=mode, dtype=dtype)
        assert num.shape == shape and den.dtype == np.dtype(dtype)
    b = fastfrac.max_denominator(x, 2, dtype=dtype)
    assert b.shape == shape and b.dtype == np.int64


@ftypes
def test_n_dimensional_shapes_kept(ftype):
    x = sample(ftype, (2, 3, 4, 5))
    num, den = fastfrac.approximate(x, 3)
    assert num.shape == den.shape == x.shape
    flat = fastfrac.approximate(x.reshape(-1), 3)
    np.testing.assert_array_equal(num.reshape(-1), flat.num)
    np.testing.assert_array_equal(den.reshape(-1), flat.den)


def test_result_is_a_named_tuple():
    r = fastfrac.approximate(np.float32([0.25]), 2)
    assert isinstance(r, fastfrac.Fractions) and isinstance(r, tuple)
    assert r.num is r[0] and r.den is r[1]
    assert r._fields == ("num", "den")


# ---- lists, Python scalars, NumPy scalars -------------------------------------------


@modes
def test_lists_and_python_numbers_are_float64(mode):
    for x in ([1, 2], [0.1, -0.7], [[1.5, 2.25], [3, -4]], 0.1, 3, -7.125):
        as64 = np.asarray(x, dtype=np.float64)
        got = fastfrac.approximate(x, 9, mode=mode, dtype=np.int64)
        want = fastfrac.approximate(as64, 9, mode=mode, dtype=np.int64)
        assert got.num.shape == as64.shape
        np.testing.assert_array_equal(got.num, want.num)
        np.testing.assert_array_equal(got.den, want.den)
        corpora.assert_fractions_equal(
            got, expected_approximate(as64, 9, mode, np.int64), as64, np.int64
        )
    num, den = fastfrac.approximate([1, 2], 2)
    assert num.tolist() == [1, 2] and den.tolist() == [1, 1]


def test_python_float_differs_from_float32_where_str_does():
    """A Python float is float64: 1/3 prints with 16 digits, float32 1/3 with 8."""
    v = 1 / 3
    wide = fastfrac.limit_denominator(v, 10**12, dtype=np.int64)
    narrow = fastfrac.limit_denominator(np.float32(v), 10**12, dtype=np.int64)
    assert Fraction(int(wide.num), int(wide.den)) == Fraction(str(v)).limit_denominator(10**12)
    want = Fraction(str(np.float32(v))).limit_denominator(10**12)
    assert Fraction(int(narrow.num), int(narrow.den)) == want
    assert (int(wide.num), int(wide.den)) != (int(narrow.num), int(narrow.den))


@ftypes
def test_numpy_float_scalars_keep_their_type(ftype):
    v = ftype(1 / 3)
    got = fastfrac.approximate(v, 9, dtype=np.int64)
    arr = fastfrac.approximate(np.array([v]), 9, dtype=np.int64)
    assert got.num.shape == ()
    assert (int(got.num), int(got.den)) == (int(arr.num[0]), int(arr.den[0]))
    bound = corpora.seed_bounds(np.array([v]), 9, np.int64)[0]
    assert fastfrac.max_denominator(v, 9, dtype=np.int64) == bound


# ---- rejected types -----------------------------------------------------------------

BAD_ARRAYS = {
    "int32": np.array([1, 2], dtype=np.int32),
    "int64": np.array([1, 2], dtype=np.int64),
    "uint8": np.array([1, 2], dtype=np.uint8),
    "bool": np.array([True, False]),
    "complex64": np.array([1 + 0j], dtype=np.complex64),
    "complex128": np.array([1 + 2j]),
    "object": np.array([0.5, 1.5], dtype=object),
    "uint16": np.array([1], dtype=np.uint16),  # bit patterns: which 16-bit float is unknown
    "longdouble": np.array([0.5], dtype=np.longdouble),
    "int-scalar": np.int64(3),
    "bool-scalar": np.bool_(True),
    "uint16-scalar": np.uint16(1),
    "complex-list": [1 + 2j],
    "text-list": ["abc"],
    "string": "0.5",
}


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("bad", list(BAD_ARRAYS))
def test_rejected_input_types(name, bad):
    x = BAD_ARRAYS[bad]
    if bad == "longdouble" and np.dtype(np.longdouble) == np.dtype(np.float64):
        pytest.skip("longdouble is float64 on this platform, hence accepted")
    with pytest.raises(TypeError):
        call(name, x)


def test_uint16_message_says_how_to_view_bit_patterns():
    with pytest.raises(TypeError, match="view them as numpy.float16 or ml_dtypes.bfloat16"):
        fastfrac.approximate(np.array([0x3C00], dtype=np.uint16), 2)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize(
    "dtype",
    [np.int8, np.int16, np.uint32, np.uint64, np.float64, np.float32, "float", bool, object],
)
def test_rejected_output_dtypes(name, dtype):
    with pytest.raises(TypeError, match="dtype"):
        call(name, np.float32([0.5]), dtype=dtype)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.dtype("int32"), np.dtype("int64")])
def test_accepted_output_dtypes(dtype):
    num, den = fastfrac.approximate(np.float32([0.5]), 2, dtype=dtype)
    assert num.dtype == np.dtype(dtype) and den.dtype == np.dtype(dtype)


@pytest.mark.parametrize("mode", ["Decimal", "binary", "", None, 0])
def test_rejected_modes(mode):
    with pytest.raises(ValueError, match="mode"):
        fastfrac.approximate(np.float32([0.5]), 2, mode=mode)
    with pytest.raises(ValueError, match="mode"):
        fastfrac.limit_denominator(np.float32([0.5]), 2, mode=mode)


# ---- NaN and infinity -----------------------------------------------------------------


@ftypes
@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("order", ["C", "F"])
def test_non_finite_values_named_with_count_and_first_c_order_index(ftype, name, order):
    x = np.zeros((3, 4), dtype=ftype)
    x[2, 0] = np.nan  # C order: (1, 3) comes first, though (2, 0) is first in F order
    x[1, 3] = np.inf
    x[2, 3] = -np.inf
    x = np.asarray(x, order=order)
    before = x.copy()
    with pytest.raises(ValueError, match=r"3 non-finite values.*index \(1, 3\)"):
        call(name, x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_single_non_finite_value(name, bad):
    with pytest.raises(ValueError, match=r"1 non-finite value.*index \(\)"):
        call(name, np.float64(bad))
    with pytest.raises(ValueError, match=r"1 non-finite value.*index \(2,\)"):
        call(name, [0.5, 1.0, bad, 2.0])


# ---- p ---------------------------------------------------------------------------------


@dtypes
def test_every_p_in_range_accepted(dtype):
    x = np.float32([0.123, -4.5])
    for p in range(MAX_P[dtype] + 1):
        fastfrac.approximate(x, p, dtype=dtype)
        fastfrac.max_denominator(x, p, dtype=dtype)
    fastfrac.approximate(x, np.int64(3), dtype=dtype)  # NumPy integers are integers


@pytest.mark.parametrize(
    ("p", "dtype"),
    [(-1, np.int32), (10, np.int32), (-1, np.int64), (19, np.int64), (100, np.int64)],
)
@pytest.mark.parametrize("name", ["approximate", "max_denominator"])
def test_p_out_of_range(p, dtype, name):
    with pytest.raises(ValueError, match="p must"):
        call(name, np.float32([0.5]), p=p, dtype=dtype)


def test_p_above_int32_range_suggests_int64():
    with pytest.raises(ValueError, match="int64"):
        fastfrac.approximate(np.float32([0.5]), 12)
    fastfrac.approximate(np.float32([0.5]), 12, dtype=np.int64)


@pytest.mark.parametrize("p", [2.0, 2.5, "2", None, True, [2], np.float64(2)])
@pytest.mark.parametrize("name", ["approximate", "max_denominator"])
def test_p_not_an_integer(p, name):
    with pytest.raises(ValueError, match="p must"):
        call(name, np.float32([0.5]), p=p)


# ---- max_den -------------------------------------------------------------------------


@dtypes
def test_max_den_range(dtype):
    x = np.float64([np.pi, -np.e])
    cap = CAP[dtype]
    for n in (1, 2, cap - 1, cap):
        fastfrac.limit_denominator(np.float64([0.5, -0.25]), n, dtype=dtype)
    for n in (0, -1, -(2**40)):
        with pytest.raises(ValueError, match=">= 1"):
            fastfrac.limit_denominator(x, n, dtype=dtype)
    with pytest.raises(ValueError, match="max_den"):
        fastfrac.limit_denominator(x, cap + 1, dtype=dtype)  # no silent clamp
    with pytest.raises(ValueError, match="max_den"):
        fastfrac.limit_denominator(x, np.array([5, cap + 1], dtype=np.uint64), dtype=dtype)
    with pytest.raises(ValueError, match="max_den"):
        fastfrac.limit_denominator(x, [0, 5], dtype=dtype)


@dtypes
def test_max_den_list_above_the_maximum_is_a_value_error(dtype):
    """A list holding a bound above the type's maximum: ValueError like the scalar.

    For int64, NumPy turns [5, 2**63] into float64, which must not turn the
    range error into a TypeError.
    """
    with pytest.raises(ValueError, match="max_den"):
        fastfrac.limit_denominator([0.5, 0.25], [5, CAP[dtype] + 1], dtype=dtype)


def test_max_den_above_int32_suggests_int64():
    with pytest.raises(ValueError, match="int64"):
        fastfrac.limit_denominator([0.5], 2**31)
    num, den = fastfrac.limit_denominator([np.pi], 2**31, dtype=np.int64)
    assert Fraction(int(num[0]), int(den[0])) == Fraction(str(np.pi)).limit_denominator(2**31)


@pytest.mark.parametrize("n", [2**63, 2**64, 2**70, np.uint64(2**63)])
def test_max_den_beyond_int64(n):
    with pytest.raises(ValueError):
        fastfrac.limit_denominator([0.5], n, dtype=np.int64)


@pytest.mark.parametrize("n", [2.0, 0.5, np.float64(3), "3", [1.5]])
def test_max_den_not_integers(n):
    with pytest.raises((TypeError, ValueError)):
        fastfrac.limit_denominator([0.5], n)


def test_max_den_that_does_not_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        fastfrac.limit_denominator(np.zeros((3, 2)), np.ones(3, dtype=np.int64))


@pytest.mark.parametrize(
    "bounds_dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64]
)
def test_max_den_integer_dtypes(bounds_dtype):
    x = np.float64([np.pi, 0.1, -0.3])
    bounds = np.array([7, 3, 100], dtype=bounds_dtype)
    num, den = fastfrac.limit_denominator(x, bounds)
    assert [Fraction(int(a), int(b)) for a, b in zip(num, den)] == [
        Fraction(str(v)).limit_denominator(int(n)) for v, n in zip(x, bounds)
    ]


def test_max_den_array_not_modified():
    bounds = np.array([7, 3, 100], dtype=np.int32)
    before = bounds.copy()
    fastfrac.limit_denominator(np.float32([1, 2, 3]), bounds)
    np.testing.assert_array_equal(bounds, before)


# ---- numerator overflow messages -------------------------------------------------------


@ftypes
@pytest.mark.parametrize("order", ["C", "F"])
def test_overflow_names_first_c_order_index_and_suggests_int64(ftype, order):
    x = np.full((3, 4), 0.5, dtype=ftype)
    x[2, 0] = 5e9  # numerator 5e9 does not fit int32 (bound 1 at p=0)
    x[1, 2] = -4e9
    x = np.asarray(x, order=order)
    message = re.escape("at index (1, 2)") + ".*int32.*dtype=numpy.int64"
    with pytest.raises(ValueError, match=message):
        fastfrac.approximate(x, 0)
    with pytest.raises(ValueError, match=message):
        fastfrac.limit_denominator(x, 1)
    num, den = fastfrac.approximate(x, 0, dtype=np.int64)
    assert num[2, 0] == 5_000_000_000 and num[1, 2] == -4_000_000_000


def test_overflow_in_int64_has_no_wider_type_to_suggest():
    x = np.float64([1.0, 2.0, 1e19])
    with pytest.raises(ValueError, match=re.escape("at index (2,)") + ".*int64"):
        fastfrac.approximate(x, 0, dtype=np.int64)


@pytest.mark.parametrize("edge", [-(2**31), 2**31 - 1])
def test_int32_numerator_edges_fit(edge):
    """-2**31 and 2**31 - 1 are int32; one step beyond is not."""
    num, den = fastfrac.approximate(np.float64([edge]), 0)
    assert int(num[0]) == edge and int(den[0]) == 1
    beyond = edge + (1 if edge > 0 else -1)
    with pytest.raises(ValueError, match=re.escape("at index (0,)")):
        fastfrac.approximate(np.float64([beyond]), 0)
    num, _ = fastfrac.approximate(np.float64([beyond]), 0, dtype=np.int64)
    assert int(num[0]) == beyond


def test_int64_numerator_edge():
    """-2**63 fits int64 (exact mode); +2**63 does not."""
    num, den = fastfrac.approximate(np.float64([-(2.0**63)]), 0, mode="exact", dtype=np.int64)
    assert int(num[0]) == -(2**63) and int(den[0]) == 1
    with pytest.raises(ValueError, match=re.escape("at index (0,)")):
        fastfrac.approximate(np.float64([2.0**63]), 0, mode="exact", dtype=np.int64)


# ---- the input rule: numpy.asarray(x), float dtype kept whatever the container ---------


class _ArrayOwner:
    """A minimal non-NumPy array type (as Dask or xarray are): only __array__."""

    def __init__(self, values: np.ndarray) -> None:
        self._values = values

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self._values if dtype is None else self._values.astype(dtype)


def containers(values: np.ndarray) -> dict[str, object]:
    import array

    code = "f" if values.dtype == np.float32 else "d"
    return {
        "memoryview": memoryview(values),
        "array.array": array.array(code, values.tolist()),
        "__array__": _ArrayOwner(values),
        "list-of-numpy-floats": list(values),
    }


@ftypes
@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("container", ["memoryview", "array.array", "__array__",
                                       "list-of-numpy-floats"])
def test_input_rule_keeps_the_float_type_of_any_container(ftype, name, container):
    values = ftype([0.1, -0.7, 1 / 3, 2.5e-5])
    got = call(name, containers(values)[container])
    want = call(name, values)
    pairs = [(got, want)] if name == "max_denominator" else list(zip(got, want))
    for g, w in pairs:
        np.testing.assert_array_equal(g, w)
    if name == "approximate":
        # float32 0.1 is 1/10 in decimal mode, as for the ndarray (not 13421773/134217728).
        assert (int(got.num[0]), int(got.den[0])) == (1, 10)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize(
    "bad, word",
    [(None, "None"), ([None, 0.5], "None"), ("0.5", "str"), (["0.5"], "str"), (b"1", "bytes"),
     ([b"1"], "bytes"), (True, "bools"), ([True, False], "bools"), ([1.5, True], "bools"),
     (np.array([True]), "bools"), (np.bool_(False), "bools"), (np.array(["0.5"]), "strings")],
    ids=["None", "None-list", "str", "str-list", "bytes", "bytes-list", "bool", "bool-list",
         "bool-in-list", "bool-array", "bool-scalar", "str-array"],
)
def test_input_rule_rejects_none_text_and_bools(name, bad, word):
    with pytest.raises(TypeError, match=rf"^x must be numbers, not {word}$"):
        call(name, bad)
    with pytest.raises(TypeError, match=word):
        getattr(reference_module(), name)(bad, *([3] if name != "limit_denominator" else [1000]))


def reference_module():
    from fastfrac import reference

    return reference


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("bad", [10**400, [0.5, -(10**309)], [[1.0], [2**1100]]],
                         ids=["scalar", "list", "nested"])
def test_input_rule_python_numbers_beyond_float64_are_a_value_error(name, bad):
    with pytest.raises(ValueError, match=r"^x has a value outside float64's range: -?1\d*\.\.\.\d+ "
                                         r"\(\d+ digits\)$"):
        call(name, bad)


def test_input_rule_python_ints_beyond_int64_are_float64():
    with pytest.raises(ValueError, match=r"element 1\.1805916207174113e\+21 .* does not fit int64"):
        fastfrac.approximate([2**70], 0, dtype=np.int64)  # a float64 value, too big a numerator
    assert fastfrac.max_denominator([2**70, 1], 2).tolist() == [1, 100]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_input_rule_masked_arrays_are_refused(name):
    masked = np.ma.masked_array(np.float32([0.5, 2.0]), mask=[False, True])
    with pytest.raises(TypeError, match=r"masked array.*\.filled\(value\) or x\.compressed\(\)"):
        call(name, masked)
    call(name, masked.compressed())  # the advice works


def test_input_rule_messages_print_values_in_their_own_type():
    big = memoryview(np.float32([0.5, 3e10]))
    with pytest.raises(ValueError, match=r"the element 3e\+10 at index \(1,\)"):
        fastfrac.approximate(big, 9)
    with pytest.raises(ValueError, match=r"the element 3e\+10 at index \(1,\)"):
        fastfrac.limit_denominator(big, 2**31 - 1)
    with pytest.raises(ValueError, match=r"the first is nan at index \(0,\)"):
        fastfrac.approximate([np.float32("nan")], 2)


def test_input_rule_half_types_are_kept_from_any_container():
    import ml_dtypes

    want = fastfrac.approximate(np.float16([0.1, 0.3]), 4)
    assert (want.num.tolist(), want.den.tolist()) == ([1, 3], [10, 10])  # float16's own shortest
    class Holder:  # an __array__ object
        def __array__(self, dtype=None, copy=None):
            return np.float16([0.1, 0.3])

    for x in ([np.float16(0.1), np.float16(0.3)], memoryview(np.float16([0.1, 0.3])), Holder()):
        got = fastfrac.approximate(x, 4)
        assert got.num.tolist() == want.num.tolist() and got.den.tolist() == want.den.tolist()
    bf = [ml_dtypes.bfloat16(0.1), ml_dtypes.bfloat16(0.3)]
    got = fastfrac.approximate(bf, 4)  # 0.10009765625 and 0.30078125 as bfloat16: 1/10, 3/10
    assert (got.num.tolist(), got.den.tolist()) == ([1, 3], [10, 10])
    widened = fastfrac.approximate(np.asarray(bf, dtype=np.float32), 4)
    assert widened.den.tolist() != [10, 10]


def test_input_rule_reference_takes_the_same_inputs():
    from fastfrac import reference

    values = np.float32([0.1, -0.7, 1 / 3])
    for x in containers(values).values():
        want = fastfrac.approximate(values, 4)
        got = reference.approximate(x, 4)
        np.testing.assert_array_equal(got.num, want.num)
        np.testing.assert_array_equal(got.den, want.den)
    with pytest.raises(TypeError, match="masked array"):
        reference.approximate(np.ma.masked_array([0.5]), 2)
