"""The one exception the command line reports without a traceback.

Readers, writers and the SPEC parser raise :class:`UserError` for problems
with what the user gave (a missing file, an unknown format, a SPEC naming
nothing, a tensor with NaN); :mod:`fastfrac.cli` prints its message on one
line and exits with status 1.  Any other exception is a bug and keeps its
traceback.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A problem with the command's input or environment, told in one line.

    >>> str(UserError("no such file: model.keras"))
    'no such file: model.keras'
    """
