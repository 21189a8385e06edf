"""The fractions container: a model's approximated weights as num/den integers, on disk.

The container is one ``numpy.savez_compressed`` file.  Tensors are named
``<layer>/<weight>``, where ``<weight>`` is the variable's Keras path inside
its top-level layer (``dense/kernel``, ``conv1d/bias``,
``bidirectional/forward_lstm/lstm_cell/kernel``) or ``weight-<k>`` (k counting
from 1 in ``layer.get_weights()`` order) when the path does not say.  Keys:

- ``<tensor>.num`` and ``<tensor>.den``: an approximated tensor's numerators
  and denominators, each in the narrowest integer type that holds them
  (``uint8`` ... ``int64``);
- ``<tensor>``: a tensor left as it was, in its own float type (float32);
- ``__fastfrac__``: a JSON string with the format version and, per tensor in
  model order, its layer, weight, shape, dtype, p and the significant digits
  that turn num/den back into the weight (``null`` for the exact value).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastfrac._types import Fractions
from fastfrac.approximation import to_float

__all__ = ["FractionWeights", "Tensor", "decode", "read", "smallest_int_dtype", "write"]

FORMAT = "fastfrac-fractions"
VERSION = 1
META_KEY = "__fastfrac__"


def smallest_int_dtype(values: np.ndarray) -> np.dtype:
    """The narrowest NumPy integer type holding every value (unsigned when none is negative).

    >>> smallest_int_dtype(np.array([1, 255])), smallest_int_dtype(np.array([-129, 3]))
    (dtype('uint8'), dtype('int16'))
    >>> smallest_int_dtype(np.array([], dtype=np.int64))
    dtype('uint8')
    """
    arr = np.asarray(values)
    low = int(arr.min()) if arr.size else 0
    high = int(arr.max()) if arr.size else 0
    kinds = (np.uint8, np.uint16, np.uint32, np.uint64) if low >= 0 else (
        np.int8, np.int16, np.int32, np.int64
    )
    for kind in kinds:
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return np.dtype(kind)
    raise ValueError(f"values from {low} to {high} fit no 64-bit integer type")


@dataclass(frozen=True, eq=False)
class Tensor:
    """One weight array of a model: approximated (``fractions`` set) or kept.

    Attributes
    ----------
    layer, weight : str
        Top-level layer name and the weight's name inside it.
    values : numpy.ndarray
        The array as the model holds it (float32 for Keras weights).
    fractions : Fractions or None
        int64 numerators and denominators; None for a tensor left as it was.
    p : int or None
        The precision it was approximated with.
    digits : int or None
        Significant digits num/den was rounded to; None for the exact value.
    """

    layer: str
    weight: str
    values: np.ndarray
    fractions: Fractions | None = None
    p: int | None = None
    digits: int | None = None

    @property
    def name(self) -> str:
        """``<layer>/<weight>``, the tensor's key in the container."""
        return f"{self.layer}/{self.weight}"


def decode(fractions: Fractions, digits: int | None, dtype: Any = np.float32) -> np.ndarray:
    """The weight an approximated tensor stands for: num/den, rounded, cast to ``dtype``.

    The single definition used both when a model is approximated and when a
    container is read, so the two agree bit for bit.

    >>> decode(Fractions(np.array([22]), np.array([7])), 4)
    array([3.143], dtype=float32)
    """
    return to_float(fractions.num, fractions.den, digits).astype(dtype)


@dataclass(frozen=True)
class FractionWeights:
    """The content of a fractions container: its tensors, in model order.

    Examples
    --------
    >>> import numpy as np
    >>> t = Tensor("d", "kernel", np.float32([0.5]), Fractions(np.array([1]), np.array([2])), 1, 2)
    >>> fw = FractionWeights([t, Tensor("d", "bias", np.float32([0.25]))])
    >>> fw.arrays()
    {'d/kernel': array([0.5], dtype=float32), 'd/bias': array([0.25], dtype=float32)}
    """

    tensors: Sequence[Tensor]

    def arrays(self) -> dict[str, np.ndarray]:
        """Tensor name -> the weight array a model should hold."""
        return {t.name: t.values for t in self.tensors}

    def set_weights(self, model: Any) -> Any:
        """Write every tensor into the layer of the same name of ``model``; returns ``model``.

        ``model`` must have the architecture the container was written from
        (same top-level layer names, same weights per layer).
        """
        by_layer: dict[str, list[np.ndarray]] = {}
        for t in self.tensors:
            by_layer.setdefault(t.layer, []).append(t.values)
        for layer_name, arrays in by_layer.items():
            model.get_layer(layer_name).set_weights(arrays)
        return model


def write(tensors: Iterable[Tensor], path: str | os.PathLike[str]) -> int:
    """Write the container to ``path`` (no suffix is added); returns its size in bytes."""
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for t in tensors:
        if t.name in arrays or f"{t.name}.num" in arrays:
            raise ValueError(f"two tensors are named {t.name!r}")
        if t.fractions is None:
            arrays[t.name] = np.asarray(t.values)
        else:
            num, den = t.fractions
            arrays[f"{t.name}.num"] = num.astype(smallest_int_dtype(num))
            arrays[f"{t.name}.den"] = den.astype(smallest_int_dtype(den))
        meta.append(
            {
                "layer": t.layer,
                "weight": t.weight,
                "shape": list(t.values.shape),
                "dtype": t.values.dtype.name,
                "approximated": t.fractions is not None,
                "p": t.p,
                "digits": t.digits,
            }
        )
    header = {"format": FORMAT, "version": VERSION, "tensors": meta}
    arrays[META_KEY] = np.array(json.dumps(header, separators=(",", ":")))
    # savez_compressed appends ".npz" to names without it; a file object keeps the path as given.
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return os.path.getsize(path)


def read(path: str | os.PathLike[str]) -> FractionWeights:
    """Read a container written by :func:`write`; numerators and denominators come back as int64."""
    with np.load(path, allow_pickle=False) as data:
        if META_KEY not in data.files:
            raise ValueError(f"{os.fspath(path)!r} is not a fastfrac fractions container")
        header = json.loads(str(data[META_KEY]))
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ValueError(
                f"unsupported container format {header.get('format')!r} "
                f"version {header.get('version')!r}"
            )
        tensors = []
        for m in header["tensors"]:
            name = f"{m['layer']}/{m['weight']}"
            if m["approximated"]:
                fractions = Fractions(
                    data[f"{name}.num"].astype(np.int64), data[f"{name}.den"].astype(np.int64)
                )
                values = decode(fractions, m["digits"], m["dtype"])
            else:
                fractions, values = None, data[name]
            tensors.append(Tensor(m["layer"], m["weight"], values, fractions, m["p"], m["digits"]))
    return FractionWeights(tensors)
