"""Shortest round-trip digits (``_core.shortest_digits``) against NumPy.

The reference is what NumPy itself prints: ``str(np.float32(v))`` for float32
and ``repr(float(v))`` (which NumPy 2's ``str`` matches) for float64, parsed
by ``parse_decimal``.  Every expected value is computed from those strings at
run time; the families below only choose which inputs to try, by name, in the
manner of Ryu's test suite.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from fastfrac import _core

F32_EXP_ONES = 0x7F800000  # float32 exponent field all ones: inf / nan
F64_EXP_ONES = 0x7FF0000000000000


def parse_decimal(text: str) -> tuple[int, int]:
    """(digits, exp10) with |value| == digits * 10**exp10 and no trailing zero
    in digits, for a decimal as NumPy and Python print it ('-1.5e-07',
    '30000000000.0', '0.00024414062')."""
    mantissa, _, exponent = text.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    stripped = digits.rstrip("0")
    assert stripped, f"not a nonzero decimal: {text!r}"
    exp10 = int(exponent or "0") - len(fraction) + len(digits) - len(stripped)
    return int(stripped), exp10


def test_parse_decimal() -> None:
    assert parse_decimal("3e+10") == (3, 10)
    assert parse_decimal("30000000000.0") == (3, 10)
    assert parse_decimal("-0.00024414062") == (24414062, -11)
    assert parse_decimal("1.7976931348623157e+308") == (17976931348623157, 292)
    assert parse_decimal("5e-324") == (5, -324)
    assert parse_decimal("1.5e-07") == (15, -8)
    assert parse_decimal("120.5") == (1205, -1)


def numpy_strings(x: np.ndarray) -> list[str]:
    if x.dtype == np.float32:
        return [str(v) for v in x]  # np.float32 scalars
    return [repr(v) for v in x.tolist()]  # Python floats


def check(x: np.ndarray) -> None:
    """Asserts that shortest_digits(x) equals NumPy's digits for every element."""
    x = np.ascontiguousarray(x)
    assert x.ndim == 1 and x.size > 0
    assert np.all(np.isfinite(x)) and np.all(x != 0), "inputs must be finite and nonzero"
    digits, exp10 = _core.shortest_digits(x)
    assert digits.dtype == np.uint64 and exp10.dtype == np.int32
    assert digits.shape == x.shape and exp10.shape == x.shape
    strings = numpy_strings(x)
    want = [parse_decimal(s) for s in strings]
    want_digits = np.array([d for d, _ in want], dtype=np.uint64)
    want_exp10 = np.array([e for _, e in want], dtype=np.int32)
    bad = np.flatnonzero((digits != want_digits) | (exp10 != want_exp10))
    if bad.size:
        bits = x.view(np.uint32 if x.dtype == np.float32 else np.uint64)
        lines = [
            f"  {strings[i]} (bits {int(bits[i]):#x}): got {int(digits[i])}e{int(exp10[i])}, "
            f"NumPy {int(want_digits[i])}e{int(want_exp10[i])}"
            for i in bad[:10]
        ]
        pytest.fail(f"{bad.size} of {x.size} {x.dtype} values differ:\n" + "\n".join(lines))


def from_bits(bits, dtype) -> np.ndarray:
    """The finite nonzero values among the given bit patterns (as Python ints)."""
    if dtype == np.float32:
        b = np.array(sorted({int(v) % 2**32 for v in bits}), dtype=np.uint32)
        b = b[(b & 0x7FFFFFFF != 0) & (b & F32_EXP_ONES != F32_EXP_ONES)]
        return b.view(np.float32)
    b = np.array(sorted({int(v) % 2**64 for v in bits}), dtype=np.uint64)
    b = b[(b & np.uint64(0x7FFFFFFFFFFFFFFF) != 0) & (b & np.uint64(F64_EXP_ONES) != F64_EXP_ONES)]
    return b.view(np.float64)


def neighbours(bits, ulps: int = 3) -> list[int]:
    """Each bit pattern and the patterns up to `ulps` steps either side."""
    return [int(b) + j for b in bits for j in range(-ulps, ulps + 1)]


# ---- float32 families -----------------------------------------------------

MANT32, BIAS32 = 23, 127


def f32_bits(x) -> int:
    return int(np.float32(x).view(np.uint32))


def f32_subnormals() -> np.ndarray:
    # The first 2**14 subnormals (1..9 significant bits), then a sample of
    # the rest, and the top of the range next to the smallest normal.
    low = range(1, 2**14)
    spread = range(2**14, 2**23, 997)
    top = range(2**23 - 2**10, 2**23 + 2**10)
    return from_bits([*low, *spread, *top], np.float32)


def f32_powers_of_two() -> np.ndarray:
    normal = [e << MANT32 for e in range(1, 255)]
    subnormal = [1 << j for j in range(MANT32)]
    return from_bits(neighbours(normal + subnormal), np.float32)


def f32_powers_of_ten() -> np.ndarray:
    # NumPy's nearest float32 to 10**p; the neighbours also cover the largest
    # float below and the smallest above each power.
    return from_bits(neighbours([f32_bits(f"1e{p}") for p in range(-45, 39)]), np.float32)


def f32_min_max() -> np.ndarray:
    fi = np.finfo(np.float32)
    extremes = [fi.max, fi.smallest_normal, fi.smallest_subnormal, 1.0]
    return from_bits(neighbours([f32_bits(v) for v in extremes], 2), np.float32)


def f32_ties() -> np.ndarray:
    # Values whose exact decimal has one digit more than NumPy prints and
    # that digit is a 5: two candidates of the shortest length are equally
    # close (2**-12 = 0.000244140625 prints as 0.00024414062).
    cands = [np.float32(m) * np.float32(2.0) ** e for m in range(1, 64) for e in range(-60, 30)]
    ties = []
    for v in cands:
        exact = Decimal(float(v)).as_tuple().digits
        digits, _ = parse_decimal(str(v))
        if exact[-1] == 5 and len(exact) == len(str(digits)) + 1:
            ties.append(v)
    assert len(ties) >= 50
    return np.array(ties, dtype=np.float32)


def f32_regressions() -> np.ndarray:
    values = [
        3e10,  # the midpoint of two float32s, kept because the significand is even
        2.0**-12,  # a tie broken to the even digit
        1e-45,  # the smallest subnormal prints as one digit
        0.1, 0.2, 0.3, 1 / 3, 2 / 3,
        16777216.0, 16777218.0, 33554432.0, 1e10, 9.999999e9, 1e7, 1.5e15,
        1.17549435e-38, 3.4028235e38, 8.5070592e37, 9.8e-45, 7e-45,
        6.1035156e-05, 0.00024414062, 2.8421709e-14, 1.4901161e-08,
    ]
    return np.array(values, dtype=np.float32)


# ---- float64 families -----------------------------------------------------

MANT64 = 52


def f64_bits(x) -> int:
    return int(np.float64(x).view(np.uint64))


def f64_subnormals() -> np.ndarray:
    low = range(1, 2**14)
    spread = range(2**14, 2**52, 2**52 // 5003)
    top = range(2**52 - 2**10, 2**52 + 2**10)
    return from_bits([*low, *spread, *top], np.float64)


def f64_powers_of_two() -> np.ndarray:
    normal = [e << MANT64 for e in range(1, 2047)]
    subnormal = [1 << j for j in range(MANT64)]
    return from_bits(neighbours(normal + subnormal), np.float64)


def f64_powers_of_ten() -> np.ndarray:
    return from_bits(neighbours([f64_bits(float(f"1e{p}")) for p in range(-323, 309)]), np.float64)


def f64_min_max() -> np.ndarray:
    fi = np.finfo(np.float64)
    extremes = [fi.max, fi.smallest_normal, fi.smallest_subnormal, 1.0]
    return from_bits(neighbours([f64_bits(v) for v in extremes], 2), np.float64)


def f64_ties() -> np.ndarray:
    cands = [float(m) * 2.0**e for m in range(1, 64, 2) for e in range(-100, 100)]
    ties = []
    for v in cands:
        exact = Decimal(v).as_tuple().digits
        digits, _ = parse_decimal(repr(v))
        if exact[-1] == 5 and len(exact) == len(str(digits)) + 1:
            ties.append(v)
    assert len(ties) >= 20
    return np.array(ties, dtype=np.float64)


def f64_integers() -> np.ndarray:
    # Around 2**53, where consecutive doubles are 2 apart, and small integers.
    near = [2**53 + j for j in range(-3000, 3000)] + [9007199254740993, 2**63, 2**64, 10**22, 10**23]
    return np.array([float(v) for v in near] + list(range(1, 5000)), dtype=np.float64)


def f64_regressions() -> np.ndarray:
    values = [
        5e-324, 1e-323, 1.5e-323, 2.2250738585072014e-308, 2.2250738585072011e-308,
        1.7976931348623157e308, 1e23, 8.41e21, 1e22, 5e-310, 4.35, 0.1, 0.2, 0.3,
        1 / 3, 2.9802322387695312e-08, 5.764607523034235e39, 1.152921504606847e40,
        123456789012345680.0, 9007199254740993.0, 4.940656458412e-324,
        float(np.float32(0.1)), float(np.float32(3e10)), 1.2345678901234567e-300,
    ]
    return np.array(values, dtype=np.float64)


FAMILIES = {
    "f32-subnormals": f32_subnormals,
    "f32-powers-of-two": f32_powers_of_two,
    "f32-powers-of-ten": f32_powers_of_ten,
    "f32-min-max": f32_min_max,
    "f32-ties": f32_ties,
    "f32-regressions": f32_regressions,
    "f64-subnormals": f64_subnormals,
    "f64-powers-of-two": f64_powers_of_two,
    "f64-powers-of-ten": f64_powers_of_ten,
    "f64-min-max": f64_min_max,
    "f64-ties": f64_ties,
    "f64-integers": f64_integers,
    "f64-regressions": f64_regressions,
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family(family: str) -> None:
    check(FAMILIES[family]())


@pytest.mark.parametrize("family", ["f32-regressions", "f64-regressions"])
def test_sign_is_ignored(family: str) -> None:
    x = FAMILIES[family]()
    got = _core.shortest_digits(x)
    neg = _core.shortest_digits(np.ascontiguousarray(-x))
    assert np.array_equal(got[0], neg[0]) and np.array_equal(got[1], neg[1])


def test_well_known_literals() -> None:
    digits, exp10 = _core.shortest_digits(np.array([3e10, 2.0**-12, 1e-45, 0.1], dtype=np.float32))
    assert digits.tolist() == [3, 24414062, 1, 1]
    assert exp10.tolist() == [10, -11, -45, -1]
    digits, exp10 = _core.shortest_digits(np.array([5e-324, 1e23, 1.7976931348623157e308]))
    assert digits.tolist() == [5, 1, 17976931348623157]
    assert exp10.tolist() == [-324, 23, 292]


def random_bits(dtype, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
        x = bits.view(np.float32)
    else:
        x = rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64)
    return x[np.isfinite(x) & (x != 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_random_bit_patterns(dtype) -> None:
    check(random_bits(dtype, 200_000, seed=20240611))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_random_short_decimals(dtype) -> None:
    # Floats nearest to decimals of 1..9 (float32) or 1..17 (float64)
    # digits: the results are often those decimals or their neighbours,
    # which exercises the one-digit-fewer step.
    rng = np.random.default_rng(7)
    n = 50_000
    width = 9 if dtype == np.float32 else 17
    lo_exp, hi_exp = (-45, 38) if dtype == np.float32 else (-323, 308)
    lengths = rng.integers(1, width + 1, n)
    mantissas = rng.integers(1, 10**width, n) // 10 ** (width - lengths)
    exps = rng.integers(lo_exp - width, hi_exp - width + 1, n)
    with np.errstate(over="ignore", under="ignore"):
        x = np.array([f"{m}e{e}" for m, e in zip(mantissas.tolist(), exps.tolist())], dtype=dtype)
    check(x[np.isfinite(x) & (x != 0)])


@pytest.mark.slow
def test_f32_sweep() -> None:
    # ~10**7 float32 spread evenly over all 2**32 bit patterns (a prime
    # stride, so every exponent and mantissa residue is visited), then all
    # subnormals with 1..20 significant bits.
    stride = 431
    chunk = 1_000_000
    for start in range(0, 2**32 // stride + 1, chunk):
        i = np.arange(start, min(start + chunk, 2**32 // stride + 1), dtype=np.uint64)
        bits = ((i * stride + 5) % 2**32).astype(np.uint32)
        x = bits.view(np.float32)
        check(x[np.isfinite(x) & (x != 0)])
    check(np.arange(1, 2**20, dtype=np.uint32).view(np.float32))


@pytest.mark.slow
def test_f64_random_many() -> None:
    for seed in range(10):
        check(random_bits(np.float64, 200_000, seed=seed))
