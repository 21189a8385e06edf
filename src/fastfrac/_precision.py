"""Precision maps: which layer or tensor gets which precision p, and how many digits.

One set of rules serves the Keras API (:func:`fastfrac.keras.approximate_model`)
and the file path (SPEC on the command line, :mod:`fastfrac._io.spec`):

- a map goes from a name or an :func:`fnmatch.fnmatchcase` glob to p, or to
  None for "leave it as it is";
- an exact name wins over any glob; among globs the first match in the map's
  order wins; names no key reaches are left out;
- a key that matches no name at all is a mistake, reported as one
  :class:`ValueError` that lists the names.

Models are approximated with int64 fractions (the seed's unclamped bound),
so p may be 0..18 here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from fastfrac._inputs import check_p, check_positive
from fastfrac._types import output_limits

__all__ = ["MAX_P", "Digits", "check_precision", "digits_for", "list_names", "resolve_precision"]

Digits = int | Literal["2p", "exact"]

# Model paths always compute int64 fractions, so their precisions reach int64's.
MAX_P = output_limits(np.int64).max_p


def check_precision(p: Any, what: str) -> int | None:
    """A map entry's p as an int in 0..:data:`MAX_P`, or None (keep); ValueError otherwise.

    >>> check_precision(4, "dense"), check_precision(None, "dense")
    (4, None)
    >>> check_precision(19, "precision for 'dense'")
    Traceback (most recent call last):
    ...
    ValueError: precision for 'dense' must lie in 0..18 for int64 output, not 19
    """
    if p is None:
        return None
    return check_p(p, output_limits(np.int64), what=what)


def list_names(names: Sequence[str], limit: int = 30) -> str:
    """Names joined for an error message, the tail elided past ``limit``.

    >>> list_names(["a", "b", "c"], limit=2)
    'a, b and 1 more'
    >>> list_names([])
    '(none)'
    """
    if not names:
        return "(none)"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def resolve_precision(
    precision: int | Mapping[str, int | None],
    names: Iterable[str],
    *,
    noun: str = "layer",
    key_word: str = "precision key",
) -> dict[str, int]:
    """Which p each name gets: ``{name: p}`` for the names to approximate, in the order given.

    Parameters
    ----------
    precision : int or mapping
        An int applies to every name.  A mapping goes from a name or an
        :func:`fnmatch.fnmatchcase` pattern to p (or None: keep it).  An
        exact name wins over any pattern; among patterns the first match in
        the mapping's order wins; unmatched names are left out.
    names : iterable of str
        The candidates (layers of a model, tensors of a file), in order.
    noun, key_word : str
        How the error message calls a name and a key.

    Raises
    ------
    ValueError
        A key matches no name (the message lists them), or a p is not an
        integer in 0..18.

    Examples
    --------
    >>> names = ["conv1d", "dense", "dense_1", "batch_normalization"]
    >>> resolve_precision({"dense*": 2, "conv*": 3, "*": 1, "dense_1": None}, names)
    {'conv1d': 3, 'dense': 2, 'batch_normalization': 1}
    >>> resolve_precision(4, ["a", "b"])
    {'a': 4, 'b': 4}
    >>> resolve_precision({"lstm": 2}, names)
    Traceback (most recent call last):
    ...
    ValueError: precision key 'lstm' matches no layer; the layers are: conv1d, dense, dense_1, batch_normalization
    """
    names = list(names)
    if not isinstance(precision, Mapping):
        p = check_precision(precision, "precision for 'every layer'")
        return {} if p is None else dict.fromkeys(names, p)
    checked = {
        str(key): check_precision(p, f"precision for {str(key)!r}") for key, p in precision.items()
    }
    for key in checked:
        if not any(fnmatch.fnmatchcase(name, key) for name in names):
            raise ValueError(
                f"{key_word} {key!r} matches no {noun}; the {noun}s are: {list_names(names)}"
            )
    chosen: dict[str, int] = {}
    for name in names:
        if name in checked:
            p = checked[name]
        else:
            p = next((v for k, v in checked.items() if fnmatch.fnmatchcase(name, k)), None)
        if p is not None:
            chosen[name] = p
    return chosen


def digits_for(digits: Digits, p: int) -> int | None:
    """Significant digits for precision p; None means the exact value num/den.

    ``digits`` is ``"2p"`` (2p, at least 1), ``"exact"`` or an int >= 1; the
    command line's ``--digits`` follows the same rule.

    >>> digits_for("2p", 4), digits_for("2p", 0), digits_for("exact", 4), digits_for(5, 4)
    (8, 1, None, 5)
    """
    if digits == "2p":
        return max(2 * p, 1)
    if digits == "exact":
        return None
    return check_positive(digits, "digits", expected="'2p', 'exact' or an integer >= 1")
