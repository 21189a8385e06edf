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

from fastfrac import approximation as _approximation
from fastfrac._types import Fractions as Fractions
from fastfrac.approximation import (
    approximate as approximate,
)
from fastfrac.approximation import (
    available_isas as available_isas,
)
from fastfrac.approximation import (
    limit_denominator as limit_denominator,
)
from fastfrac.approximation import (
    max_denominator as max_denominator,
)
from fastfrac.approximation import (
    openmp_enabled as openmp_enabled,
)
from fastfrac.approximation import (
    selected_isa as selected_isa,
)
from fastfrac.approximation import (
    to_float as to_float,
)

# The names above, re-exported (the "as" form tells type checkers so).
__all__ = ["Fractions", *_approximation.__all__]
__version__ = "0.1.0"
