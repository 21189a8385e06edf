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

__all__ = ["ApproximationReport", "Column", "bit_length", "format_table", "format_value", "tensor_row"]

# A column of a table: (row key, header, formatter of one cell value).
Column = tuple[str, str, Callable[[Any], str]]


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
    """``int.bit_length`` of every element's absolute value, exactly, as int64.

    A binary search on the shift keeps it exact for all of int64, where a
    float logarithm would round near powers of two.

    >>> bit_length(np.array([0, 1, -1, 255, 256, -(2**63)], dtype=np.int64))
    array([ 0,  1,  1,  8,  9, 64])
    """
    # abs() of int64's minimum wraps to itself; read as uint64 it is 2**63.
    v = np.abs(np.asarray(values, dtype=np.int64)).view(np.uint64).copy()
    length = np.zeros(v.shape, dtype=np.int64)
    for shift in (32, 16, 8, 4, 2, 1):
        high = v >= np.uint64(1 << shift)
        length += shift * high
        v = np.where(high, v >> np.uint64(shift), v)
    return length + v.astype(np.int64)


def tensor_row(tensor: Tensor, original: np.ndarray, seconds: float) -> dict[str, Any]:
    """The report row of one weight array: what was done to it and what it cost.

    ``max_rel_error`` is taken over the nonzero original elements (a zero
    stays zero).  ``bits_per_value`` is the mean of
    ``bit_length(|num|) + 1 + bit_length(den)``, the sign counted as one bit;
    None for a tensor left as it was.
    """
    orig = np.asarray(original, dtype=np.float64)
    new = np.asarray(tensor.values, dtype=np.float64)
    err = np.abs(new - orig)
    nonzero = orig != 0
    row: dict[str, Any] = {
        "layer": tensor.layer,
        "weight": tensor.weight,
        "shape": tuple(int(n) for n in orig.shape),
        "count": int(orig.size),
        "p": tensor.p,
        "digits": None,
        "max_abs_error": float(err.max()) if err.size else 0.0,
        "max_rel_error": float((err[nonzero] / np.abs(orig[nonzero])).max()) if nonzero.any() else 0.0,
        "bits_per_value": None,
        "kernel_seconds": float(seconds),
    }
    if tensor.fractions is not None:
        num, den = tensor.fractions
        row["digits"] = "exact" if tensor.digits is None else int(tensor.digits)
        if num.size:
            row["bits_per_value"] = float(
                np.mean(bit_length(num) + 1 + bit_length(den), dtype=np.float64)
            )
    return row


def _sci(value: Any) -> str:
    return format_value(value, ".3g")


_ROW_COLUMNS: list[Column] = [
    ("layer", "layer", format_value),
    ("weight", "weight", format_value),
    ("shape", "shape", format_value),
    ("count", "count", format_value),
    ("p", "p", format_value),
    ("digits", "digits", format_value),
    ("max_abs_error", "max abs error", _sci),
    ("max_rel_error", "max rel error", _sci),
    ("bits_per_value", "bits/value", lambda v: format_value(v, ".2f")),
    ("kernel_seconds", "kernel ms", lambda v: format_value(None if v is None else 1e3 * v, ".2f")),
]


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
    >>> t = Tensor("d", "kernel", np.float32([0.5, 0.33]),
    ...            Fractions(np.array([1, 1]), np.array([2, 3])), 1, 2)
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
        count = sum(r["count"] for r in done)
        bits = sum(r["bits_per_value"] * r["count"] for r in done if r["bits_per_value"] is not None)
        self.totals: dict[str, Any] = {
            "tensors": len(self.rows),
            "approximated_tensors": len(done),
            "parameters": sum(r["count"] for r in self.rows),
            "count": count,
            "max_abs_error": max((r["max_abs_error"] for r in done), default=0.0),
            "max_rel_error": max((r["max_rel_error"] for r in done), default=0.0),
            "bits_per_value": bits / count if count else None,
            "kernel_seconds": sum(r["kernel_seconds"] for r in self.rows),
        }

    def to_dict(self) -> dict[str, Any]:
        """``{"rows": [...], "totals": {...}}`` with JSON types (shapes as lists)."""
        rows = [{**r, "shape": list(r["shape"])} for r in self.rows]
        return {"rows": rows, "totals": dict(self.totals)}

    def __str__(self) -> str:
        t = self.totals
        bits = "-" if t["bits_per_value"] is None else f"{t['bits_per_value']:.2f}"
        summary = (
            f"total: {t['count']:,} of {t['parameters']:,} values in "
            f"{t['approximated_tensors']} of {t['tensors']} arrays approximated; "
            f"max abs error {t['max_abs_error']:.3g}, max rel error {t['max_rel_error']:.3g}, "
            f"{bits} bits/value, kernel {1e3 * t['kernel_seconds']:.2f} ms"
        )
        return format_table(self.rows, _ROW_COLUMNS) + "\n" + summary

    def __repr__(self) -> str:
        t = self.totals
        return (
            f"<ApproximationReport: {t['count']} of {t['parameters']} values in "
            f"{t['approximated_tensors']} arrays>"
        )
