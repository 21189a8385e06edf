"""SPEC, the command line's precision map: parsing and which tensor gets which p.

A SPEC is a comma-separated list of items:

- ``NAME=P``: layers (Keras files) or tensors (safetensors, npz) called NAME,
  or matching NAME as an :func:`fnmatch.fnmatchcase` glob, get precision P;
- ``NAME=-``: leave them as they are (useful beside a bare P);
- ``P``, at most once: every other float tensor gets P.

An exact name wins over any glob, the first matching glob in SPEC order wins
over later ones, and the bare P comes last -- the rules of
:mod:`fastfrac._precision`, which does the matching here too.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastfrac._errors import UserError
from fastfrac._precision import MAX_P, Digits, digits_for, resolve_precision

__all__ = ["Spec", "parse_digits", "parse_spec"]


@dataclass(frozen=True)
class Spec:
    """A parsed SPEC: ``rules`` maps NAME (or glob) to p, None meaning "keep"."""

    rules: dict[str, int | None] = field(default_factory=dict)
    default: int | None = None

    def covers(self, name: str) -> bool:
        """Whether some item applies to ``name`` (a NAME matches it, or there is a bare P).

        >>> spec = parse_spec("dense*=2,norm=-")
        >>> spec.covers("norm"), spec.covers("dense_1"), spec.covers("conv1d")
        (True, True, False)
        """
        return self.default is not None or any(fnmatch.fnmatchcase(name, k) for k in self.rules)

    def resolve(self, names: Sequence[str], noun: str = "tensor") -> dict[str, int]:
        """``{name: p}`` for the names to approximate, in the order given.

        Raises UserError when a NAME matches none of ``names`` (the message
        lists them; ``noun`` says what they are).

        Examples
        --------
        >>> spec = parse_spec("dense*=2,dense_1=4,batch_*=-,1")
        >>> spec.resolve(["conv1d", "batch_norm", "dense", "dense_1", "dense_2"], "layer")
        {'conv1d': 1, 'dense': 2, 'dense_1': 4, 'dense_2': 2}
        >>> parse_spec("lstm=2").resolve(["conv1d", "dense"], "layer")
        Traceback (most recent call last):
        ...
        fastfrac._errors.UserError: SPEC name 'lstm' matches no layer; the layers are: conv1d, dense
        """
        mapping = dict(self.rules)
        # The bare P is the last glob: exact names and earlier globs win over it
        # (and, unlike a NAME, it is no mistake when there is nothing to match).
        if self.default is not None and "*" not in mapping and names:
            mapping["*"] = self.default
        try:
            return resolve_precision(mapping, names, noun=noun, key_word="SPEC name")
        except ValueError as exc:
            raise UserError(str(exc)) from None


def _parse_p(text: str, item: str) -> int:
    try:
        p = int(text)
    except ValueError:
        raise UserError(
            f"SPEC item {item!r}: {text!r} is not a precision (an integer 0..{MAX_P}, or - to keep)"
        ) from None
    if not 0 <= p <= MAX_P:
        raise UserError(f"SPEC item {item!r}: the precision must lie in 0..{MAX_P}, not {p}")
    return p


def parse_spec(text: str) -> Spec:
    """Parse ``"conv1d=4,bidirectional=2,dense=2,dense_1=4"`` and the like.

    Examples
    --------
    >>> parse_spec("conv1d=4, dense*=2, norm=-, 3")
    Spec(rules={'conv1d': 4, 'dense*': 2, 'norm': None}, default=3)
    >>> parse_spec("4,2")
    Traceback (most recent call last):
    ...
    fastfrac._errors.UserError: SPEC has more than one bare precision ('4' and '2'); give at most one
    """
    rules: dict[str, int | None] = {}
    default: int | None = None
    default_item = ""
    if not text.strip():
        raise UserError("SPEC is empty; give NAME=P items and/or one bare P")
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise UserError(f"SPEC {text!r} has an empty item (a stray comma?)")
        if "=" in item:
            name, _, value = item.rpartition("=")
            name, value = name.strip(), value.strip()
            if not name:
                raise UserError(f"SPEC item {item!r} has no name before '='")
            if name in rules:
                raise UserError(f"SPEC names {name!r} twice")
            rules[name] = None if value == "-" else _parse_p(value, item)
        else:
            if default is not None:
                raise UserError(
                    f"SPEC has more than one bare precision ({default_item!r} and {item!r}); "
                    "give at most one"
                )
            default, default_item = _parse_p(item, item), item
    return Spec(rules, default)


def parse_digits(text: str) -> Digits:
    """``--digits``: ``"2p"``, ``"exact"`` or a positive integer.

    >>> parse_digits("2p"), parse_digits("exact"), parse_digits("6")
    ('2p', 'exact', 6)
    """
    if text in ("2p", "exact"):
        return text  # type: ignore[return-value]
    try:
        value = int(text)
        digits_for(value, 0)
    except ValueError:
        raise UserError(f"--digits must be 2p, exact or an integer >= 1, not {text!r}") from None
    return value
