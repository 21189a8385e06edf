"""Every kernel path (serial, AVX2, AVX-512) against the serial path and against Fraction.

Each test runs once per instruction set in ``fastfrac.available_isas()``
(switched with ``_core._force_isa``; the others are skipped on CPUs without
them), on the shared corpora of tests/corpora.py and on sizes that straddle
the lane widths.  A fast path must return exactly what the serial path
returns -- the same fractions, the same first-overflow error -- and what
``Fraction.limit_denominator`` returns.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastfrac
from fastfrac import _core, reference

import corpora
from corpora import FLOATS, INTS, MAX_P, MODES

ALL_ISAS = ("avx512", "avx2", "serial")
FT_IDS = {np.float32: "float32", np.float64: "float64"}
IT_IDS = {np.int32: "int32", np.int64: "int64"}
# Straddle 4 (AVX2) and 8 (AVX-512) lanes, two vectors in flight, and a block.
SIZES = (1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 1000)

ftypes = pytest.mark.parametrize("ftype", FLOATS, ids=lambda t: FT_IDS[t])
dtypes = pytest.mark.parametrize("dtype", INTS, ids=lambda t: IT_IDS[t])
modes = pytest.mark.parametrize("mode", MODES)


def outcome(run: Callable[[], Any]) -> tuple[Any, ...]:
    """What a call gives: ("ok", arrays...) or ("error", type, message)."""
    try:
        got = run()
    except (ValueError, OverflowError) as exc:
        return ("error", type(exc).__name__, str(exc))
    arrays = got if isinstance(got, tuple) else (got,)
    return ("ok",) + tuple(np.asarray(a) for a in arrays)


def assert_same(a: tuple[Any, ...], b: tuple[Any, ...], what: str) -> None:
    assert a[0] == b[0], f"{what}: {a[:3]} vs {b[:3]}"
    if a[0] == "error":
        assert a[1:] == b[1:], what
        return
    for x, y in zip(a[1:], b[1:]):
        assert x.dtype == y.dtype and x.shape == y.shape, what
        # bit for bit (to_float's zeros keep their sign)
        assert x.tobytes() == y.tobytes(), f"{what}: {np.flatnonzero(x != y)[:10]}"


def on_serial(run: Callable[[], Any]) -> tuple[Any, ...]:
    """outcome(run) on the serial path, whatever path is selected now."""
    before = _core.selected_isa()
    _core._force_isa("serial")
    try:
        return outcome(run)
    finally:
        _core._force_isa(before)


def same_as_serial(run: Callable[[], Any], what: str) -> None:
    assert_same(outcome(run), on_serial(run), what)


@functools.lru_cache(maxsize=None)
def expected_approximate(family: str, ftype: type, dtype: type, mode: str, p: int) -> tuple:
    """(x, bounds, Fraction answers) of a corpus family, computed once for every path."""
    x = FAMILIES[family](ftype, dtype)
    bounds = corpora.seed_bounds(x, p, dtype)
    return x, bounds, tuple(corpora.limit_all(corpora.seed_values(x, mode), bounds))


def check_family(isa: str, family: str, ftype: type, dtype: type, mode: str, p: int) -> None:
    x, bounds, expected = expected_approximate(family, ftype, dtype, mode, p)
    corpora.check_kernel(corpora.approximate_runner(x, p, mode, dtype), x, list(expected), dtype,
                         bounds=bounds, what=f"{isa} {family} p={p} {mode}")


# ---- naming and forcing --------------------------------------------------------------


def test_available_isas_lists_serial_last() -> None:
    isas = fastfrac.available_isas()
    assert isas[-1] == "serial"
    assert set(isas) <= set(ALL_ISAS)
    assert isas == [name for name in ALL_ISAS if name in isas]  # best first
    assert _core.selected_isa() in isas


def test_default_is_the_best_path() -> None:
    code = "import fastfrac, fastfrac._core as c; print(c.selected_isa())"
    env = {k: v for k, v in os.environ.items() if k != "FASTFRAC_ISA"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == fastfrac.available_isas()[0]


@pytest.mark.parametrize("name", ALL_ISAS)
def test_environment_forces_a_path(name: str) -> None:
    code = "import fastfrac._core as c; print(c.selected_isa())"
    env = dict(os.environ, FASTFRAC_ISA=name)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if name in fastfrac.available_isas():
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == name
    else:
        # The import succeeds; the first use of a kernel says why it cannot run.
        code = "import fastfrac; fastfrac.approximate([0.5], 2)"
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True)
        assert out.returncode != 0
        assert f"SettingError: FASTFRAC_ISA={name}: this CPU cannot run" in out.stderr


BAD_ISA_CALLS = {
    "approximate": "fastfrac.approximate([0.5], 2)",
    "limit_denominator": "fastfrac.limit_denominator([0.5], 3)",
    "max_denominator": "fastfrac.max_denominator([0.5], 3)",
    "to_float": "fastfrac.to_float([1], [2])",
    "selected_isa": "fastfrac.selected_isa()",
}


@pytest.mark.parametrize("call", list(BAD_ISA_CALLS))
def test_bad_isa_setting_is_checked_when_a_kernel_is_needed(call: str) -> None:
    code = (
        "import fastfrac\n"
        "print(fastfrac.available_isas()[-1], fastfrac.openmp_enabled() in (True, False))\n"
        "try:\n"
        f"    {BAD_ISA_CALLS[call]}\n"
        "except RuntimeError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    env = dict(os.environ, FASTFRAC_ISA="neon")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "serial True",
        f"SettingError FASTFRAC_ISA=neon: unknown instruction set 'neon'; choose from "
        f"{['serial', 'avx2', 'avx512']}",
    ]


def test_force_isa_rejects_unknown_and_unavailable() -> None:
    with pytest.raises(ValueError, match="unknown instruction set"):
        _core._force_isa("sse9")
    for name in ALL_ISAS:
        if name not in fastfrac.available_isas():
            with pytest.raises(ValueError, match="cannot run"):
                _core._force_isa(name)


def test_force_isa_switches_and_restores(isa: str) -> None:
    assert _core.selected_isa() == isa


# ---- sizes around the lane widths ----------------------------------------------------


@ftypes
@dtypes
@modes
def test_sizes_straddling_lanes(isa: str, ftype: type, dtype: type, mode: str) -> None:
    """Every tail length; each size a different slice of the random corpus."""
    x = corpora.random_weights(ftype)
    values = corpora.random_values(ftype, mode)
    start = 0
    for n in SIZES:
        xs, vs = x[start : start + n], values[start : start + n]
        start += n
        for p in (0, 2, 4, MAX_P[dtype]):
            run = corpora.approximate_runner(xs, p, mode, dtype)
            same_as_serial(lambda: run(None), f"{isa} n={n} p={p}")
            bounds = corpora.seed_bounds(xs, p, dtype)
            corpora.check_kernel(run, xs, corpora.limit_all(vs, bounds), dtype, bounds=bounds,
                                 what=f"{isa} n={n} p={p} {mode}")


@ftypes
@dtypes
@modes
def test_sizes_straddling_lanes_limit(isa: str, ftype: type, dtype: type, mode: str) -> None:
    x = corpora.random_weights(ftype)
    b = corpora.random_bounds(ftype, dtype)
    for n in SIZES:
        xs, bs = x[-n:], b[-n:]
        run = corpora.limit_runner(xs, bs, mode, dtype)
        same_as_serial(lambda: run(None), f"{isa} limit n={n}")
    corpora.check_limit(x[-1000:], b[-1000:], mode, dtype, what=f"{isa} limit")


# ---- the corpora, against serial and against Fraction --------------------------------


@ftypes
@modes
@pytest.mark.parametrize("p", [2, 4])
def test_random_weights_match_fraction(isa: str, ftype: type, mode: str, p: int) -> None:
    """The whole random corpus (int32 output), the acceptance case of the fast paths."""
    check_family(isa, "random", ftype, np.int32, mode, p)


@ftypes
@dtypes
@modes
def test_random_weights_every_precision_match_serial(isa: str, ftype, dtype, mode) -> None:
    x = corpora.random_weights(ftype)
    for p in range(0, MAX_P[dtype] + 1, 1 if dtype is np.int32 else 3):
        same_as_serial(lambda: fastfrac.approximate(x, p, mode=mode, dtype=dtype),
                       f"{isa} random p={p} {mode}")
    b = corpora.random_bounds(ftype, dtype)
    same_as_serial(lambda: fastfrac.limit_denominator(x, b, mode=mode, dtype=dtype),
                   f"{isa} random limit {mode}")


# The edge-case families of tests/corpora.py, by name.
FAMILIES: dict[str, Callable[[type, type], np.ndarray]] = {
    "random": lambda f, d: corpora.random_weights(f),
    "bound_steps_p2": lambda f, d: corpora.bound_steps(f, 2),
    "bound_steps_p9": lambda f, d: corpora.bound_steps(f, 9),
    "clamp_edges": lambda f, d: corpora.clamp_edges(f, 2, d),
    "tiny_edges": lambda f, d: corpora.tiny_edges(f, d),
    "log_tiny": lambda f, d: corpora.log_tiny(f),
    "subnormals": lambda f, d: corpora.subnormals(f),
    "integers": lambda f, d: corpora.integers(f),
    "largest": lambda f, d: corpora.largest(f),
    "around_int_limits": lambda f, d: corpora.around_int_limits(f),
    "halves": lambda f, d: corpora.halves(f)[0],
    "wide_remainders": lambda f, d: corpora.wide_remainders(f),
}
ADVERSARIAL = [name for name in FAMILIES if name != "random"]


@ftypes
@dtypes
@modes
def test_adversarial_families(isa: str, ftype: type, dtype: type, mode: str) -> None:
    for name in ADVERSARIAL:
        x = FAMILIES[name](ftype, dtype)
        for p in (0, 2, MAX_P[dtype]):
            same_as_serial(lambda: fastfrac.approximate(x, p, mode=mode, dtype=dtype),
                           f"{isa} {name} p={p}")
            check_family(isa, name, ftype, dtype, mode, p)


@ftypes
@dtypes
@modes
def test_ties_and_halves(isa: str, ftype: type, dtype: type, mode: str) -> None:
    """CPython's tie rule, exercised with explicit bounds."""
    for name, (x, b) in {"ties": corpora.tie_midpoints(ftype, mode),
                         "halves": corpora.halves(ftype)}.items():
        same_as_serial(lambda: fastfrac.limit_denominator(x, b, mode=mode, dtype=dtype),
                       f"{isa} {name}")
        corpora.check_limit(x, b, mode, dtype, what=f"{isa} {name}")


@ftypes
@modes
def test_first_overflow_index_is_the_same(isa: str, ftype: type, mode: str) -> None:
    """Overflows placed in different lanes of a vector: the first one is reported."""
    big = ftype(3e9)
    for n in (9, 17, 33):
        for where in range(n):
            x = corpora.random_weights(ftype)[:n].copy()
            x[where] = big
            x[(where * 7 + 3) % n] = -big
            run = lambda: fastfrac.approximate(x, 2, mode=mode)  # noqa: E731
            got = outcome(run)
            assert got[0] == "error"
            assert_same(got, on_serial(run), f"{isa} overflow n={n} at {where}")


# ---- any bit pattern ------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    bits=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40),
    wide=st.booleans(),
    single=st.booleans(),
    mode=st.sampled_from(MODES),
    p=st.integers(0, 9),
    bounds=st.lists(st.integers(1, 2**31 - 1), min_size=40, max_size=40),
)
def test_property_any_bits_every_path_equals_serial(bits, wide, single, mode, p, bounds) -> None:
    """Arbitrary finite floats (raw bit patterns), both output types: every path == serial."""
    raw = np.array(bits, dtype=np.uint64)
    x = (raw.astype(np.uint32).view(np.float32) if single else raw.view(np.float64)).copy()
    x = x[np.isfinite(x)]
    dtype = np.int64 if wide else np.int32
    b = np.array(bounds[: x.size], dtype=np.int64)
    before = _core.selected_isa()
    try:
        for isa in fastfrac.available_isas():
            _core._force_isa(isa)
            same_as_serial(lambda: fastfrac.approximate(x, p, mode=mode, dtype=dtype),
                           f"{isa} approximate {x!r}")
            same_as_serial(lambda: fastfrac.limit_denominator(x, b, mode=mode, dtype=dtype),
                           f"{isa} limit {x!r}")
    finally:
        _core._force_isa(before)


# ---- to_float -----------------------------------------------------------------------


def to_float_inputs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(31)
    x = corpora.random_weights(np.float32)
    num, den = fastfrac.approximate(x, 4, dtype=np.int64)
    big = rng.integers(-(2**62), 2**62, 3000)
    small_den = rng.integers(1, 10**6, 3000)
    p10 = 10 ** rng.integers(0, 15, 3000)
    return {
        "approximated": (num, den),
        "large": (big, rng.integers(1, 2**62, 3000)),
        "large_num": (big, small_den),
        "near_powers_of_ten": (p10 + rng.integers(-2, 3, 3000), rng.choice([1, 10, 20, 50], 3000)),
        "halves": (rng.integers(-(10**6), 10**6, 3000) * 5, np.full(3000, 10)),
        "zeros": (np.zeros(40, np.int64), np.arange(1, 41)),
        # m * 10**(a - b) for every decade from 1e-18 to 1e21: both ends of the
        # window of magnitudes that the SIMD rounding handles for each digits.
        "decades": (rng.integers(1, 1000, 3000) * 10 ** rng.integers(0, 16, 3000),
                    10 ** rng.integers(0, 19, 3000)),
    }


@pytest.mark.parametrize("digits", [None, 1, 2, 3, 4, 6, 8, 12, 15, 16, 17, 25])
def test_to_float_matches_serial_and_reference(isa: str, digits: int | None) -> None:
    for name, (num, den) in to_float_inputs().items():
        run = lambda: fastfrac.to_float(num, den, digits=digits)  # noqa: E731
        got = outcome(run)
        assert_same(got, on_serial(run), f"{isa} to_float {name} digits={digits}")
        k = slice(0, 2000)
        expected = reference.to_float(num[k], den[k], digits=digits)
        assert got[1][k].tobytes() == expected.tobytes(), f"{isa} to_float {name} digits={digits}"


def test_to_float_sizes(isa: str) -> None:
    num, den = to_float_inputs()["approximated"]
    for n in SIZES:
        for digits in (None, 4, 8):
            run = lambda: fastfrac.to_float(num[:n], den[:n], digits=digits)  # noqa: E731
            same_as_serial(run, f"{isa} to_float n={n} digits={digits}")


# ---- shortest digits, decimal mode's first step, on its own ------------------------------
# tests/test_shortest.py checks the selected (best) path against NumPy's str;
# here every path must return exactly what the serial one does, so all of
# them agree with NumPy.


DIGIT_CASES = ("powers of two and ten, ties, subnormals...", "random bits", "with zeros",
               "weights", "decimals")


@functools.lru_cache(maxsize=None)
def digit_cases(ftype: type) -> dict[str, np.ndarray]:
    from test_shortest import FAMILIES, random_bits

    prefix = "f32" if ftype == np.float32 else "f64"
    families = [make() for name, make in FAMILIES.items() if name.startswith(prefix)]
    cases = {DIGIT_CASES[0]: np.concatenate(families)}
    cases["random bits"] = random_bits(ftype, 1_000_000, seed=5)
    # Zeros of both signs give digits 0 and exp10 0 on every path, wherever a lane falls.
    mixed = corpora.random_weights(ftype, 1000).copy()
    mixed[::7] = 0.0
    mixed[3::11] = -0.0
    cases["with zeros"] = mixed
    # What decimal mode sees most: weights, and (float64) float32 weights
    # widened, whose digits run to 17 and rarely end in a zero.
    rng = np.random.default_rng(11)
    weights = rng.normal(0, 0.05, 200_000)
    cases["weights"] = np.concatenate([weights, weights.astype(np.float32)]).astype(ftype)
    # The floats nearest to decimals of 1 .. 9 (17) digits over a wide range
    # of exponents: the one-digit-fewer step and its trailing zeros.
    width = 9 if ftype == np.float32 else 17
    lengths = rng.integers(1, width + 1, 200_000)
    mantissas = rng.integers(1, 10**width, lengths.size) // 10 ** (width - lengths)
    exponents = rng.integers(-40, 30, lengths.size)
    with np.errstate(over="ignore", under="ignore"):
        values = (mantissas * 10.0 ** exponents.astype(np.float64)).astype(ftype)
    cases["decimals"] = values[np.isfinite(values)]
    return cases


@ftypes
@pytest.mark.parametrize("name", DIGIT_CASES)
def test_shortest_digits_match_serial(isa: str, ftype: type, name: str) -> None:
    x = np.ascontiguousarray(digit_cases(ftype)[name])
    for n in (*SIZES, x.size):
        same_as_serial(lambda: _core.shortest_digits(x[:n]), f"{isa} shortest {name} n={n}")


# ---- byte planes of the fractions container's frames ---------------------------------------
# tests/test_frames.py holds the selected path to NumPy's cast and transpose;
# here every path must give the serial path's bytes, on sizes around the lanes.


@pytest.mark.parametrize("width", [1, 2, 4, 8])
def test_byte_planes_match_serial_and_numpy(isa: str, width: int) -> None:
    from test_frames import numpy_planes

    rng = np.random.default_rng(width)
    # Any int64 bits: the packing keeps the low `width` bytes, as NumPy's cast does.
    v = rng.integers(-(2**63), 2**63 - 1, 5000, dtype=np.int64, endpoint=True)
    v[::9] = v[::9] >> (64 - 8 * width)  # some that fit the signed type ...
    v[1::9] = np.abs(v[1::9] >> (65 - 8 * width))  # ... and the unsigned one
    for n in (*SIZES, v.size):
        part = np.ascontiguousarray(v[:n])
        same_as_serial(lambda: _core.int64_to_planes(part, width), f"{isa} planes {width} n={n}")
        want = numpy_planes(part, np.dtype(f"<u{width}"))
        assert _core.int64_to_planes(part, width).tobytes() == want, f"{isa} planes {width} n={n}"
