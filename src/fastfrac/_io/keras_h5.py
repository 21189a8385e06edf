"""Keras model files (.keras, legacy .h5) rewritten at the HDF5 level, without Keras.

Only weight datasets change; the model is never deserialised, so custom
layers need not be importable and TensorFlow is never imported.

Where the weights are:

- ``.keras`` (Keras 3) is a ZIP archive whose ``model.weights.h5`` holds each
  saveable object's variables in a ``vars`` group: ``layers/<key>/vars/0``,
  ``1``... for the layers of a Functional or Sequential model, ``<attribute>/
  vars/...`` for the layers of a subclassed one, nested layers below their
  parent (``layers/bidirectional/forward_layer/cell/vars/0``), the model's own
  variables in the root ``vars`` and the optimizer's in ``optimizer/vars``.
  ``<key>`` is derived from the class name (``dense_2``), so the layer's name
  is read from the ``name`` attribute Keras writes on its ``vars`` group.
  The same layout is what ``model.save_weights("x.weights.h5")`` writes.
- legacy ``.h5`` (``model.save("x.h5")``) keeps the weights in
  ``model_weights/<layer name>/...`` (the ``layer_names`` attribute lists the
  layers), the optimizer's in ``optimizer_weights``; a Keras 2 weights-only
  ``.h5`` has the same layout at the root.

A dataset belongs to the top-level layer it is under; SPEC names those
layers.  Optimizer state and the model's own variables belong to no layer and
are copied.  A ``.keras`` archive is rewritten member by member: every member
but ``model.weights.h5`` is copied unchanged, and that one is extracted,
updated in place with h5py (other datasets and all attributes stay as they
are) and stored back with its original name, date and compression.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fastfrac._errors import UserError
from fastfrac._io.formats import CHUNK, StartJob, TensorInfo, copy_reason
from fastfrac._io.ziputil import clone_info, copy_member

__all__ = ["KerasFile", "blocks", "open_file"]

WEIGHTS_MEMBER = "model.weights.h5"
OPTIMIZER = "optimizer state, not a layer weight"
MODEL_LEVEL = "a variable of the model itself, not of a layer"


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def blocks(shape: tuple[int, ...], chunk: int = CHUNK) -> Iterator[tuple[Any, ...]]:
    """Hyperslabs covering an array of ``shape`` in C order, each of at most ``chunk`` elements.

    Leading axes are walked one index at a time and the first axis whose
    trailing block exceeds ``chunk`` is cut into slices, so every block is
    one rectangular HDF5 selection (a single element at least).

    >>> list(blocks((5,), 2))
    [(slice(0, 2, None),), (slice(2, 4, None),), (slice(4, 5, None),)]
    >>> list(blocks((2, 3), 3))
    [(slice(0, 1, None),), (slice(1, 2, None),)]
    >>> list(blocks((2, 4), 2))[:3]
    [(0, slice(0, 2, None)), (0, slice(2, 4, None)), (1, slice(0, 2, None))]
    >>> list(blocks(()))
    [()]
    """
    if not shape:
        yield ()
        return
    if 0 in shape:
        return
    axis, inner = len(shape) - 1, 1
    while axis > 0 and inner * shape[axis] <= chunk:
        inner *= shape[axis]
        axis -= 1
    step = max(1, chunk // inner)
    for index in np.ndindex(*shape[:axis]):
        for start in range(0, shape[axis], step):
            yield (*index, slice(start, min(start + step, shape[axis])))


def _layout_units(f: Any) -> Callable[[str], tuple[str | None, str | None]]:
    """For the file's layout, a function: dataset path -> (layer name, reason if no layer)."""
    legacy = f["model_weights"] if "model_weights" in f else f
    if "layer_names" in legacy.attrs:
        base = "" if legacy.name == "/" else legacy.name.strip("/") + "/"
        layers = {_text(n) for n in legacy.attrs["layer_names"]}

        def legacy_unit(path: str) -> tuple[str | None, str | None]:
            if not path.startswith(base):
                return None, OPTIMIZER if path.startswith("optimizer_weights/") else "not in a layer"
            first = path[len(base) :].split("/", 1)[0]
            if first in layers:
                return first, None
            return None, MODEL_LEVEL if first == "top_level_model_weights" else "not in a layer"

        return legacy_unit

    def keras3_unit(path: str) -> tuple[str | None, str | None]:
        parts = path.split("/")
        if parts[0] == "vars":
            return None, MODEL_LEVEL
        if parts[0] == "optimizer":
            return None, OPTIMIZER
        # The first group on the way down with its own "vars" is the top-level layer.
        for depth in range(1, len(parts)):
            group = f["/".join(parts[:depth])]
            if "vars" in group:
                return _text(group["vars"].attrs.get("name", parts[depth - 1])), None
        return None, "not in a layer"

    return keras3_unit


def _scan(h5_path: Path, shown: Path) -> list[TensorInfo]:
    """The datasets of an HDF5 file; ``shown`` is the name error messages give it."""
    import h5py  # deferred: only Keras files need it

    try:
        f = h5py.File(h5_path, "r")
    except OSError as exc:
        raise UserError(f"{shown} is not a readable HDF5 file ({exc})") from None
    tensors = []
    with f:
        unit_of = _layout_units(f)
        paths: list[str] = []
        f.visititems(lambda name, obj: paths.append(name) if isinstance(obj, h5py.Dataset) else None)
        for path in paths:
            ds = f[path]
            unit, no_layer = unit_of(path)
            dtype = ds.dtype
            spelled = dtype.name if dtype.kind != "V" else _text(ds.attrs.get("dtype", dtype.str))
            reason = copy_reason(dtype if dtype.kind != "V" else None, spelled)
            if ds.shape is None:  # an HDF5 null dataspace: no values at all
                reason = "no values (null dataspace)"
            shape = tuple(ds.shape) if ds.shape is not None else ()
            float_type = None if reason else dtype.newbyteorder("=")
            tensors.append(TensorInfo(path, unit, shape, spelled, float_type, no_layer or reason))
    if tensors and all(t.unit is None for t in tensors):
        raise UserError(f"{shown} has no Keras layer weights (not a Keras model or weights file?)")
    return tensors


def _rewrite_h5(h5_path: Path, tensors: list[TensorInfo], start_job: StartJob) -> None:
    """Overwrite the chosen datasets of an HDF5 file in place, block by block."""
    import h5py

    with h5py.File(h5_path, "r+") as f:
        for tensor in tensors:
            job = start_job(tensor)
            if job is None:
                continue
            ds = f[tensor.name]
            for selection in blocks(tensor.shape):
                ds[selection] = job.convert(ds[selection])
            job.finish()


class KerasFile:
    """A .keras archive or a Keras .h5 file: its weight datasets and a rewriting copier.

    ``scratch(suffix)`` gives a temporary path (deleted by the caller) for the
    extracted ``model.weights.h5`` of a .keras archive.
    """

    def __init__(self, path: str | os.PathLike[str], scratch: Callable[[str], Path]) -> None:
        self.path = Path(path)
        self._archive = self.path.suffix.lower() == ".keras"
        if self._archive:
            if not zipfile.is_zipfile(self.path):
                raise UserError(f"{self.path} is not a valid .keras file (not a ZIP archive)")
            with zipfile.ZipFile(self.path) as archive:
                if WEIGHTS_MEMBER not in archive.namelist():
                    raise UserError(
                        f"{self.path} has no {WEIGHTS_MEMBER} (sharded or other weight "
                        "layouts are not supported)"
                    )
                self._h5 = scratch(".h5")
                with archive.open(WEIGHTS_MEMBER) as fin, open(self._h5, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 16 << 20)
        else:
            self._h5 = self.path
        self.tensors = _scan(self._h5, self.path)

    def rewrite(self, dst: str | os.PathLike[str], start_job: StartJob) -> None:
        """Write the model to ``dst`` with each weight approximated or copied as start_job says."""
        if not self._archive:
            shutil.copyfile(self.path, dst)
            _rewrite_h5(Path(dst), self.tensors, start_job)
            return
        _rewrite_h5(self._h5, self.tensors, start_job)  # our extracted copy
        with zipfile.ZipFile(self.path) as source, zipfile.ZipFile(dst, "w", allowZip64=True) as target:
            for info in source.infolist():
                if info.filename != WEIGHTS_MEMBER:
                    copy_member(source, info, target)
                    continue
                new = clone_info(info, file_size=self._h5.stat().st_size)
                with open(self._h5, "rb") as fin, target.open(new, "w") as fout:
                    shutil.copyfileobj(fin, fout, 16 << 20)
            target.comment = source.comment


def open_file(path: str | os.PathLike[str], scratch: Callable[[str], Path]) -> KerasFile:
    """The reader of :mod:`fastfrac._io.formats`."""
    return KerasFile(path, scratch)
