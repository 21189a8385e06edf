"""fastfrac: bit-exact best rational approximations of float arrays, at C speed.

Replace every element x of a float array by the fraction that CPython's
``Fraction(str(x)).limit_denominator(int(10**p / abs(x)))`` returns -- the
"Diophantine approximation" used to compress neural-network weights -- in a
vectorised C kernel instead of a Python loop.

>>> import numpy as np, fastfrac
>>> w = np.float32([0.0123, -0.5, 0.333333])
>>> num, den = fastfrac.approximate(w, 2)
>>> num, den
(array([93, -1,  1], dtype=int32), array([7561,    2,    3], dtype=int32))
>>> fastfrac.to_float(num, den, digits=4)
array([ 0.0123, -0.5   ,  0.3333])

:mod:`fastfrac.reference` holds the same functions written with
``fractions.Fraction``: the oracle the kernels are tested against.
"""

from fastfrac._types import Fractions
from fastfrac.approximation import (
    approximate,
    available_isas,
    limit_denominator,
    max_denominator,
    openmp_enabled,
    to_float,
)

__all__ = [
    "Fractions",
    "approximate",
    "available_isas",
    "limit_denominator",
    "max_denominator",
    "openmp_enabled",
    "to_float",
]
__version__ = "0.1.0"
