"""The direct Fraction oracle and the adversarial corpora shared by the core tests.

The oracle is the seed's expression written out element by element, without
going through :mod:`fastfrac.reference`::

    value = Fraction(str(v))            # mode "decimal" (NumPy's shortest repr)
    value = Fraction(float(v))          # mode "exact"
    bound = int(10**p / abs(v))         # on the NumPy scalar: x's own float type
    answer = value.limit_denominator(min(max(bound, 1), cap))

Every corpus is a pure function of its arguments (fixed seeds, no global
state), so a failure reproduces exactly.  Corpora are returned read-only.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import fastfrac

FLOATS = (np.float32, np.float64)
INTS = (np.int32, np.int64)
MODES = ("decimal", "exact")
CAP = {np.int32: 2**31 - 1, np.int64: 2**63 - 1}
MAX_P = {np.int32: 9, np.int64: 18}
NUM_RANGE = {np.int32: (-(2**31), 2**31 - 1), np.int64: (-(2**63), 2**63 - 1)}

Kernel = Callable[[Any], fastfrac.Fractions]

# Elements checked against Fraction by check_kernel in this process, by corpus family.
CHECKED: Counter[str] = Counter()


# ---- the oracle -------------------------------------------------------------


def seed_value(v: np.floating, mode: str) -> Fraction:
    """The rational an element stands for, written with Fraction directly."""
    if mode == "decimal":
        return Fraction(str(v))
    assert mode == "exact"
    return Fraction(float(v))


def seed_values(x: np.ndarray, mode: str) -> list[Fraction]:
    """seed_value of every element of x, in C order."""
    return [seed_value(v, mode) for v in np.asarray(x).reshape(-1)]


def seed_bound(v: np.floating, p: int, cap: int) -> int:
    """The seed's ``int(10**p / abs(v))`` on the NumPy scalar, clamped to [1, cap].

    NumPy 2 evaluates ``10**p / abs(v)`` in v's own float type; an overflow to
    infinity (v tiny) is clamped to cap.  Call under ``np.errstate(over="ignore")``.
    """
    if v == 0:
        return 1
    q = 10**p / abs(v)
    if np.isinf(q):
        return cap
    return min(max(int(q), 1), cap)


def seed_bounds(x: np.ndarray, p: int, dtype: Any) -> list[int]:
    """seed_bound of every element of x, in C order, for output type dtype."""
    cap = CAP[dtype]
    with np.errstate(over="ignore"):
        return [seed_bound(v, p, cap) for v in np.asarray(x).reshape(-1)]


def clamp_bounds(bounds: Sequence[int], dtype: Any) -> list[int]:
    """Bounds for a smaller output type from wider ones: min(bound, cap) is the same clamp."""
    cap = CAP[dtype]
    return [min(b, cap) for b in bounds]


def limit_all(
    values: Sequence[Fraction],
    bounds: Sequence[int],
    reuse: tuple[Sequence[int], Sequence[Fraction]] | None = None,
) -> list[Fraction]:
    """``value.limit_denominator(bound)`` element-wise.

    ``reuse=(old_bounds, old_answers)`` takes the old answer wherever the bound
    is unchanged (the answer is a function of value and bound only), which
    makes the int64 pass nearly free after the int32 one.
    """
    if reuse is None:
        return [v.limit_denominator(b) for v, b in zip(values, bounds)]
    old_bounds, old = reuse
    return [
        a if b == ob else v.limit_denominator(b)
        for v, b, ob, a in zip(values, bounds, old_bounds, old)
    ]


# ---- checking kernel output against the oracle ---------------------------------


def first_overflow(expected: Sequence[Fraction], dtype: Any) -> int | None:
    """Flat index of the first expected numerator outside dtype, or None."""
    lo, hi = NUM_RANGE[dtype]
    for i, f in enumerate(expected):
        if not lo <= f.numerator <= hi:
            return i
    return None


def index_text(shape: tuple[int, ...], flat_index: int) -> str:
    """How the error messages print a C-order index: a tuple."""
    where = tuple(int(i) for i in np.unravel_index(flat_index, shape)) if shape else ()
    return str(where)


def assert_fractions_equal(
    got: fastfrac.Fractions,
    expected: Sequence[Fraction],
    x: np.ndarray,
    dtype: Any,
    *,
    bounds: Sequence[int] | None = None,
    what: str = "",
) -> None:
    """got (from a kernel) equals the expected Fractions element by element."""
    assert isinstance(got, fastfrac.Fractions)
    assert got.num.dtype == np.dtype(dtype) and got.den.dtype == np.dtype(dtype), what
    assert got.num.shape == x.shape and got.den.shape == x.shape, what
    n = len(expected)
    exp_num = np.fromiter((f.numerator for f in expected), np.int64, n)
    exp_den = np.fromiter((f.denominator for f in expected), np.int64, n)
    num = got.num.reshape(-1).astype(np.int64)
    den = got.den.reshape(-1).astype(np.int64)
    bad = np.flatnonzero((num != exp_num) | (den != exp_den))
    if bad.size:
        flat_x = np.asarray(x).reshape(-1)
        lines = [
            f"x={flat_x[i]!r} (str {str(flat_x[i])!r}, dtype {flat_x.dtype})"
            + (f" bound={bounds[i]}" if bounds is not None else "")
            + f": got {num[i]}/{den[i]}, expected {expected[i]}"
            for i in bad[:10]
        ]
        pytest.fail(
            f"{what}: {bad.size} of {n} elements differ from Fraction; first ones:\n"
            + "\n".join(lines)
        )


def check_kernel(
    run: Kernel,
    x: np.ndarray,
    expected: Sequence[Fraction],
    dtype: Any,
    *,
    bounds: Sequence[int] | None = None,
    what: str = "",
    max_single: int = 64,
) -> int:
    """Check a kernel on x against the expected answers; return how many elements matched.

    ``run(idx)`` computes the kernel on ``x`` itself when idx is None, else on
    the 1-D selection ``x.reshape(-1)[idx]`` (and the bounds at idx).
    Elements whose expected numerator does not fit dtype must make the kernel
    raise ValueError naming the index of the first of them; the others must
    match exactly.
    """
    x = np.asarray(x)
    family = re.split(r" p=| bound| \d|:", what)[0]
    bad = first_overflow(expected, dtype)
    if bad is None:
        assert_fractions_equal(run(None), expected, x, dtype, bounds=bounds, what=what)
        CHECKED[family] += len(expected)
        return len(expected)
    # The whole array: ValueError at the first overflowing element, C order.
    with pytest.raises(ValueError, match=re.escape(f"at index {index_text(x.shape, bad)}")):
        run(None)
    lo, hi = NUM_RANGE[dtype]
    fits = np.array([lo <= f.numerator <= hi for f in expected])
    ok = np.flatnonzero(fits)
    if ok.size:
        sub = x.reshape(-1)[ok]
        assert_fractions_equal(
            run(ok),
            [expected[i] for i in ok],
            sub,
            dtype,
            bounds=None if bounds is None else [bounds[i] for i in ok],
            what=what + " (elements that fit)",
        )
    # Each overflowing element alone (a sample if there are many).
    for i in np.flatnonzero(~fits)[:max_single]:
        with pytest.raises(ValueError, match=re.escape("at index (0,)")):
            run(np.array([i]))
    checked = int(ok.size) + int(min((~fits).sum(), max_single))
    CHECKED[family] += checked
    return checked


def approximate_runner(x: np.ndarray, p: int, mode: str, dtype: Any) -> Kernel:
    """run(idx) for fastfrac.approximate on x or a flat selection of it."""

    def run(idx: Any) -> fastfrac.Fractions:
        arg = x if idx is None else np.asarray(x).reshape(-1)[idx]
        return fastfrac.approximate(arg, p, mode=mode, dtype=dtype)

    return run


def limit_runner(x: np.ndarray, bounds: Any, mode: str, dtype: Any) -> Kernel:
    """run(idx) for fastfrac.limit_denominator with per-element bounds (same shape as x)."""
    b = np.asarray(bounds, dtype=np.int64)

    def run(idx: Any) -> fastfrac.Fractions:
        if idx is None:
            return fastfrac.limit_denominator(x, b, mode=mode, dtype=dtype)
        return fastfrac.limit_denominator(
            np.asarray(x).reshape(-1)[idx], b.reshape(-1)[idx], mode=mode, dtype=dtype
        )

    return run


def _check_against_fraction(
    run: Callable[[Any], Any], x: np.ndarray, mode: str, bounds: list[int], dtype: Any, what: str
) -> int:
    """A kernel runner against Fraction(value).limit_denominator(bound), element by element."""
    expected = limit_all(seed_values(x, mode), bounds)
    return check_kernel(run, x, expected, dtype, bounds=bounds, what=what)


def check_approximate(x: np.ndarray, p: int, mode: str, dtype: Any, what: str = "") -> int:
    """approximate(x, p) against the direct Fraction expression; returns the count checked."""
    return _check_against_fraction(
        approximate_runner(x, p, mode, dtype), x, mode, seed_bounds(x, p, dtype), dtype,
        what or f"approximate p={p} {mode} {np.dtype(dtype).name}",
    )


def check_limit(x: np.ndarray, bounds: Any, mode: str, dtype: Any, what: str = "") -> int:
    """limit_denominator(x, bounds) (bounds shaped like x) against Fraction."""
    blist = [int(b) for b in np.asarray(bounds).reshape(-1)]
    return _check_against_fraction(
        limit_runner(x, bounds, mode, dtype), x, mode, blist, dtype,
        what or f"limit_denominator {mode} {np.dtype(dtype).name}",
    )


def check_reference(call: Callable[[], Any], expected: Sequence[Fraction], x: np.ndarray,
                    dtype: Any) -> None:
    """The reference on the same input: equal to ``expected``, or ValueError where a numerator
    does not fit ``dtype``."""
    if first_overflow(expected, dtype) is None:
        assert_fractions_equal(call(), expected, x, dtype, what="reference")
    else:
        with pytest.raises(ValueError):
            call()


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _signed(a: np.ndarray) -> np.ndarray:
    """a followed by its negation."""
    return np.concatenate([a, -a])


def ulp_neighbours(x: np.ndarray, k: int) -> np.ndarray:
    """Every element of x and its k float neighbours on each side (same type)."""
    x = np.asarray(x)
    up, down = [x], []
    hi, lo = x, x
    with np.errstate(over="ignore"):  # the neighbour of the largest float is inf
        for _ in range(k):
            hi = np.nextafter(hi, x.dtype.type(np.inf))
            lo = np.nextafter(lo, x.dtype.type(-np.inf))
            up.append(hi)
            down.append(lo)
    return np.concatenate(down[::-1] + up)


# ---- random corpora -------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def random_weights(ftype: type, n: int = 100_000, seed: int = 2024) -> np.ndarray:
    """n weight-like values of type ftype: a shuffled mix of four families.

    A quarter each of N(0, 1e-3), N(0, 0.05), N(0, 1), and log-uniform
    magnitudes in [1e-12, 1e4] with random signs.
    """
    rng = np.random.default_rng([seed, np.dtype(ftype).itemsize])
    quarter = n // 4
    parts = [rng.normal(0.0, sigma, quarter) for sigma in (1e-3, 0.05, 1.0)]
    rest = n - 3 * quarter
    parts.append(10.0 ** rng.uniform(-12.0, 4.0, rest) * rng.choice([-1.0, 1.0], rest))
    x = np.concatenate(parts).astype(ftype)
    return _frozen(x[rng.permutation(n)])


@functools.lru_cache(maxsize=None)
def random_values(ftype: type, mode: str) -> tuple[Fraction, ...]:
    """seed_values of random_weights(ftype), computed once per session."""
    return tuple(seed_values(random_weights(ftype), mode))


@functools.lru_cache(maxsize=None)
def random_bounds(ftype: type, dtype: type, seed: int = 7) -> np.ndarray:
    """Explicit bounds for random_weights(ftype): log-uniform in [1, cap], plus small ones."""
    n = random_weights(ftype).size
    rng = np.random.default_rng([seed, np.dtype(ftype).itemsize, np.dtype(dtype).itemsize])
    cap = CAP[dtype]
    logb = rng.uniform(0.0, np.log2(float(cap)), n)
    b = np.minimum(np.floor(2.0**logb), float(cap)).astype(np.int64)
    b = np.clip(b, 1, cap)
    small = rng.random(n) < 0.25
    b[small] = rng.integers(1, 200, int(small.sum()))
    return _frozen(b)


# ---- adversarial corpora ------------------------------------------------------


def tie_midpoints(ftype: type, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact ties of limit_denominator: (x, bounds) where v is midway between both candidates.

    For Farey neighbours a/b < c/d (bc - ad = 1) and max(b, d) <= N < b + d,
    the two candidates of limit_denominator(N) are a/b and c/d, and their
    midpoint (ad + bc) / (2bd) is an exact tie.  Only midpoints the element
    really stands for are kept: decimal mode needs b, d of the form 2**i 5**j
    and a short decimal, exact mode needs bd a power of two.
    """
    if mode == "decimal":
        dens = sorted({2**i * 5**j for i in range(9) for j in range(5) if 2**i * 5**j <= 400})
        digits = 6 if ftype is np.float32 else 15
    else:
        dens = [2**i for i in range(12)]
        digits = None
    xs: list[np.floating] = []
    bs: list[int] = []
    for b in dens:
        for d in dens:
            if np.gcd(b, d) != 1:
                continue
            # One solution of b*c - a*d = 1, then every integer shift of the pair.
            c0 = pow(b, -1, d) if d > 1 else 1
            a0 = (b * c0 - 1) // d
            for t in range(-3, 3):
                a, c = a0 + b * t, c0 + d * t
                m = (Fraction(a, b) + Fraction(c, d)) / 2
                lows = {max(b, d), (max(b, d) + b + d - 1) // 2, b + d - 1}
                for n in sorted(lows):
                    if m.denominator <= n:
                        continue
                    if mode == "decimal":
                        text = f"{float(m):.{digits}g}"
                        v = ftype(text)
                        if Fraction(str(v)) != m:
                            continue
                    else:
                        v = ftype(float(m))
                        if Fraction(float(v)) != m:
                            continue
                    xs.append(v)
                    bs.append(n)
    x = np.array(xs, dtype=ftype)
    bounds = np.array(bs, dtype=np.int64)
    return _frozen(x), _frozen(bounds)


def halves(ftype: type, max_d: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(x, bounds): x = k / (2d) for |k| <= 4d, d <= max_d, bounds d-1..d+1, 2d-1, 2d."""
    xs, bs = [], []
    for d in range(1, max_d + 1):
        k = np.arange(-4 * d, 4 * d + 1)
        x = (k / (2.0 * d)).astype(ftype)
        for n in {d - 1, d, d + 1, 2 * d - 1, 2 * d}:
            if n >= 1:
                xs.append(x)
                bs.append(np.full(x.size, n, dtype=np.int64))
    return _frozen(np.concatenate(xs)), _frozen(np.concatenate(bs))


def bound_steps(ftype: type, p: int) -> np.ndarray:
    """Values where floor(T(10**p) / |x|) changes: x = T(10**p) / T(k) and 2 ulps around.

    k runs over 1..150 and 150 log-spaced integers up to 1e12; signs alternate.
    """
    ks = np.unique(
        np.concatenate([np.arange(1, 151), np.geomspace(151, 1e12, 150).astype(np.int64)])
    )
    t = ftype
    with np.errstate(over="ignore"):
        x0 = np.array([t(10**p) / t(k) for k in ks], dtype=ftype)
    x = ulp_neighbours(x0[np.isfinite(x0) & (x0 > 0)], 2)
    x = x[x > 0]
    sign = np.where(np.arange(x.size) % 2 == 0, 1, -1).astype(ftype)
    return _frozen(x * sign)


def clamp_edges(ftype: type, p: int, dtype: type) -> np.ndarray:
    """|x| around 10**p / 2**31 (int32) or 10**p / 2**63 (int64), where the bound is clamped.

    16 ulps either side, and relative steps of 2**-20 out to 16 of them.
    """
    t = ftype
    edge = 2**31 if dtype is np.int32 else 2**63
    x0 = np.array([t(10**p) / t(edge)], dtype=ftype)
    steps = (x0[0] * (1.0 + np.arange(-16, 17) * 2.0**-20)).astype(ftype)
    return _frozen(_signed(np.concatenate([ulp_neighbours(x0, 16), steps])))


def tiny_edges(ftype: type, dtype: type) -> np.ndarray:
    """|x| around 1/(2 cap) and 1/cap: the 0/1 versus 1/cap decision at the largest bound."""
    t = ftype
    cap = CAP[dtype]
    x0 = np.array([t(1) / t(2 * cap), t(1) / t(cap), t(1.5) / t(cap)], dtype=ftype)
    return _frozen(_signed(ulp_neighbours(x0, 8)))


def log_tiny(ftype: type, n: int = 3000, seed: int = 11) -> np.ndarray:
    """Log-uniform magnitudes from the smallest normal to 1e-12, both signs."""
    rng = np.random.default_rng([seed, np.dtype(ftype).itemsize])
    lo = np.log10(float(np.finfo(ftype).tiny))
    x = (10.0 ** rng.uniform(lo, -12.0, n)).astype(ftype)
    x[x == 0] = np.finfo(ftype).tiny
    return _frozen(x * rng.choice(np.array([-1, 1], dtype=ftype), n))


def wide_remainders(ftype: type, n: int = 600, seed: int = 13) -> np.ndarray:
    """Where the SIMD search holds remainders as double-doubles, and the edges of that.

    Values whose exact or decimal numerator or denominator passes 2**52:
    float32 weights widened to float64, decimals of 1 to 17 digits, both
    sides of the binade edges 2**-k (numerators near 2**52 and 2**53), 1/2
    and 1 from below (negative v takes Python's floor), magnitudes near 2**-44
    (exact denominators near 2**96) and near 1e-6 .. 1e-7 (decimal
    exponents around -22, the last exact power of ten); both signs.
    """
    rng = np.random.default_rng([seed, np.dtype(ftype).itemsize])
    cast = rng.normal(0.0, 0.05, n).astype(np.float32).astype(np.float64)
    digits = rng.integers(1, 18, n)
    normal = rng.normal(0.0, 0.3, n)
    short = np.array([float(f"{v:.{int(k) - 1}e}") for v, k in zip(normal, digits)])
    edges = np.array([2.0**-k for k in range(50)] + [0.5, 1.0, 2.0**-44, 2.0**-45, 2.0**-43])
    tiny = 10.0 ** rng.uniform(-7.5, -5.5, n)
    near_edges = ulp_neighbours(edges.astype(ftype), 3).astype(np.float64)
    x = np.concatenate([cast, short, tiny, near_edges])
    x = x.astype(ftype)
    return _frozen(_signed(x[np.isfinite(x) & (x != 0)]))


def subnormals(ftype: type, seed: int = 5) -> np.ndarray:
    """Subnormal floats: the smallest ones, random bit patterns, the largest; both signs."""
    info = np.finfo(ftype)
    uint = np.uint32 if ftype is np.float32 else np.uint64
    frac_bits = info.nmant
    rng = np.random.default_rng([seed, np.dtype(ftype).itemsize])
    patterns = np.concatenate(
        [
            np.arange(1, 65, dtype=np.uint64),
            rng.integers(1, 2**frac_bits, 400, dtype=np.uint64),
            np.arange(2**frac_bits - 16, 2**frac_bits, dtype=np.uint64),
        ]
    ).astype(uint)
    x = patterns.view(ftype)
    edge = ulp_neighbours(np.array([info.smallest_normal], dtype=ftype), 3)
    return _frozen(_signed(np.concatenate([x, edge])))


def integers(ftype: type) -> np.ndarray:
    """Integral floats: small ones, powers of two and of ten and their neighbours, both signs."""
    small = np.arange(0, 1001, dtype=np.float64)
    top = 127 if ftype is np.float32 else 200
    pow2 = np.array([2.0**k for k in range(top)])
    pow10 = np.array([10.0**k for k in range(39 if ftype is np.float32 else 60)])
    base = np.concatenate([small, pow2, pow10]).astype(ftype)
    base = base[np.isfinite(base)]
    near = ulp_neighbours(base[base >= 2**20], 1)
    x = np.concatenate([base, near])
    x = np.unique(x[(x == np.round(x)) & np.isfinite(x)])
    return _frozen(_signed(x))


def largest(ftype: type) -> np.ndarray:
    """The largest finite floats and a few below them, both signs."""
    top = np.array([np.finfo(ftype).max], dtype=ftype)
    lows = ulp_neighbours(top, 4)
    return _frozen(_signed(lows[np.isfinite(lows)]))


def around_int_limits(ftype: type) -> np.ndarray:
    """Values whose numerator sits at the edge of int32 / int64, and their neighbours."""
    t = ftype
    centres = np.array(
        [2.0**31, 2.0**31 - 1, 2.0**31 + 1, 2.0**31 - 0.5, 2.0**31 + 0.5,
         2.0**31 - 0.25, 2.0**31 - 0.75, 2.0**63, 2.0**62, 3e9, 1e10, 9.2e18, 9.3e18,
         1e19, 1e20, 1e21],
        dtype=np.float64,
    ).astype(t)
    return _frozen(_signed(ulp_neighbours(centres, 3)))


def powers_of_two(ftype: type) -> np.ndarray:
    """Every normal power of two and 2 ulps around, both signs.

    At a power of two the float spacing below is half the spacing above, so
    the shortest round-trip decimal is often not the correctly rounded one
    (float64 2**-24 prints as 5.960464477539063e-08, not ...062).
    """
    info = np.finfo(ftype)
    x0 = np.array([2.0**k for k in range(info.minexp, info.maxexp)], dtype=ftype)
    return _frozen(_signed(ulp_neighbours(x0, 2)))
