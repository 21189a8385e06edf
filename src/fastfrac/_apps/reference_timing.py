"""The kernel against the pure-Python loop it replaces, on a real model's weights.

:func:`time_reference` redoes what :func:`fastfrac.keras.approximate_model`
did for a model, with :mod:`fastfrac.reference` (``fractions.Fraction``, one
element at a time, as the research script did), times it and checks that
both give the same fractions and the same rounded weights.  ``fastfrac
demo`` prints the result beside its table.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["ReferenceTiming", "time_reference"]


@dataclass(frozen=True)
class ReferenceTiming:
    """Both timings of one model's approximation, on the same values.

    Attributes
    ----------
    values : int
        How many weights were approximated.
    kernel_seconds : float
        fastfrac's time: the C kernel's fractions and their rounding back
        (the report's ``kernel_seconds`` over the approximated arrays).
    reference_seconds : float
        The same two steps with :func:`fastfrac.reference.approximate` and
        :func:`fastfrac.reference.to_float`.
    identical : bool
        Whether every numerator, denominator and rounded weight agreed.

    Examples
    --------
    >>> t = ReferenceTiming(93_124, 0.0331, 1.52, True)
    >>> round(t.speedup)
    46
    >>> print(t)
    pure-Python reference (fractions.Fraction): 1.52 s for the same 93,124 values, fastfrac 33.1 ms: 46x faster; fractions and rounded weights identical.
    """

    values: int
    kernel_seconds: float
    reference_seconds: float
    identical: bool

    @property
    def speedup(self) -> float:
        """Reference time over kernel time (infinite for a zero kernel time)."""
        if self.kernel_seconds <= 0:
            return float("inf")
        return self.reference_seconds / self.kernel_seconds

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, speed-up included."""
        return {**asdict(self), "speedup": self.speedup}

    def __str__(self) -> str:
        verdict = "identical" if self.identical else "DIFFERENT"
        return (
            f"pure-Python reference (fractions.Fraction): {self.reference_seconds:.2f} s for the "
            f"same {self.values:,} values, fastfrac {1e3 * self.kernel_seconds:.1f} ms: "
            f"{self.speedup:.0f}x faster; fractions and rounded weights {verdict}."
        )


def time_reference(model: Any, report: Any) -> ReferenceTiming:
    """Redo ``report``'s approximations of ``model`` with the pure-Python reference, timed.

    Parameters
    ----------
    model : keras.Model
        The model that was approximated (its original weights).
    report : fastfrac.keras.ApproximationReport
        What :func:`fastfrac.keras.approximate_model` returned for it: each
        approximated array's p, digits and fractions, in the model's weight
        order.

    Returns
    -------
    ReferenceTiming
    """
    from fastfrac import reference

    # approximate_model walks the layers with weights, each in get_weights()
    # order, and reports one tensor per array in that order.
    originals = [w for layer in model.layers if layer.weights for w in layer.get_weights()]
    if len(originals) != len(report.tensors):
        raise ValueError(
            f"the report has {len(report.tensors)} arrays but the model {len(originals)}"
        )
    values = 0
    kernel = reference_seconds = 0.0
    identical = True
    for w, tensor, row in zip(originals, report.tensors, report.rows):
        if tensor.fractions is None:
            continue
        start = time.perf_counter()
        num, den = reference.approximate(w, tensor.p, mode=report.mode, dtype=np.int64)
        rounded = reference.to_float(num, den, tensor.digits).astype(w.dtype)
        reference_seconds += time.perf_counter() - start
        kernel += row["kernel_seconds"]
        values += w.size
        identical = identical and (
            np.array_equal(num, tensor.fractions.num)
            and np.array_equal(den, tensor.fractions.den)
            and rounded.tobytes() == np.ascontiguousarray(tensor.values).tobytes()
        )
    return ReferenceTiming(values, kernel, reference_seconds, identical)
