"""Plain-text tables and the integer helpers the reports share.

Nothing here imports TensorFlow: the Keras and TFLite modules build their
reports from NumPy arrays and dictionaries and print them with
:func:`format_table`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fastfrac._container import Tensor

__all__ = [
    "ApproximationReport",
    "Column",
    "QUALITY_COLUMNS",
    "bit_length",
    "combine_rows",
    "format_table",
    "format_quality",
    "format_value",
    "fraction_bits",
    "max_errors",
    "tensor_row",
]

# A column of a table: (row key, header, formatter of one cell value).
Column = tuple[str, str, Callable[[Any], str]]

# Integers below this magnitude are exact as float64.
_EXACT_FLOAT = 2.0**53


def format_value(value: Any, spec: str = "") -> str:
    """One cell: ``"-"`` for None, else ``format(value, spec)``.

    >>> format_value(None), format_value(0.5, ".3f"), format_value((3, 4))
    ('-', '0.500', '(3, 4)')
    """
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return str(value)
    return format(value, spec)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """An aligned plain-text table: text columns left-aligned, numbers right-aligned.

    Parameters
    ----------
    rows : sequence of mappings
        One mapping per row; missing keys print as ``"-"``.
    columns : sequence of (key, header, formatter)
        The formatter turns a cell's value into text.

    Examples
    --------
    >>> cols = [("name", "name", str), ("x", "x", lambda v: format_value(v, ".2f"))]
    >>> print(format_table([{"name": "a", "x": 1.0}, {"name": "long", "x": None}], cols))
    name     x
    a     1.00
    long     -
    """
    cells = [[fmt(row.get(key)) for key, _, fmt in columns] for row in rows]
    headers = [header for _, header, _ in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    # A column is textual when any of its values is a string: align those left.
    left = [
        any(isinstance(row.get(key), str) for row in rows) for key, _, _ in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.ljust(w) if lf else v.rjust(w) for v, w, lf in zip(values, widths, left)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in cells])


def bit_length(values: np.ndarray) -> np.ndarray:
    """``int.bit_length`` of every element's absolute value, exactly, as int32.

    A float64 holds an integer below 2**53 exactly and frexp's exponent is
    then its bit length.  The rare larger magnitudes are shifted right by 11
    bits first (below 2**53 again) and get those 11 bits back, so the result
    is exact for all of int64 and uint64: over ten times faster than a
    binary search on the shift, at about 10 ms per million values.

    >>> bit_length(np.array([0, 1, -1, 255, 256, 2**53 + 1, 2**63 - 1, -(2**63)], dtype=np.int64))
    array([ 0,  1,  1,  8,  9, 54, 63, 64], dtype=int32)
    """
    v = np.asarray(values)
    as_float = v.astype(np.float64)
    length = np.frexp(as_float)[1]
    large = np.abs(as_float) >= _EXACT_FLOAT
    if large.any():
        big = v[large]
        if big.dtype.kind != "u":
            # abs() of int64's minimum wraps to itself; read as uint64 it is 2**63.
            big = np.abs(big.astype(np.int64)).view(np.uint64)
        shifted = big.astype(np.uint64) >> np.uint64(11)
        length[large] = np.frexp(shifted.astype(np.float64))[1] + 11
    return length


def fraction_bits(num: np.ndarray, den: np.ndarray) -> int:
    """Bits to write the fractions: the sum of ``bit_length(|num|) + 1 + bit_length(den)``.

    The sign is counted as one bit.  Reports divide it by the count for
    their ``bits_per_value``.

    >>> fraction_bits(np.array([1, -22]), np.array([2, 7]))  # (1 + 1 + 2) + (5 + 1 + 3)
    13
    """
    return int(bit_length(num).sum()) + int(bit_length(den).sum()) + int(np.size(num))


def max_errors(original: np.ndarray, approximated: np.ndarray) -> tuple[float, float]:
    """(largest absolute error, largest relative error) of ``approximated`` against ``original``.

    The relative error is taken over the nonzero original elements (a zero
    stays zero); both are 0.0 for empty arrays.

    >>> max_errors(np.float32([0.0, 0.5, -2.0]), np.float32([0.0, 0.25, -2.5]))
    (0.5, 0.5)
    """
    orig = np.asarray(original, dtype=np.float64)
    err = np.abs(np.asarray(approximated, dtype=np.float64) - orig)
    if not err.size:
        return 0.0, 0.0
    magnitude = np.abs(orig)
    rel = np.divide(err, magnitude, out=np.zeros_like(err), where=magnitude != 0)
    return float(err.max()), float(rel.max())


def tensor_row(tensor: Tensor, original: np.ndarray, seconds: float) -> dict[str, Any]:
    """The report row of one weight array: what was done to it and what it cost.

    The errors are :func:`max_errors`; ``bits_per_value`` is
    :func:`fraction_bits` over the count, None for a tensor left as it was.
    """
    max_abs, max_rel = max_errors(original, tensor.values)
    row: dict[str, Any] = {
        "layer": tensor.layer,
        "weight": tensor.weight,
        "shape": tuple(int(n) for n in np.shape(original)),
        "count": int(np.size(original)),
        "p": tensor.p,
        "digits": None,
        "max_abs_error": max_abs,
        "max_rel_error": max_rel,
        "bits_per_value": None,
        "kernel_seconds": float(seconds),
    }
    if tensor.fractions is not None:
        num, den = tensor.fractions
        row["digits"] = "exact" if tensor.digits is None else int(tensor.digits)
        if num.size:
            row["bits_per_value"] = fraction_bits(num, den) / num.size
    return row


def _sci(value: Any) -> str:
    return format_value(value, ".3g")


# The columns every approximation table has: what was asked and what it gave.
QUALITY_COLUMNS: list[Column] = [
    ("p", "p", format_value),
    ("digits", "digits", format_value),
    ("max_abs_error", "max abs error", _sci),
    ("max_rel_error", "max rel error", _sci),
    ("bits_per_value", "bits/value", lambda v: format_value(v, ".2f")),
]

_ROW_COLUMNS: list[Column] = [
    ("layer", "layer", format_value),
    ("weight", "weight", format_value),
    ("shape", "shape", format_value),
    ("count", "count", format_value),
    *QUALITY_COLUMNS,
    ("kernel_seconds", "kernel ms", lambda v: format_value(None if v is None else 1e3 * v, ".2f")),
]


def combine_rows(done: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals of approximated rows: ``count``, the largest errors, bits per value over all values.

    >>> combine_rows([
    ...     {"count": 2, "max_abs_error": 0.1, "max_rel_error": 0.2, "bits_per_value": 4.0},
    ...     {"count": 6, "max_abs_error": 0.3, "max_rel_error": 0.1, "bits_per_value": 8.0},
    ... ])
    {'count': 8, 'max_abs_error': 0.3, 'max_rel_error': 0.2, 'bits_per_value': 7.0}
    """
    count = sum(r["count"] for r in done)
    bits = sum(r["bits_per_value"] * r["count"] for r in done if r["bits_per_value"] is not None)
    return {
        "count": count,
        "max_abs_error": max((r["max_abs_error"] for r in done), default=0.0),
        "max_rel_error": max((r["max_rel_error"] for r in done), default=0.0),
        "bits_per_value": bits / count if count else None,
    }


def format_quality(totals: Mapping[str, Any]) -> str:
    """``max abs error A, max rel error R, B bits/value`` for totals as :func:`combine_rows` gives.

    >>> format_quality({"max_abs_error": 0.00125, "max_rel_error": 0.5, "bits_per_value": None})
    'max abs error 0.00125, max rel error 0.5, - bits/value'
    """
    bits = "-" if totals["bits_per_value"] is None else f"{totals['bits_per_value']:.2f}"
    return (
        f"max abs error {totals['max_abs_error']:.3g}, max rel error {totals['max_rel_error']:.3g}, "
        f"{bits} bits/value"
    )


class ApproximationReport:
    """What :func:`fastfrac.keras.approximate_model` did, one row per weight array.

    Attributes
    ----------
    rows : list of dict
        Keys ``layer, weight, shape, count, p, digits, max_abs_error,
        max_rel_error, bits_per_value, kernel_seconds``; ``p``, ``digits`` and
        ``bits_per_value`` are None for arrays left as they were.
    totals : dict
        ``tensors``, ``approximated_tensors``, ``parameters`` (all values),
        ``count`` (approximated values), the largest ``max_abs_error`` and
        ``max_rel_error``, ``bits_per_value`` averaged over the approximated
        values and the summed ``kernel_seconds``.
    tensors : list of Tensor
        The weight arrays themselves, approximated or kept, in model order;
        :func:`fastfrac.keras.save_fractions` writes them.
    mode : str
        The ``mode`` the fractions were computed in.

    Examples
    --------
    >>> from fastfrac._container import Tensor
    >>> from fastfrac._types import Fractions
    >>> t = Tensor("d/kernel", np.float32([0.5, 0.33]),
    ...            Fractions(np.array([1, 1]), np.array([2, 3])), 1, 2, layer="d")
    >>> r = ApproximationReport([tensor_row(t, np.float32([0.5, 0.333]), 1e-6)], [t])
    >>> r.totals["bits_per_value"]  # 1/2 and 1/3: 1 + 1 (sign) + 2 bits each
    4.0
    >>> print(r)  # doctest: +NORMALIZE_WHITESPACE
    layer  weight  shape  count  p  digits  max abs error  max rel error  bits/value  kernel ms
    d      kernel   (2,)      2  1       2          0.003        0.00901        4.00       0.00
    total: 2 of 2 values in 1 of 1 arrays approximated; max abs error 0.003,
    max rel error 0.00901, 4.00 bits/value, kernel 0.00 ms
    """

    def __init__(
        self, rows: Sequence[dict[str, Any]], tensors: Sequence[Tensor], mode: str = "decimal"
    ) -> None:
        self.rows = list(rows)
        self.tensors = list(tensors)
        self.mode = mode
        done = [r for r in self.rows if r["p"] is not None]
        self.totals: dict[str, Any] = {
            "tensors": len(self.rows),
            "approximated_tensors": len(done),
            "parameters": sum(r["count"] for r in self.rows),
            **combine_rows(done),
            "kernel_seconds": sum(r["kernel_seconds"] for r in self.rows),
        }

    def to_dict(self) -> dict[str, Any]:
        """``{"rows": [...], "totals": {...}}`` with JSON types (shapes as lists)."""
        rows = [{**r, "shape": list(r["shape"])} for r in self.rows]
        return {"rows": rows, "totals": dict(self.totals)}

    def __str__(self) -> str:
        t = self.totals
        summary = (
            f"total: {t['count']:,} of {t['parameters']:,} values in "
            f"{t['approximated_tensors']} of {t['tensors']} arrays approximated; "
            f"{format_quality(t)}, kernel {1e3 * t['kernel_seconds']:.2f} ms"
        )
        return format_table(self.rows, _ROW_COLUMNS) + "\n" + summary

    def __repr__(self) -> str:
        t = self.totals
        return (
            f"<ApproximationReport: {t['count']} of {t['parameters']} values in "
            f"{t['approximated_tensors']} arrays>"
        )
