"""Approximate a Keras model's weights layer by layer, and store them as fractions.

:func:`approximate_model` replaces every element x of the chosen layers'
weights by the best rational approximation with the bound ``10**p / |x|``
(:func:`fastfrac.approximate`), turns it back into a float rounded to a
number of significant digits and returns a clone of the model carrying those
weights, with a report of what it did.  :func:`save_fractions` writes the
fractions themselves to a compressed container; :func:`load_fractions` reads
it back, and also reads the container ``fastfrac approximate --fractions``
writes.  The format is described in :mod:`fastfrac._io.container`.

Keras 3 with the TensorFlow backend; Functional and Sequential models.
TensorFlow is imported only when a function needs it, so importing this
module is cheap.

Examples
--------
>>> import fastfrac.keras
>>> fastfrac.keras.resolve_precision({"dense*": 2, "dense_1": 4}, ["conv1d", "dense", "dense_1"])
{'dense': 2, 'dense_1': 4}
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from fastfrac._bits import combine_rows, fraction_bits, max_errors
from fastfrac._inputs import check_mode
from fastfrac._io.container import (
    FractionWeights,
    Tensor,
    approximate_tensor,
    read,
    write,
)
from fastfrac._precision import Digits, digits_for, resolve_precision
from fastfrac._tables import (
    QUALITY_COLUMNS,
    Column,
    format_quality,
    format_table,
    format_value,
)
from fastfrac._types import approximable

__all__ = [
    "ApproximationReport",
    "FractionWeights",
    "approximate_model",
    "digits_for",
    "layer_groups",
    "load_fractions",
    "resolve_precision",
    "save_fractions",
    "search_precision",
    "tensor_names",
]

# Reports of the models approximate_model returned, so that save_fractions can
# be handed the model itself; weak keys let the models be garbage-collected.
_REPORTS: weakref.WeakKeyDictionary[Any, ApproximationReport] = weakref.WeakKeyDictionary()


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


_ROW_COLUMNS: list[Column] = [
    ("layer", "layer", format_value),
    ("weight", "weight", format_value),
    ("shape", "shape", format_value),
    ("count", "count", format_value),
    *QUALITY_COLUMNS,
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
    >>> from fastfrac._io.container import Tensor
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


def tensor_names(layer: Any) -> list[str]:
    """The names of a layer's weights inside it, in ``get_weights()`` order.

    The variable's Keras path after the layer's own name (``kernel``,
    ``forward_lstm/lstm_cell/kernel``); ``weight-<k>``, k
    counting from 1, for every weight of the layer when a path lies outside
    the layer or two names would clash.

    Keras numbers the layers it names itself per process (``lstm``,
    ``lstm_1``...), and a wrapper's copies inherit that name
    (``forward_lstm_1``); give wrapped layers a name (``LSTM(64, name="lstm")``)
    when the names in a saved container must not depend on what was built
    before in the same process.
    """
    paths = [str(getattr(w, "path", "")).split("/") for w in layer.weights]
    # Paths may start with the scopes of enclosing models ("sequential/dense/kernel").
    names = [
        "/".join(parts[parts.index(layer.name) + 1 :]) for parts in paths if layer.name in parts
    ]
    if len(names) != len(paths) or len(set(names)) != len(names) or not all(names):
        names = [f"weight-{k}" for k in range(1, len(paths) + 1)]
    return names


def approximate_model(
    model: Any,
    precision: int | Mapping[str, int | None],
    *,
    digits: Digits = "2p",
    mode: Literal["decimal", "exact"] = "decimal",
) -> tuple[Any, ApproximationReport]:
    """A copy of ``model`` whose chosen layers' weights are rational approximations.

    Every element x of a chosen layer's float weights becomes
    ``Fraction(str(x)).limit_denominator(int(10**p / |x|))`` (computed by
    :func:`fastfrac.approximate` with int64 output, so the bound is not
    clamped), then that fraction as a float rounded to ``digits``
    significant digits, stored as the weight's own float type (float32).
    With the seed's map this is bit-identical to the seed's pure-Python
    pipeline.

    Parameters
    ----------
    model : keras.Model
        A built Functional or Sequential Keras 3 model (TensorFlow backend).
        It is not modified.
    precision : int or mapping
        ``{layer name or fnmatch pattern: p}``, or an int for every layer
        with weights; see :func:`resolve_precision` for the rules.  Only
        top-level layers are named; a wrapper such as ``Bidirectional`` is
        approximated as a whole.
    digits : {"2p", "exact"} or int
        Significant digits kept: ``"2p"`` (2p, at least 1; the seed's
        choice), an int >= 1 for every layer, or ``"exact"`` for num/den
        itself.
    mode : {"decimal", "exact"}
        The value approximated: NumPy's shortest decimal of each weight (the
        seed's ``str(x)``) or its exact binary value.

    Returns
    -------
    approximated : keras.Model
        ``keras.models.clone_model(model)`` carrying the new weights (not
        compiled; compile it to train or ``evaluate`` it).
    report : ApproximationReport
        One row per weight array (approximated or kept) and totals.

    Raises
    ------
    ValueError
        Unknown precision key, bad p or digits, an unbuilt model, or a
        weight that is not finite.

    Examples
    --------
    Needs TensorFlow, hence skipped as a doctest:

    >>> import keras, fastfrac.keras  # doctest: +SKIP
    >>> keras.utils.set_random_seed(0)  # doctest: +SKIP
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])  # doctest: +SKIP
    >>> small, report = fastfrac.keras.approximate_model(model, {"dense": 2})  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    layer  weight   shape  count  p  digits  max abs error  max rel error  bits/value  kernel ms
    dense  kernel  (3, 2)      6  2       4       0.000208       0.000241       15.67       0.30
    dense  bias      (2,)      2  2       4              0              0        2.00       0.07
    total: 8 of 8 values in 2 of 2 arrays approximated; max abs error 0.000208, max rel error
    0.000241, 12.25 bits/value, kernel 0.37 ms
    """
    import keras  # deferred: TensorFlow loads only when a model is approximated

    if not getattr(model, "built", False):
        raise ValueError("the model must be built (call it once or give it an Input) first")
    check_mode(mode)
    with_weights = [layer for layer in model.layers if layer.weights]
    # A key may name any layer; an int p goes to the layers that have weights.
    candidates = model.layers if isinstance(precision, Mapping) else with_weights
    chosen = resolve_precision(precision, [layer.name for layer in candidates])
    layer_digits = {name: digits_for(digits, p) for name, p in chosen.items()}
    if not chosen:
        digits_for(digits, 0)  # still reject a bad digits argument

    clone = keras.models.clone_model(model)
    rows, tensors = [], []
    for layer in with_weights:
        originals = layer.get_weights()
        names = tensor_names(layer)
        new_arrays = []
        for name, w in zip(names, originals):
            p = chosen.get(layer.name)
            key = f"{layer.name}/{name}"
            if p is None or not approximable(w.dtype):
                tensor, seconds = Tensor(key, w, layer=layer.name), 0.0
            else:
                start = time.perf_counter()
                tensor = approximate_tensor(key, w, p, layer_digits[layer.name], mode, layer.name)
                seconds = time.perf_counter() - start
            new_arrays.append(tensor.values)
            tensors.append(tensor)
            rows.append(tensor_row(tensor, w, seconds))
        clone.get_layer(layer.name).set_weights(new_arrays)
    report = ApproximationReport(rows, tensors, mode)
    _REPORTS[clone] = report
    return clone, report


def save_fractions(model_or_report: Any, path: str | os.PathLike[str]) -> int:
    """Write a model's weights as a fractions container; returns the file size in bytes.

    Parameters
    ----------
    model_or_report : keras.Model or ApproximationReport
        The report of :func:`approximate_model`, or the model it returned.
        Any other model is written with every tensor kept as it is.
    path : str or path-like
        The file to write (no suffix is added): container version 3 (the
        smaller; ``.ffc`` by convention) unless the name ends in ``.npz``,
        which gives version 2, what ``numpy.load`` reads.  Every weight of
        the model is in it, named ``<layer>/<weight path>`` (see
        :func:`tensor_names`): approximated ones as num/den in the narrowest
        integer types, the others in their own type (float32), with the
        metadata described in :mod:`fastfrac._io.container`.

    Examples
    --------
    >>> small, report = approximate_model(model, 2)  # doctest: +SKIP
    >>> save_fractions(report, "model.ffc")  # doctest: +SKIP
    1262
    """
    if isinstance(model_or_report, ApproximationReport):
        report: ApproximationReport | None = model_or_report
    else:
        report = _REPORTS.get(model_or_report)
    if report is None:
        tensors = [
            Tensor(f"{layer.name}/{name}", w, layer=layer.name)
            for layer in model_or_report.layers
            for name, w in zip(tensor_names(layer), layer.get_weights())
        ]
        return write(tensors, path)
    approximated = any(t.fractions is not None for t in report.tensors)
    return write(report.tensors, path, mode=report.mode if approximated else None)


def load_fractions(path: str | os.PathLike[str]) -> FractionWeights:
    """Read a fractions container: :func:`save_fractions`'s or ``fastfrac approximate --fractions``'.

    Returns
    -------
    FractionWeights
        ``.tensors``: each tensor's name, layer, int64 fractions (None if
        stored as it is), p, digits and the decoded weight values, identical
        bit for bit to the approximated model's (or model file's);
        ``.mode``; ``.arrays()``: name -> values; ``.fractions()``: name ->
        num/den; ``.set_weights(model)``: write them into a model of the
        same architecture (containers of :func:`save_fractions` only).

    Raises
    ------
    ValueError
        The file is not a fastfrac fractions container (version 2 or 3), or
        is damaged (the message says how).

    Examples
    --------
    >>> weights = load_fractions("model.ffc")  # doctest: +SKIP
    >>> weights.set_weights(keras.models.clone_model(model))  # doctest: +SKIP
    """
    return read(path)


def layer_groups(model: Any) -> dict[str, list[str]]:
    """One search group per top-level layer with weights: ``{layer: ["<layer>/*"]}``.

    BatchNormalization layers are groups like any other (the research's hand
    map leaves them alone; a search may not).
    """
    return {layer.name: [f"{layer.name}/*"] for layer in model.layers if layer.weights}


def search_precision(
    model: Any,
    evaluate_model: Callable[[Any], float],
    *,
    tolerance: float,
    groups: Mapping[str, Sequence[str]] | None = None,
    **options: Any,
) -> Any:
    """:func:`fastfrac.search.search_precision` on a Keras model's weights.

    The tensors are the model's weights named ``<layer>/<weight path>``
    (:func:`tensor_names`); ``groups`` defaults to :func:`layer_groups`, one
    per layer.  ``evaluate_model`` takes a model of the same architecture
    carrying a candidate map's weights (one clone, reused: do not keep it) and
    returns the metric.  Every other keyword goes to
    :func:`fastfrac.search.search_precision` (``relative``,
    ``higher_is_better``, ``ps``, ``digits``, ``mode``, ``container``,
    ``progress``).  The best map's ``spec()`` names layers, so it is a SPEC
    for ``fastfrac approximate`` on the model's .keras file and a
    ``precision`` mapping for :func:`approximate_model` alike.

    Examples
    --------
    >>> result = search_precision(model, lambda m: mae(m), tolerance=0.01)  # doctest: +SKIP
    >>> print(result.best.spec())  # doctest: +SKIP
    conv1d=4,bidirectional=2,dense=1,dense_1=3
    """
    import keras  # deferred: TensorFlow loads only when a model is searched

    from fastfrac import search

    layers = [layer for layer in model.layers if layer.weights]
    keys = {layer.name: [f"{layer.name}/{n}" for n in tensor_names(layer)] for layer in layers}
    weights = {
        key: w for layer in layers for key, w in zip(keys[layer.name], layer.get_weights())
    }
    if groups is None:
        groups = layer_groups(model)
        spec_keys = {name: [name] for name in groups}
    else:
        spec_keys = None
    clone = keras.models.clone_model(model)

    def evaluate(arrays: dict[str, np.ndarray]) -> float:
        for layer in layers:
            clone.get_layer(layer.name).set_weights([arrays[k] for k in keys[layer.name]])
        return float(evaluate_model(clone))

    return search.search_precision(
        weights, evaluate, groups=groups, tolerance=tolerance, spec_keys=spec_keys, **options
    )
