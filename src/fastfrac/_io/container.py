"""The fractions container: a model's approximated weights as integers num/den, on disk.

One format, written by :func:`fastfrac.keras.save_fractions` (a live Keras
model) and by ``fastfrac approximate --fractions`` (a model file), read by
:func:`fastfrac.keras.load_fractions`.  It is a ZIP archive of deflated
``.npy`` members, as ``numpy.savez_compressed`` makes and ``numpy.load``
reads.  Keys:

- ``<tensor>.num`` and ``<tensor>.den``: an approximated tensor's numerators
  and denominators, in the tensor's shape, each in the narrowest integer type
  that holds all of them (``uint8`` ... ``int64``,
  :func:`smallest_int_dtype`);
- ``<tensor>``: a tensor stored as it is, in its own type (float32 for Keras
  weights);
- ``__fastfrac__``: a JSON string::

    {"format": "fastfrac-fractions", "version": 2, "mode": "decimal",
     "tensors": [{"name": "dense/kernel", "layer": "dense", "kind": "fractions",
                  "shape": [3, 2], "dtype": "float32", "p": 2, "digits": 4}, ...]}

  ``mode`` is the value :func:`fastfrac.approximate` approximated
  (``"decimal"`` or ``"exact"``; null when nothing was approximated).  One
  entry per tensor, in the order written: ``kind`` says whether it is stored
  as ``"fractions"`` or ``"plain"``; ``dtype`` is the type of the weight;
  ``p`` and ``digits`` (null for plain tensors) are the precision and the
  significant digits num/den is rounded to, null meaning the exact num/den.
  The weight is ``fastfrac.to_float(num, den, digits).astype(dtype)``
  (:func:`decode`).  ``layer`` is the Keras layer holding the tensor, or null.

Tensor names are the writer's choice.  ``save_fractions`` names a Keras
weight ``<layer>/<weight path>`` and stores every tensor, the ones it did not
approximate as plain ones, so the container holds the whole model.  The
command line uses the model file's own tensor names (HDF5 dataset paths for
Keras files) and stores only the approximated tensors, with a null ``layer``;
the others are in its output model file unchanged.

:class:`ContainerWriter` takes tensors one at a time, an approximated one in
as many chunks as its producer likes.  The narrowest type is only known when
a tensor is complete, so its values are spilled as int64 to an anonymous
temporary file (in memory while small) until then, and copied into the
archive in that type a block at a time: memory stays bounded whatever the
tensor's size.  Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from fastfrac._fused import approximate_chunk
from fastfrac._types import Fractions
from fastfrac.approximation import to_float

__all__ = [
    "FORMAT",
    "META_KEY",
    "VERSION",
    "ContainerWriter",
    "FractionWeights",
    "Tensor",
    "TensorSink",
    "approximate_tensor",
    "decode",
    "read",
    "smallest_int_dtype",
    "write",
]

FORMAT = "fastfrac-fractions"
VERSION = 2
META_KEY = "__fastfrac__"

SPILL_IN_MEMORY = 16 << 20  # bytes of int64 per num/den stream kept in memory before disk
_COPY_ELEMENTS = 1 << 18  # int64 values converted and compressed at a time
# A fixed member date makes the same tensors give the same bytes.
_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def _int_dtype(low: int, high: int) -> np.dtype:
    kinds = (np.uint8, np.uint16, np.uint32, np.uint64) if low >= 0 else (
        np.int8, np.int16, np.int32, np.int64
    )
    for kind in kinds:
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return np.dtype(kind)
    raise ValueError(f"values from {low} to {high} fit no 64-bit integer type")


def smallest_int_dtype(values: np.ndarray) -> np.dtype:
    """The narrowest NumPy integer type holding every value (unsigned when none is negative).

    >>> smallest_int_dtype(np.array([1, 255])), smallest_int_dtype(np.array([-129, 3]))
    (dtype('uint8'), dtype('int16'))
    >>> smallest_int_dtype(np.array([], dtype=np.int64))
    dtype('uint8')
    """
    arr = np.asarray(values)
    return _int_dtype(int(arr.min()), int(arr.max())) if arr.size else np.dtype(np.uint8)


def decode(fractions: Fractions, digits: int | None, dtype: Any = np.float32) -> np.ndarray:
    """The weight an approximated tensor stands for: num/den, rounded, cast to ``dtype``.

    The single definition used when a model is approximated (Keras models and
    model files) and when a container is read, so they agree bit for bit.

    >>> decode(Fractions(np.array([22]), np.array([7])), 4)
    array([3.143], dtype=float32)
    """
    return to_float(fractions.num, fractions.den, digits).astype(dtype)


@dataclass(frozen=True, eq=False)
class Tensor:
    """One weight array: approximated (``fractions`` set) or stored as it is.

    Attributes
    ----------
    name : str
        Its key in the container (``<layer>/<weight path>`` for Keras weights).
    values : numpy.ndarray
        The weight as the model holds it (for an approximated tensor, the
        decoded fractions).
    fractions : Fractions or None
        int64 numerators and denominators; None for a tensor left as it was.
    p : int or None
        The precision it was approximated with.
    digits : int or None
        Significant digits num/den was rounded to; None for the exact value.
    layer : str or None
        The Keras layer holding it, when known.
    """

    name: str
    values: np.ndarray
    fractions: Fractions | None = None
    p: int | None = None
    digits: int | None = None
    layer: str | None = None

    @property
    def weight(self) -> str:
        """The name inside its layer (``kernel``); the whole name without a layer.

        >>> Tensor("dense/kernel", np.float32([1]), layer="dense").weight
        'kernel'
        """
        prefix = f"{self.layer}/"
        return self.name[len(prefix) :] if self.layer and self.name.startswith(prefix) else self.name


@dataclass(frozen=True)
class FractionWeights:
    """The content of a fractions container: its tensors in the order written, and the mode.

    Examples
    --------
    >>> t = Tensor("d/kernel", np.float32([0.5]), Fractions(np.array([1]), np.array([2])), 1, 2, "d")
    >>> fw = FractionWeights([t, Tensor("d/bias", np.float32([0.25]), layer="d")], "decimal")
    >>> fw.arrays()
    {'d/kernel': array([0.5], dtype=float32), 'd/bias': array([0.25], dtype=float32)}
    >>> fw.fractions()
    {'d/kernel': Fractions(num=array([1]), den=array([2]))}
    """

    tensors: Sequence[Tensor]
    mode: str | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """Tensor name -> the weight array a model should hold."""
        return {t.name: t.values for t in self.tensors}

    def fractions(self) -> dict[str, Fractions]:
        """Tensor name -> int64 num/den, for the approximated tensors."""
        return {t.name: t.fractions for t in self.tensors if t.fractions is not None}

    def set_weights(self, model: Any) -> Any:
        """Write every tensor into the layer of the same name of ``model``; returns ``model``.

        ``model`` must have the architecture the container was written from
        (same top-level layer names, same weights per layer): the container
        must come from :func:`fastfrac.keras.save_fractions`, which records
        each tensor's layer and stores every weight.
        """
        by_layer: dict[str, list[np.ndarray]] = {}
        for t in self.tensors:
            if t.layer is None:
                raise ValueError(
                    f"tensor {t.name!r} has no Keras layer: only containers written by "
                    "fastfrac.keras.save_fractions can be set into a model"
                )
            by_layer.setdefault(t.layer, []).append(t.values)
        for layer_name, arrays in by_layer.items():
            model.get_layer(layer_name).set_weights(arrays)
        return model


def approximate_tensor(
    name: str,
    values: np.ndarray,
    p: int,
    digits: int | None,
    mode: str = "decimal",
    layer: str | None = None,
) -> Tensor:
    """One weight array approximated with precision ``p``, as a model would hold it.

    int64 fractions, so the bound is the seed's unclamped ``10**p / |x|``
    (int32's clamp at 2**31 - 1 changes a few tiny weights; measured on the
    seed model, int64 costs no more kernel time), decoded by :func:`decode`
    into the array's own float type.  The one definition the Keras API and
    the precision search share.

    >>> t = approximate_tensor("w", np.float32([3.14159274, -0.5]), 2, 4)
    >>> t.values, t.fractions.num
    (array([ 3.143, -0.5  ], dtype=float32), array([22, -1]))
    """
    # approximate() then decode(), in one compiled pass (the same bits).
    result = approximate_chunk(values, p, mode=mode, digits=digits, fractions=True)  # type: ignore[arg-type]
    return Tensor(name, result.values, result.fractions, p, digits, layer)


class _Spill:
    """int64 values appended chunk by chunk, with their count, minimum and maximum."""

    def __init__(self, directory: Path, in_memory: int) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=in_memory, dir=directory)
        self.count = 0
        self.low = self.high = 0

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.int64)
        if values.size:
            low, high = int(values.min()), int(values.max())
            self.low, self.high = (low, high) if not self.count else (
                min(self.low, low), max(self.high, high)
            )
            self.file.write(values.tobytes())
        self.count += values.size

    def copy_to(self, out: IO[bytes], dtype: np.dtype) -> None:
        """Write the values to ``out`` as ``dtype``, a block at a time, and free the spill."""
        self.file.seek(0)
        while block := self.file.read(8 * _COPY_ELEMENTS):
            out.write(np.frombuffer(block, dtype=np.int64).astype(dtype).tobytes())
        self.file.close()


class TensorSink:
    """One approximated tensor's fractions, given a chunk at a time in storage order by :meth:`add`.

    Got from :meth:`ContainerWriter.fractions`; :meth:`close` writes the
    ``.num`` and ``.den`` members once every element has been added.
    """

    def __init__(
        self, writer: ContainerWriter, name: str, shape: tuple[int, ...], fortran_order: bool
    ) -> None:
        self.name, self._writer = name, writer
        self._shape, self._fortran_order = shape, fortran_order
        self._size = int(np.prod(shape, dtype=np.int64))
        self._num = _Spill(writer.directory, writer.spill_bytes)
        self._den = _Spill(writer.directory, writer.spill_bytes)

    def add(self, fractions: Fractions) -> None:
        """Append a chunk of fractions, taken in the chunk's C order (a 1-D chunk as it is)."""
        num, den = fractions
        if np.size(num) != np.size(den):
            raise ValueError(
                f"tensor {self.name!r}: {np.size(num)} numerators but {np.size(den)} denominators"
            )
        self._num.add(num)
        self._den.add(den)

    def discard(self) -> None:
        """Drop what was added (the writer is being aborted)."""
        self._num.file.close()
        self._den.file.close()

    def close(self) -> None:
        """Write the tensor's members into the archive."""
        if self._num.count != self._size:
            raise ValueError(
                f"tensor {self.name!r} has shape {self._shape} ({self._size} values) "
                f"but {self._num.count} were added"
            )
        for suffix, spill in ((".num", self._num), (".den", self._den)):
            dtype = _int_dtype(spill.low, spill.high)
            header = {
                "descr": np.lib.format.dtype_to_descr(dtype),
                "fortran_order": self._fortran_order,
                "shape": self._shape,
            }
            with self._writer._member(self.name + suffix) as out:
                np.lib.format.write_array_header_1_0(out, header)
                spill.copy_to(out, dtype)
        self._writer._closed(self)


class ContainerWriter:
    """Write a container to ``path`` tensor by tensor; :meth:`close` adds the metadata.

    Parameters
    ----------
    path : path
        The file to write (no suffix is added).
    mode : str or None
        The ``mode`` the fractions were computed in, recorded in the metadata.
    spill_bytes : int
        Bytes of each tensor's int64 numerators (and as many of denominators)
        kept in memory before they go to an anonymous file beside ``path``.

    Examples
    --------
    >>> import pathlib, tempfile, fastfrac
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> with ContainerWriter(path, mode="decimal") as writer:
    ...     sink = writer.fractions("w", (2,), "float32", p=2, digits=4)
    ...     sink.add(fastfrac.approximate(np.float32([0.5, -3.14159274]), 2, dtype=np.int64))
    ...     sink.close()
    ...     writer.plain("b", np.float32([0.25]))
    >>> data = np.load(path)
    >>> data["w.num"], data["w.den"], data["b"]
    (array([  1, -22], dtype=int8), array([2, 7], dtype=uint8), array([0.25], dtype=float32))
    >>> read(path).arrays()
    {'w': array([ 0.5  , -3.143], dtype=float32), 'b': array([0.25], dtype=float32)}
    """

    def __init__(
        self, path: str | os.PathLike[str], *, mode: str | None, spill_bytes: int = SPILL_IN_MEMORY
    ) -> None:
        self.directory = Path(path).parent
        self.spill_bytes = spill_bytes
        self._archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self._mode = mode
        self._meta: list[dict[str, Any]] = []
        self._keys = {META_KEY}
        self._open: list[TensorSink] = []

    def _entry(self, name: str, keys: tuple[str, ...], **fields: Any) -> None:
        taken = self._keys.intersection(keys)
        if taken:
            raise ValueError(f"tensor {name!r}: the container already has a key {sorted(taken)[0]!r}")
        self._keys.update(keys)
        self._meta.append({"name": name, **fields})

    def _member(self, key: str) -> IO[bytes]:
        info = zipfile.ZipInfo(f"{key}.npy", _DATE_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        return self._archive.open(info, "w", force_zip64=True)

    def _closed(self, sink: TensorSink) -> None:
        self._open.remove(sink)

    def fractions(
        self,
        name: str,
        shape: Sequence[int],
        dtype: Any,
        *,
        p: int,
        digits: int | None,
        layer: str | None = None,
        fortran_order: bool = False,
    ) -> TensorSink:
        """The sink for one approximated tensor of ``shape`` whose weights are of type ``dtype``.

        Its fractions go to :meth:`TensorSink.add` in storage order (Fortran
        order when ``fortran_order``), then :meth:`TensorSink.close`.
        """
        shape = tuple(int(n) for n in shape)
        self._entry(
            name, (f"{name}.num", f"{name}.den"), layer=layer, kind="fractions",
            shape=list(shape), dtype=np.dtype(dtype).name, p=p, digits=digits,
        )
        sink = TensorSink(self, name, shape, fortran_order)
        self._open.append(sink)
        return sink

    def plain(self, name: str, values: np.ndarray, *, layer: str | None = None) -> None:
        """Store a tensor as it is, in its own type."""
        values = np.asarray(values)
        self._entry(
            name, (name,), layer=layer, kind="plain",
            shape=list(values.shape), dtype=values.dtype.name, p=None, digits=None,
        )
        with self._member(name) as out:
            np.lib.format.write_array(out, values, allow_pickle=False)

    def add(self, tensor: Tensor) -> None:
        """Store a whole :class:`Tensor`: its fractions if it has them, else its values."""
        if tensor.fractions is None:
            self.plain(tensor.name, tensor.values, layer=tensor.layer)
            return
        sink = self.fractions(
            tensor.name, tensor.values.shape, tensor.values.dtype,
            p=tensor.p, digits=tensor.digits, layer=tensor.layer,  # type: ignore[arg-type]
        )
        sink.add(tensor.fractions)
        sink.close()

    def _abort(self) -> None:
        """Close the archive, incomplete, and free the spills of unfinished tensors."""
        for sink in self._open:
            sink.discard()
        self._archive.close()

    def close(self) -> None:
        """Write the metadata member and close the archive."""
        if self._archive.fp is None:
            return
        if self._open:
            name = self._open[0].name
            self._abort()
            raise ValueError(f"tensor {name!r} was never closed; the container is incomplete")
        meta = {"format": FORMAT, "version": VERSION, "mode": self._mode, "tensors": self._meta}
        with self._member(META_KEY) as out:
            np.lib.format.write_array(out, np.array(json.dumps(meta, separators=(",", ":"))))
        self._archive.close()

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()  # the caller deletes the file


def write(tensors: Iterable[Tensor], path: str | os.PathLike[str], *, mode: str | None = None) -> int:
    """Write whole tensors as a container to ``path``; returns its size in bytes.

    A failed write removes the partial file.
    """
    try:
        with ContainerWriter(path, mode=mode) as writer:
            for tensor in tensors:
                writer.add(tensor)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    return os.path.getsize(path)


def read(path: str | os.PathLike[str]) -> FractionWeights:
    """Read a container, whoever wrote it; fractions come back as int64, values decoded."""
    data = np.load(path, allow_pickle=False)
    is_npz = isinstance(data, np.lib.npyio.NpzFile)
    if not is_npz or META_KEY not in data.files:
        if is_npz:
            data.close()
        raise ValueError(f"{os.fspath(path)!r} is not a fastfrac fractions container")
    with data:
        header = json.loads(str(data[META_KEY]))
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ValueError(
                f"{os.fspath(path)!r}: unsupported container format {header.get('format')!r} "
                f"version {header.get('version')!r} (this fastfrac reads {FORMAT!r} version {VERSION})"
            )
        tensors = []
        for m in header["tensors"]:
            name = m["name"]
            if m["kind"] == "fractions":
                fractions = Fractions(
                    data[f"{name}.num"].astype(np.int64), data[f"{name}.den"].astype(np.int64)
                )
                values = decode(fractions, m["digits"], m["dtype"])
            else:
                fractions, values = None, data[name]
            tensors.append(Tensor(name, values, fractions, m["p"], m["digits"], m["layer"]))
    return FractionWeights(tensors, header.get("mode"))
