"""The fused chunk pass (fastfrac._fused.approximate_chunk) against the composition it replaces.

The reference is, bit for bit, ``approximate(x, p, dtype=int64)`` ->
``to_float(num, den, digits, dtype=x.dtype)`` with ``max_errors`` and
``fraction_bits`` of fastfrac._bits, and the same error messages.  Every
instruction set this CPU runs (forced with ``_core._force_isa``), threads
1, 2 and 3, digits None, 2p and a fixed 3, both modes; on the shared
corpora, every finite float16 and bfloat16 pattern and the seed's weights.
The double -> half conversion it uses is checked against NumPy's and
ml_dtypes' astype on a large sample and on every tie.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import fastfrac
from fastfrac import _core
from fastfrac._bits import fraction_bits, max_errors
from fastfrac._fused import approximate_chunk
from fastfrac._io.frames import narrowest

import corpora

ALL_ISAS = ("avx512", "avx2", "serial")
BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
THREADS = (1, 2, 3)


def composition(x: np.ndarray, p: int, mode: str, digits: int | None) -> tuple[Any, ...]:
    """What the file path computed before: ("ok", values, errors, bits, fractions) or the error."""
    try:
        f = fastfrac.approximate(x, p, mode=mode, dtype=np.int64)  # type: ignore[arg-type]
    except ValueError as exc:
        return ("error", str(exc))
    # float16 65504 to 1 digit is 70000: inf, with NumPy's warning (the fused pass gives no warning).
    with np.errstate(over="ignore"):
        y = fastfrac.to_float(f.num, f.den, digits, dtype=x.dtype)
    return ("ok", y, max_errors(x, y), fraction_bits(*f), f)


def fused(x: np.ndarray, p: int, mode: str, digits: int | None, threads: int) -> tuple[Any, ...]:
    """approximate_chunk's answer in the shape of composition()'s."""
    try:
        r = approximate_chunk(x, p, mode=mode, digits=digits, fractions=True, threads=threads)  # type: ignore[arg-type]
    except ValueError as exc:
        return ("error", str(exc))
    # The types the kernel found on the way are those the container would look for.
    assert r.fraction_types == tuple(narrowest(a.reshape(-1)) for a in r.fractions)
    return ("ok", r.values, (r.max_abs_error, r.max_rel_error), r.bits, r.fractions)


# The plane widths guessed on each thread count: too narrow for most chunks
# (the second pass), wide enough for all, and in between.
PLANE_GUESSES = {1: (1, 1), 2: (8, 8), 3: (2, 4)}


def check_planes(x: np.ndarray, p: int, mode: str, digits: int | None, threads: int,
                 want: tuple[Any, ...], label: str) -> None:
    """approximate_chunk with planes: the values, and the planes of the narrowest types."""
    try:
        r = approximate_chunk(x, p, mode=mode, digits=digits, planes=PLANE_GUESSES[threads],  # type: ignore[arg-type]
                              threads=threads)
    except ValueError as exc:
        assert want[0] == "error" and str(exc) == want[1], label
        return
    assert want[0] == "ok", label
    assert r.fractions is None and np.array_equal(r.values.view(np.uint8), want[1].view(np.uint8))
    num, den = (a.reshape(-1) for a in want[4])
    assert r.fraction_types == (narrowest(num), narrowest(den)), label
    for planes, values, kind in zip(r.planes, (num, den), r.fraction_types):
        assert planes.dtype == np.uint8 and planes.flags.c_contiguous, label
        assert planes.shape == (kind.itemsize, values.size), label
        # The container's own layout: byte j of every value in its narrowest type.
        expected = values.astype(kind).view(np.uint8).reshape(-1, kind.itemsize).T
        assert np.array_equal(planes, expected), f"{label}: planes of {kind}"


def check_same(x: np.ndarray, p: int, mode: str, digits: int | None, what: str = "") -> None:
    """approximate_chunk equals the composition bit for bit, on every thread count,
    with int64 fractions and with byte planes."""
    want = composition(x, p, mode, digits)
    for threads in THREADS:
        check_planes(x, p, mode, digits, threads, want, f"{what} p={p} {mode} planes")
        got = fused(x, p, mode, digits, threads)
        label = f"{what} p={p} {mode} digits={digits} threads={threads}"
        assert got[0] == want[0], f"{label}: {got[:2]} vs {want[:2]}"
        if want[0] == "error":
            assert got[1] == want[1], label
            continue
        _, y, errors, bits, f = got
        assert y.dtype == x.dtype and y.shape == x.shape, label
        # Bit patterns: -0.0 and 0.0 (and every half) compared exactly.
        assert np.array_equal(y.view(np.uint8), want[1].view(np.uint8)), label
        assert errors == want[2], f"{label}: errors {errors} vs {want[2]}"
        assert bits == want[3], f"{label}: bits {bits} vs {want[3]}"
        assert np.array_equal(f.num, want[4].num) and np.array_equal(f.den, want[4].den), label


def digit_choices(p: int) -> tuple[int | None, ...]:
    return (None, max(1, 2 * p), 3)


# ---- the corpora ---------------------------------------------------------------------

CORPORA = {
    "random_weights": lambda t: corpora.random_weights(t, 30_000),
    "powers_of_two": corpora.powers_of_two,
    "largest": corpora.largest,
    "subnormals": corpora.subnormals,
    "integers": corpora.integers,
    "around_int_limits": corpora.around_int_limits,
    "log_tiny": corpora.log_tiny,
}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
@pytest.mark.parametrize("ftype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("mode", corpora.MODES)
def test_corpora_match_the_composition(isa: str, corpus: str, ftype: type, mode: str) -> None:
    x = np.asarray(CORPORA[corpus](ftype))
    for p in (0, 2, 9, 18):
        for digits in digit_choices(p):
            check_same(x, p, mode, digits, f"{isa} {corpus}")


@pytest.mark.parametrize("corpus", ["random_weights", "subnormals", "largest", "powers_of_two"])
@pytest.mark.parametrize("half", [F16, BF16], ids=["float16", "bfloat16"])
def test_corpora_cast_to_halves_match(isa: str, corpus: str, half: np.dtype) -> None:
    with np.errstate(over="ignore"):
        x = np.asarray(CORPORA[corpus](np.float32)).astype(half)
    x = x[np.isfinite(x.astype(np.float32))]
    for mode in corpora.MODES:
        for digits in digit_choices(2):
            check_same(x, 2, mode, digits, f"{isa} {corpus} {half}")


# ---- every half pattern --------------------------------------------------------------


def finite_patterns(half: np.dtype) -> np.ndarray:
    x = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(half)
    return x[np.isfinite(x.astype(np.float32))]


@pytest.mark.parametrize("half", [F16, BF16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("mode", corpora.MODES)
def test_every_half_pattern(isa: str, half: np.dtype, mode: str) -> None:
    x = finite_patterns(half)
    for p in (0, 2, 5):
        for digits in digit_choices(p):
            check_same(x, p, mode, digits, f"{isa} every {half} pattern")


@pytest.mark.slow
@pytest.mark.parametrize("half", [F16, BF16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("mode", corpora.MODES)
def test_every_half_pattern_every_p(isa: str, half: np.dtype, mode: str) -> None:
    x = finite_patterns(half)
    for p in range(19):
        for digits in digit_choices(p):
            check_same(x, p, mode, digits, f"{isa} every {half} pattern")


# ---- the seed's weights -----------------------------------------------------------------


def test_seed_weights(seed_dir: Path) -> None:
    files = sorted((seed_dir / "weights_npy").glob("*.npy"))
    assert files
    for path in files:
        w = np.load(path)
        for dtype in (w.dtype, np.dtype(np.float64), F16, BF16):
            x = w.astype(dtype)
            if not np.isfinite(x.astype(np.float64)).all():
                continue
            for mode in corpora.MODES:
                for digits in digit_choices(2):
                    check_same(x, 2, mode, digits, f"{path.name} as {dtype}")


# ---- double -> half, against NumPy and ml_dtypes ---------------------------------------


def rounded(x: np.ndarray, half: np.dtype) -> np.ndarray:
    out = np.empty(x.size, half)
    _core._round_from_f64(np.ascontiguousarray(x, np.float64).reshape(-1), out)
    return out


def library_rounded(x: np.ndarray, half: np.dtype) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(half)


@pytest.mark.parametrize("half", [F16, BF16], ids=["float16", "bfloat16"])
def test_double_to_half_on_a_large_sample(half: np.dtype) -> None:
    rng = np.random.default_rng(13)
    bits = rng.integers(0, 2**64, 2_000_000, dtype=np.uint64, endpoint=False)
    # Exponents spread over the half type's range and a little beyond it.
    top = 0x40F if half == F16 else 0x47F
    low = 0x3E0 if half == F16 else 0x370
    exponent = rng.integers(low, top + 2, bits.size, dtype=np.uint64)
    bits = (bits & np.uint64(0x800FFFFFFFFFFFFF)) | (exponent << np.uint64(52))
    x = np.concatenate([bits.view(np.float64), [0.0, -0.0, np.inf, -np.inf, 1e300, -1e-300]])
    assert np.array_equal(rounded(x, half).view(np.uint16), library_rounded(x, half).view(np.uint16))


@pytest.mark.parametrize("half", [F16, BF16], ids=["float16", "bfloat16"])
def test_double_to_half_on_every_tie(half: np.dtype) -> None:
    """Every midpoint between neighbouring finite halves (and past the largest), and its neighbours."""
    x = np.sort(finite_patterns(half).astype(np.float64))
    x = np.unique(x)
    step = np.diff(x)
    mids = x[:-1] + step / 2  # exact: a half midpoint has a few more bits than the half
    largest = x[-1]
    mids = np.concatenate([mids, [largest + (largest - x[-2]) / 2]])
    probes = np.concatenate([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf)])
    probes = np.concatenate([probes, -probes])
    assert np.array_equal(
        rounded(probes, half).view(np.uint16), library_rounded(probes, half).view(np.uint16)
    )


# ---- errors ----------------------------------------------------------------------------


def error_of(call: Any) -> tuple[type, str]:
    try:
        call()
    except (ValueError, TypeError) as exc:
        return type(exc), str(exc)
    raise AssertionError("no error")


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float64, F16, BF16], ids=["float32", "float64", "float16", "bfloat16"]
)
def test_non_finite_and_overflow_messages(isa: str, dtype: Any) -> None:
    # No float16 overflows int64 (65504 is its largest): only its non-finite cases count.
    half = np.dtype(dtype) == F16
    big = 0.3 if half else 1e30
    n = 50_000
    for bad_at, over_at in [(7, None), (None, 40_000), (45_000, 3), (3, 45_000), (20_000, 20_001)]:
        x = np.full(n, 0.3).astype(dtype)
        if over_at is not None:
            x[over_at] = big
        if bad_at is not None:
            x[bad_at] = np.nan if bad_at % 2 else -np.inf
        x[12_345] = np.inf if bad_at is not None and bad_at > 20_000 else x[12_345]
        shaped = x.reshape(50, 1000)
        for arr in (x, shaped):
            if bad_at is None and half:
                continue
            want = error_of(lambda: fastfrac.approximate(arr, 2, dtype=np.int64))
            for threads in THREADS:
                assert error_of(lambda: approximate_chunk(arr, 2, threads=threads)) == want


def test_argument_errors_match_approximate() -> None:
    x = np.float32([0.5])
    for kwargs in ({"p": 19}, {"p": -1}, {"p": 1.5}, {"p": 2, "mode": "fast"}, {"p": 2, "threads": 0}):
        p = kwargs.pop("p")
        want = error_of(lambda: fastfrac.approximate(x, p, dtype=np.int64, **kwargs))
        assert error_of(lambda: approximate_chunk(x, p, **kwargs)) == want
    assert error_of(lambda: approximate_chunk(np.int32([1]), 2)) == error_of(
        lambda: fastfrac.approximate(np.int32([1]), 2)
    )
    assert error_of(lambda: approximate_chunk(x, 2, digits=0))[1].startswith("digits must be")


def test_shapes_empty_and_scalars() -> None:
    for x in (np.float32([]), np.zeros((0, 3), np.float64), np.float32(0.1), np.float64(-2.5)):
        r = approximate_chunk(x, 2, fractions=True)
        want = composition(np.asarray(x), 2, "decimal", None)
        assert r.values.shape == np.shape(x) and np.array_equal(r.values, want[1])
        assert (r.max_abs_error, r.max_rel_error) == want[2] and r.bits == want[3]
        assert r.fractions is not None and r.fractions.num.shape == np.shape(x)
    fortran = np.asfortranarray(corpora.random_weights(np.float32, 600).reshape(20, 30))
    check_same(fortran, 2, "decimal", 4, "Fortran order")
    assert approximate_chunk(np.float32([0.5]), 2).fractions is None
