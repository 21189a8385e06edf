#!/usr/bin/env python3
"""Generate csrc/ff_shortest_tables.h, the constants of the Schubfach conversion.

    python3 tools/gen_shortest_tables.py > csrc/ff_shortest_tables.h

ff_shortest.c finds the shortest decimal with Schubfach (R. Giulietti, "The
Schubfach way to render doubles", 2020).  It needs

  * one 128-bit approximation g(k) of 10**-k for every decimal exponent k the
    binary64 exponents lead to (binary32, binary16 and bfloat16 use the upper
    half of the same rows, rounded up, so they have no table of their own);
  * three fixed-point formulas for floor(e*log10(2)), floor(log10(3/4 * 2**e))
    and floor(e*log2(10)).

Everything is computed with exact integers and fractions, so the output is
deterministic.  Nothing is printed unless it is proven first: every
fixed-point formula is checked against the exact value over its whole stated
range, and verify_format proves, for every binary exponent of every format,
that the truncated products ff_shortest.c computes round to odd exactly as
the exact products would.  The two half formats (IEEE binary16 and bfloat16)
run through the binary32 code path (64-bit g) and are proven with it.  A run
takes a few seconds.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from fractions import Fraction

# (precision in bits with the hidden bit, exponent of the subnormal ulp,
#  exponent of the largest binade's ulp): a finite positive value is c * 2**q
# with 1 <= c < 2**P and Q_MIN <= q <= Q_MAX.
FORMATS = {
    "binary64": (53, -1074, 971),
    "binary32": (24, -149, 104),
    "binary16": (11, -24, 5),
    "bfloat16": (8, -133, 120),
}

# Each product in ff_shortest.c is (n << h) * g / 2**SHIFT with g this many
# bits wide and n << h below 2**N_BITS (ff_rop_* assert it); fraction bits
# below 2**-WINDOW are ignored by the sticky bit.
MODEL = {
    "binary64": {"g_bits": 128, "shift": 128, "window": 67, "n_bits": 59},
    "binary32": {"g_bits": 64, "shift": 64, "window": 32, "n_bits": 30},
    # The half formats take ff_shortest.c's binary32 path unchanged.
    "binary16": {"g_bits": 64, "shift": 64, "window": 32, "n_bits": 30},
    "bfloat16": {"g_bits": 64, "shift": 64, "window": 32, "n_bits": 30},
}

G_BITS = 128

# Ranges over which the fixed-point logarithms are checked (and which
# ff_shortest.c asserts); they cover every use with a margin.
LOG10_POW2_EMAX = 1700
LOG10_3Q_POW2_EMAX = 1700
LOG2_POW10_EMAX = 500


def floor_log(base: int, v: Fraction) -> int:
    """floor(log_base(v)) for a positive rational v, exactly."""
    assert v > 0
    # A float estimate (off by at most a few) that the loops below correct.
    k = math.floor((v.numerator.bit_length() - v.denominator.bit_length()) / math.log2(base))
    while Fraction(base) ** k > v:
        k -= 1
    while Fraction(base) ** (k + 1) <= v:
        k += 1
    return k


def floor_log10_pow2(e: int) -> int:
    return floor_log(10, Fraction(2) ** e)


def floor_log10_three_quarters_pow2(e: int) -> int:
    return floor_log(10, Fraction(3, 4) * Fraction(2) ** e)


def floor_log2_pow10(e: int) -> int:
    return floor_log(2, Fraction(10) ** e)


def fit_fixed_point(exact, emax: int, alpha: Fraction, beta: Fraction):
    """Smallest shift S with integers M, C such that
    (e*M + C) >> S == exact(e) for every |e| <= emax, where exact(e) is
    floor(e*alpha + beta).  Returns (M, C, S)."""
    want = [exact(e) for e in range(-emax, emax + 1)]
    for shift in range(8, 40):
        scale = 2**shift
        m0 = alpha * scale
        c0 = beta * scale
        for mul in (m0.__floor__(), m0.__ceil__()):
            for add in range(c0.__floor__() - 2, c0.__ceil__() + 3):
                if all((e * mul + add) >> shift == w for e, w in zip(range(-emax, emax + 1), want)):
                    # The C code computes e*M + C in int32_t.
                    assert emax * abs(mul) + abs(add) < 2**31
                    return mul, add, shift
    raise AssertionError("no fixed-point formula found")


def fixed_point_formulas():
    # Irrational logarithms approximated closely enough as fractions for the
    # search; the check against exact() is what makes the result correct.
    log10_2 = Fraction(30102999566398119521373889472449, 10**32)
    log2_10 = Fraction(332192809488736234787031942948939, 10**32)
    log10_3q = Fraction(-12493873660829995313244988619387, 10**32)
    return {
        "LOG10_POW2": fit_fixed_point(floor_log10_pow2, LOG10_POW2_EMAX, log10_2, Fraction(0)),
        "LOG10_3Q_POW2": fit_fixed_point(
            floor_log10_three_quarters_pow2, LOG10_3Q_POW2_EMAX, log10_2, log10_3q
        ),
        "LOG2_POW10": fit_fixed_point(floor_log2_pow10, LOG2_POW10_EMAX, log2_10, Fraction(0)),
    }


def exponent_cases(fmt: str):
    """Yields (q, k, n_lo, n_hi, ns) for every binary exponent q.

    Regular spacing: the interval ends are n * 2**(q-2) with n = 4c -+ 2, 4c,
    all inside [n_lo, n_hi] (ns is None).  Irregular spacing (c = 2**(P-1),
    q > Q_MIN): ns lists the three n = 4c - 1, 4c, 4c + 2."""
    p, q_min, q_max = FORMATS[fmt]
    c_min, c_max = 2 ** (p - 1), 2**p - 1
    for q in range(q_min, q_max + 1):
        lo = 4 * 1 - 2 if q == q_min else 4 * c_min - 2
        yield q, floor_log10_pow2(q), lo, 4 * c_max + 2, None
        if q > q_min:
            yield q, floor_log10_three_quarters_pow2(q), None, None, (
                4 * c_min - 1,
                4 * c_min,
                4 * c_min + 2,
            )


def g_exact(k: int) -> tuple[Fraction, int]:
    """(10**-k * 2**(127 - r), r) with r = floor(log2(10**-k)): in [2**127, 2**128)."""
    beta = Fraction(10) ** -k
    r = floor_log(2, beta)
    return beta * Fraction(2) ** (G_BITS - 1 - r), r


def g128(k: int) -> int:
    """The table row: g(k) = ceil(10**-k * 2**(127 - floor(log2(10**-k))))."""
    exact, _ = g_exact(k)
    g = exact.__ceil__()
    assert 2 ** (G_BITS - 1) <= g < 2**G_BITS
    return g


def g_model(fmt: str, k: int) -> int:
    """The multiplier ff_shortest.c uses for fmt: g(k) itself for binary64,
    its upper 64 bits rounded up for the formats with 64-bit g."""
    g = g128(k)
    if MODEL[fmt]["g_bits"] == 128:
        return g
    g32 = -(-g // 2**64)
    assert g32 < 2**64, "the 64-bit multiplier must not overflow"
    return g32


def table_range():
    ks = {k for fmt in FORMATS for (_, k, *_rest) in exponent_cases(fmt)}
    # One FF_G_K32 range serves every format on the 64-bit-g path.
    k32 = {
        k
        for fmt in FORMATS
        if MODEL[fmt]["g_bits"] == 64
        for (_, k, *_rest) in exponent_cases(fmt)
    }
    return min(ks), max(ks), min(k32), max(k32)


def shift_range():
    hs = []
    for fmt in FORMATS:
        for q, k, *_ in exponent_cases(fmt):
            _, r = g_exact(k)
            hs.append(q + r + 1)
    return min(hs), max(hs)


# ---- verification --------------------------------------------------------------


def first_hit(a: int, m: int, lo: int, hi: int) -> int | None:
    """Smallest j >= 0 with lo <= (a*j) % m <= hi, or None; 0 <= lo <= hi < m.

    If no multiple of a lands in [lo, hi] before the first wrap, the interval
    is shorter than a and a*j = lo + m*y + t (0 <= t <= hi - lo) turns into
    the same question for (m*y) % a, one Euclid step down."""
    a %= m
    if lo == 0:
        return 0
    if a == 0:
        return None
    j = -(-lo // a)
    if a * j <= hi:
        return j
    y = first_hit(m % a, a, a - hi % a, a - lo % a)
    if y is None:
        return None
    return -(-(lo + m * y) // a)


def exists_residue(a: int, m: int, n_lo: int, n_hi: int, lo: int, hi: int) -> bool:
    """Whether some n in [n_lo, n_hi] has lo <= (a*n) % m <= hi (0 <= lo <= hi < m)."""
    o = a * n_lo % m
    if lo <= o <= hi:
        return True
    if o > hi:
        lo, hi = lo - o + m, hi - o + m
    else:
        lo, hi = lo - o, hi - o
    j = first_hit(a, m, lo, hi)
    return j is not None and n_lo + j <= n_hi


def self_test_first_hit():
    rnd = random.Random(1)
    for _ in range(20000):
        m = rnd.randint(1, 300)
        a = rnd.randint(0, m - 1)
        lo = rnd.randint(0, m - 1)
        hi = rnd.randint(lo, m - 1)
        n_lo = rnd.randint(0, 400)
        n_hi = rnd.randint(n_lo, n_lo + 400)
        brute = any(lo <= a * n % m <= hi for n in range(n_lo, n_hi + 1))
        assert exists_residue(a, m, n_lo, n_hi, lo, hi) == brute, (a, m, lo, hi, n_lo, n_hi)


def rop_exact(x: Fraction) -> int:
    f = x.__floor__()
    return f | (x != f)


def rop_model(fmt: str, k: int, h: int, n: int) -> int:
    model = MODEL[fmt]
    p = (n << h) * g_model(fmt, k)
    integer = p >> model["shift"]
    frac = p & (2 ** model["shift"] - 1)
    sticky = frac >> (model["shift"] - model["window"]) != 0
    return integer | sticky


def verify_format(fmt: str) -> int:
    """Proves rop_model == rop_exact for every n each exponent can produce.

    X = n * 2**q * 10**-k is the exact scaled value (4 * end / 10**k for the
    interval end n * 2**(q-2)) and the model computes
    X' = X + d with 0 <= d <= dmax (g is rounded up).  The model's rounding to
    odd equals the exact one when
      * dmax < 2**-window: an integer X keeps its floor and a zero sticky bit;
      * every non-integer X has frac(X) >= 2**-window (the sticky bit sees it)
        and frac(X) < 1 - dmax (the floor does not move).
    With X = n*a/m in lowest terms, frac(X) = (n*a mod m)/m, so both are
    questions about residues over a range of n, answered by exists_residue."""
    model = MODEL[fmt]
    count = 0
    for q, k, n_lo, n_hi, ns in exponent_cases(fmt):
        exact_g, r = g_exact(k)
        h = q + r + 1
        if model["g_bits"] == 64:
            exact_g /= 2**64
        assert max(ns or (n_hi,)) << h < 2 ** model["n_bits"], (fmt, q)
        if ns is not None:
            for n in ns:
                x = Fraction(n) * Fraction(2) ** q * Fraction(10) ** -k
                assert rop_model(fmt, k, h, n) == rop_exact(x), (fmt, q, k, n)
                count += 1
            continue
        # Spot checks of the model against exact arithmetic, independent of
        # the residue argument below.
        rnd = random.Random(q)
        for n in (n_lo, n_lo + 1, n_hi - 1, n_hi, rnd.randint(n_lo, n_hi), rnd.randint(n_lo, n_hi)):
            x = Fraction(n) * Fraction(2) ** q * Fraction(10) ** -k
            assert rop_model(fmt, k, h, n) == rop_exact(x), (fmt, q, k, n)
        err = g_model(fmt, k) - exact_g
        assert 0 <= err < 2
        dmax = Fraction(n_hi << h) * err / 2 ** model["shift"]
        assert dmax < Fraction(1, 2 ** model["window"]), (fmt, q)
        ratio = Fraction(2) ** q * Fraction(10) ** -k
        a, m = ratio.numerator, ratio.denominator
        if m > 1:
            small = -(-m // 2 ** model["window"])  # residues below this are too small
            big = (m * (1 - dmax)).__ceil__()  # residues from this on are too big
            if small > 1:
                assert not exists_residue(a, m, n_lo, n_hi, 1, small - 1), (fmt, q, "small")
            if big <= m - 1:
                assert not exists_residue(a, m, n_lo, n_hi, big, m - 1), (fmt, q, "big")
        count += 1
    return count


# ---- output ----------------------------------------------------------------------


def render() -> str:
    logs = fixed_point_formulas()
    k_min, k_max, k32_min, k32_max = table_range()
    h_min, h_max = shift_range()
    out = []
    w = out.append
    w("/*")
    w(" * ff_shortest_tables.h -- constants of the Schubfach conversion in ff_shortest.c.")
    w(" *")
    w(" * GENERATED FILE, do not edit.  Produced by")
    w(" *     python3 tools/gen_shortest_tables.py > csrc/ff_shortest_tables.h")
    w(" * with exact integer arithmetic (see that script for the derivations).  The")
    w(" * script prints nothing it has not proven: the logarithm formulas hold over")
    w(" * their stated ranges, and for every binary64, binary32, binary16 and")
    w(" * bfloat16 exponent the truncated products of ff_shortest.c round to odd")
    w(" * like the exact ones.")
    w(" */")
    w("#ifndef FF_SHORTEST_TABLES_H")
    w("#define FF_SHORTEST_TABLES_H")
    w("")
    w("#include <stdint.h>")
    w("")
    w("/* floor(log10(2**e)) == (e * MUL + ADD) >> SHIFT for |e| <= EMAX. */")
    mul, add, shift = logs["LOG10_POW2"]
    w("#define FF_LOG10_POW2_MUL %d" % mul)
    w("#define FF_LOG10_POW2_ADD %d" % add)
    w("#define FF_LOG10_POW2_SHIFT %d" % shift)
    w("#define FF_LOG10_POW2_EMAX %d" % LOG10_POW2_EMAX)
    w("")
    w("/* floor(log10(3/4 * 2**e)) == (e * MUL + ADD) >> SHIFT for |e| <= EMAX. */")
    mul, add, shift = logs["LOG10_3Q_POW2"]
    w("#define FF_LOG10_3Q_POW2_MUL %d" % mul)
    w("#define FF_LOG10_3Q_POW2_ADD %d" % add)
    w("#define FF_LOG10_3Q_POW2_SHIFT %d" % shift)
    w("#define FF_LOG10_3Q_POW2_EMAX %d" % LOG10_3Q_POW2_EMAX)
    w("")
    w("/* floor(log2(10**e)) == (e * MUL + ADD) >> SHIFT for |e| <= EMAX. */")
    mul, add, shift = logs["LOG2_POW10"]
    w("#define FF_LOG2_POW10_MUL %d" % mul)
    w("#define FF_LOG2_POW10_ADD %d" % add)
    w("#define FF_LOG2_POW10_SHIFT %d" % shift)
    w("#define FF_LOG2_POW10_EMAX %d" % LOG2_POW10_EMAX)
    w("")
    w("/* Decimal exponents k with a row in ff_g_table: every k binary64 needs;")
    w(" * binary32, binary16 and bfloat16 (the 64-bit g path) need only")
    w(" * FF_G_K32_MIN..FF_G_K32_MAX. */")
    w("#define FF_G_K_MIN (%d)" % k_min)
    w("#define FF_G_K_MAX %d" % k_max)
    w("#define FF_G_K32_MIN (%d)" % k32_min)
    w("#define FF_G_K32_MAX %d" % k32_max)
    w("")
    w("/* h = q + floor(log2(10**-k)) + 1, the left shift applied to the scaled")
    w(" * interval ends, always lies in [FF_H_MIN, FF_H_MAX]. */")
    w("#define FF_H_MIN %d" % h_min)
    w("#define FF_H_MAX %d" % h_max)
    w("")
    w("/* Row k - FF_G_K_MIN is {high 64 bits, low 64 bits} of")
    w(" *     g(k) = ceil(10**-k * 2**(127 - floor(log2(10**-k)))),")
    w(" * the 128 leading bits of 10**-k rounded up: 2**127 <= g(k) < 2**128, and")
    w(" * exact when 10**-k has at most 128 significant bits. */")
    w("static const uint64_t ff_g_table[%d][2] = {" % (k_max - k_min + 1))
    for k in range(k_min, k_max + 1):
        g = g128(k)
        w("    {UINT64_C(0x%016x), UINT64_C(0x%016x)}, /* k = %d */" % (g >> 64, g & (2**64 - 1), k))
    w("};")
    w("")
    w("#endif /* FF_SHORTEST_TABLES_H */")
    return "\n".join(out) + "\n"


def main() -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    sys.setrecursionlimit(100000)  # first_hit recurses once per Euclid step
    self_test_first_hit()
    for fmt in FORMATS:
        n = verify_format(fmt)
        print("%s: %d exponent cases verified" % (fmt, n), file=sys.stderr)
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
