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
layers.  The model's own variables belong to no layer and are copied.
Optimizer state belongs to no layer either: it is copied unless a SPEC item
names its dataset path exactly (``optimizer/vars/3=2``); globs and the bare P
never reach it.  A ``.keras`` archive is rewritten member by member: every member
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
from fastfrac._io.deadline import call_with_deadline
from fastfrac._io.formats import CHUNK, StartJob, TensorInfo, copy_reason
from fastfrac._io.limits import bad, check_byte_count, check_shape
from fastfrac._io.ziputil import clone_info, copy_member, open_archive
from fastfrac._types import BFLOAT16

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


# Attributes read are names: a damaged size field must not make HDF5 read gigabytes.
_MAX_ATTRIBUTE_BYTES = 16 << 20


def _attribute(obj: Any, name: str, default: Any) -> Any:
    """``obj.attrs.get(name, default)``, refused when the attribute is implausibly large."""
    if name not in obj.attrs:
        return default
    attr = obj.attrs.get_id(name)
    count = 1
    for n in attr.shape or ():
        count *= n
    if count * attr.dtype.itemsize > _MAX_ATTRIBUTE_BYTES:
        raise UserError(f"{obj.file.filename}: the attribute {name!r} of {obj.name!r} declares "
                        f"{count} values, more than a Keras file has")
    return obj.attrs[name]


def _layout_units(f: Any) -> Callable[[str], tuple[str | None, str | None]]:
    """For the file's layout, a function: dataset path -> (layer name, reason if no layer)."""
    legacy = f["model_weights"] if "model_weights" in f else f
    if "layer_names" in legacy.attrs:
        base = "" if legacy.name == "/" else legacy.name.strip("/") + "/"
        # Keras writes one group per layer, named after it, and lists the same
        # names in layer_names.  The groups are read instead of the attribute:
        # a damaged variable-length string there makes HDF5 read for minutes
        # (found by the fuzzer), and its presence alone says the layout.
        layers = {name for name in legacy if name not in ("top_level_model_weights", "optimizer_weights")}

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
                return _text(_attribute(group["vars"], "name", parts[depth - 1])), None
        return None, "not in a layer"

    return keras3_unit


# What h5py raises on a damaged file, besides OSError; UserError is none of them.
_H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError)
_OUTSIDE = "refused: rewriting it would write (and reading it would read) a file other than OUT"


def _refuse_other_files(f: Any, shown: Path) -> None:
    """Refuse external links, and datasets stored in other files (external storage, virtual).

    HDF5 lets a dataset keep its values in any file (``external=[(path,
    offset, size)]``) or assemble them from others (a virtual dataset), and a
    link point into another file; writing such a dataset in the copy would
    write those files.  visititems visits every object once (hard-link cycles
    included) and never follows an external link; each group's own links are
    then looked at one by one.
    """
    import h5py

    groups: list[tuple[str, Any]] = [("", f)]

    def look(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group):
            groups.append((name + "/", obj))
        elif not isinstance(obj, h5py.Dataset):
            return  # a committed datatype: holds no values (found by the fuzzer)
        elif obj.is_virtual:
            raise bad(shown, f"is a virtual dataset (its values live in other files); {_OUTSIDE}",
                      name, kind="dataset")
        elif obj.external:
            files = ", ".join(sorted({_text(entry[0]) for entry in obj.external}))
            raise bad(shown, f"uses external storage ({files}); {_OUTSIDE}", name, kind="dataset")

    f.visititems(look)
    for prefix, group in groups:
        for name in group:
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise bad(shown, f"is an external link to {link.filename}:{link.path}; {_OUTSIDE}",
                          prefix + name, kind="dataset")


def _check_storage(ds: Any, shape: tuple[int, ...], shown: Path, path: str) -> None:
    """A contiguous dataset's stored bytes must be what its shape and type take."""
    if ds.chunks is not None:
        return  # chunked (maybe compressed): HDF5 checks each chunk as it reads it
    stored = ds.id.get_storage_size()
    if stored:  # 0: never written, reads as the fill value
        check_byte_count(shape, ds.dtype.itemsize * 8, stored, shown, path)


def _scan(h5_path: Path, shown: Path) -> list[TensorInfo]:
    """The datasets of an HDF5 file; ``shown`` is the name error messages give it.

    Read in a child process with a deadline (:mod:`fastfrac._io.deadline`):
    on some damaged files HDF5 never returns from reading an attribute.
    """
    return call_with_deadline(
        lambda: _scan_here(h5_path, shown),
        lambda seconds: UserError(
            f"{shown}: the HDF5 file is damaged (reading its metadata did not finish in "
            f"{seconds:g} s)"
        ),
        lambda how: UserError(f"{shown}: the HDF5 file is damaged (HDF5 crashed reading its "
                              f"metadata, {how})"),
    )


def _scan_here(h5_path: Path, shown: Path) -> list[TensorInfo]:
    import h5py  # deferred: only Keras files need it

    try:
        f = h5py.File(h5_path, "r")
    except _H5_ERRORS as exc:
        raise UserError(f"{shown} is not a readable HDF5 file ({_one_line(exc)})") from None
    try:
        with f:
            _refuse_other_files(f, shown)
            tensors = _tensors(f, shown)
    except _H5_ERRORS as exc:
        raise UserError(f"{shown}: the HDF5 file is damaged ({_one_line(exc)})") from None
    if tensors and all(t.unit is None for t in tensors):
        raise UserError(f"{shown} has no Keras layer weights (not a Keras model or weights file?)")
    return tensors


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _tensors(f: Any, shown: Path) -> list[TensorInfo]:
    import h5py

    tensors = []
    unit_of = _layout_units(f)
    paths: list[str] = []
    f.visititems(lambda name, obj: paths.append(name) if isinstance(obj, h5py.Dataset) else None)
    for path in paths:
        ds = f[path]
        unit, no_layer = unit_of(path)
        dtype = ds.dtype
        spelled = dtype.name if dtype.kind != "V" else _text(_attribute(ds, "dtype", dtype.str))
        # Keras stores a bfloat16 variable as 2 opaque bytes with a dtype="bfloat16"
        # attribute; an opaque type without that attribute is copied.
        as_read = BFLOAT16 if dtype.kind == "V" and dtype.itemsize == 2 and spelled == "bfloat16" else dtype
        reason = copy_reason(as_read, spelled)
        if ds.shape is None:  # an HDF5 null dataspace: no values at all
            reason = "no values (null dataspace)"
        shape = check_shape(list(ds.shape), shown, path) if ds.shape is not None else ()
        float_type = None if reason else as_read.newbyteorder("=")
        if float_type is not None:
            _check_storage(ds, shape, shown, path)
        if no_layer == OPTIMIZER:
            # Never reached by a glob or the bare P: only by its own path, named exactly.
            tensors.append(TensorInfo(path, path, shape, spelled, float_type, reason,
                                      optimizer=True))
            continue
        tensors.append(TensorInfo(path, unit, shape, spelled, float_type, no_layer or reason))
    return tensors


def _rewrite_h5(h5_path: Path, tensors: list[TensorInfo], start_job: StartJob, shown: Path) -> None:
    """Overwrite the chosen datasets of an HDF5 file in place, block by block."""
    import h5py

    try:
        with h5py.File(h5_path, "r+") as f:
            for tensor in tensors:
                job = start_job(tensor)
                if job is None:
                    continue
                ds = f[tensor.name]
                opaque = ds.dtype.kind == "V"  # bfloat16 as Keras stores it: view the bytes
                for selection in blocks(tensor.shape):
                    values = ds[selection]
                    new = job.convert(values.view(tensor.float_type) if opaque else values)
                    ds[selection] = new.view(ds.dtype) if opaque else new
                job.finish()
    except _H5_ERRORS as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the disk, not the file: reported with the output's path
        raise UserError(f"{shown}: the HDF5 file is damaged ({_one_line(exc)})") from None


class _WriteBack:
    """The rehearsal's job: every block given back as it was read."""

    def convert(self, values: np.ndarray) -> np.ndarray:
        return values

    def finish(self) -> dict[str, Any]:
        return {}


def _write_back_here(h5_path: Path, copy: Path, tensors: list[TensorInfo], shown: Path) -> None:
    shutil.copyfile(h5_path, copy)
    # The rewrite's own loop, so the rehearsal makes exactly its writes.
    _rewrite_h5(copy, tensors, lambda t: _WriteBack() if t.float_type is not None else None,  # type: ignore[arg-type,return-value]
                shown)


def _probe_writes(h5_path: Path, copy: Path, tensors: list[TensorInfo], shown: Path) -> None:
    """Write every float dataset of a copy back with its own values, in a forked child.

    HDF5 segfaults inside H5Dwrite on some damaged chunk storage (found by the
    fuzzer); in the command's own process that would kill it with no message
    and no cleanup.  The child rehearses exactly the writes the rewrite makes,
    so a crash there is a one-line error before anything is written.  Costs a
    copy of the HDF5 file in scratch space and one read and write of its float
    datasets (Keras files are small beside checkpoints).
    """
    call_with_deadline(
        lambda: _write_back_here(h5_path, copy, tensors, shown),
        lambda seconds: UserError(
            f"{shown}: the HDF5 file is damaged (writing its datasets did not finish in "
            f"{seconds:g} s; FASTFRAC_HDF5_DEADLINE sets the limit)"
        ),
        lambda how: UserError(
            f"{shown}: the HDF5 file is damaged (HDF5 crashed writing its datasets back, "
            f"{how}; nothing was written)"
        ),
    )


class KerasFile:
    """A .keras archive or a Keras .h5 file: its weight datasets and a rewriting copier.

    ``scratch(suffix)`` gives a temporary path (deleted by the caller) for the
    extracted ``model.weights.h5`` of a .keras archive.
    """

    def __init__(self, path: str | os.PathLike[str], scratch: Callable[[str], Path]) -> None:
        self.path = Path(path)
        self._archive = self.path.suffix.lower() == ".keras"
        if self._archive:
            with open_archive(self.path, ".keras") as archive:
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
        self._scratch = scratch
        self.tensors = _scan(self._h5, self.path)

    def rewrite(self, dst: str | os.PathLike[str], start_job: StartJob) -> None:
        """Write the model to ``dst`` with each weight approximated or copied as start_job says."""
        _probe_writes(self._h5, self._scratch(".probe.h5"), self.tensors, self.path)
        if not self._archive:
            shutil.copyfile(self.path, dst)
            _rewrite_h5(Path(dst), self.tensors, start_job, self.path)
            return
        _rewrite_h5(self._h5, self.tensors, start_job, self.path)  # our extracted copy
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
