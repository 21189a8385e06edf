"""Plain-text tables: cells, aligned columns and the quality columns reports share.

Nothing here imports TensorFlow or the kernel: the Keras, TFLite and file
reports build their rows from NumPy arrays and dictionaries and print them
with :func:`format_table`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["Column", "QUALITY_COLUMNS", "format_quality", "format_table", "format_value"]

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
