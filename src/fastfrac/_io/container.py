"""The fractions container: a model's approximated weights as integers num/den, on disk.

Written by :func:`fastfrac.keras.save_fractions` (a live Keras model) and by
``fastfrac approximate --fractions`` (a model file), read by
:func:`fastfrac.keras.load_fractions` and ``fastfrac restore``.  Two versions,
chosen by the file's name:

- **version 3** (any name not ending in ``.npz``; ``.ffc`` by convention):
  compressed frames and a JSON footer (:mod:`fastfrac._io.frames`), each
  chunk of numerators or denominators in its own narrowest integer type,
  byte-shuffled and compressed by Zstandard on worker threads.  Smaller and
  faster to write than version 2 (docs/codecs.md has the measurements);
  ``numpy.load`` does not read it.
- **version 2** (a name ending in ``.npz``): a ZIP archive of deflated
  ``.npy`` members, as ``numpy.savez_compressed`` makes and ``numpy.load``
  reads (:mod:`fastfrac._io.container_npz`).

Both hold the same content and the same JSON metadata::

    {"format": "fastfrac-fractions", "version": 3, "mode": "decimal",
     "codec": {"name": "zstd", "level": 1, "shuffle": true, "plane_blocks_below": 131072},
     "source": {"file": "model.safetensors", "bytes": 1234, "blake3": "..."},
     "tensors": [{"name": "dense/kernel", "layer": "dense", "kind": "fractions",
                  "shape": [3, 2], "dtype": "float32", "p": 2, "digits": 4,
                  "fortran_order": false, "num": [FRAME, ...], "den": [FRAME, ...]}, ...]}

``mode`` is the value :func:`fastfrac.approximate` approximated
(``"decimal"`` or ``"exact"``; null when nothing was approximated).  One
entry per tensor, in the order written: ``kind`` says whether it is stored
as ``"fractions"`` or ``"plain"``; ``dtype`` is the type of the weight;
``p`` and ``digits`` (null for plain tensors) are the precision and the
significant digits num/den is rounded to, null meaning the exact num/den.
The weight is ``fastfrac.to_float(num, den, digits).astype(dtype)``
(:func:`decode`).  ``layer`` is the Keras layer holding the tensor, or null.
``source`` (version 3, written by the command line; null otherwise) names
the model file the fractions came from, its size and BLAKE3 digest (hex;
containers written before BLAKE3 was adopted record ``"sha256"`` instead,
which is still checked: :mod:`fastfrac._io.source`), so that
``fastfrac restore`` can refuse another file.  ``codec`` (version 3)
says how the frames were compressed, for the record (frames of fewer than
``plane_blocks_below`` values end a Zstandard block at every byte plane;
files without the key did not): each frame is a standard Zstandard frame
and says its own size.  Version 3 only: the frames
of ``num`` and ``den`` (``data`` for a plain tensor, its bytes as unsigned
integers of its item size) and ``fortran_order``.  In version 2 the arrays
are the members ``<tensor>.num``, ``<tensor>.den`` and ``<tensor>``, in the
narrowest integer type of the whole tensor, the metadata the member
``__fastfrac__`` (without ``source``, frames and ``fortran_order``, which the
``.npy`` headers carry).

Tensor names are the writer's choice.  ``save_fractions`` names a Keras
weight ``<layer>/<weight path>`` and stores every tensor, the ones it did not
approximate as plain ones, so the container holds the whole model.  The
command line uses the model file's own tensor names (HDF5 dataset paths for
Keras files) and stores only the approximated tensors, with a null ``layer``;
the others are in its output model file unchanged.

:class:`ContainerWriter` takes tensors one at a time, an approximated one in
as many chunks as its producer likes, in bounded memory;
:func:`open_container` reads one back a chunk at a time, and :func:`read`
whole.  Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from fastfrac._fused import FractionPlanes, approximate_chunk
from fastfrac._io import frames
from fastfrac._io.container_npz import SPILL_IN_MEMORY, NpzArchive, NpzMemberReader, open_npz
from fastfrac._io.limits import check_shape
from fastfrac._types import FLOAT_TYPES, Fractions
from fastfrac.approximation import to_float

__all__ = [
    "FORMAT",
    "META_KEY",
    "SUFFIX",
    "VERSION",
    "ContainerFile",
    "ContainerWriter",
    "FractionWeights",
    "Tensor",
    "TensorSink",
    "approximate_tensor",
    "decode",
    "open_container",
    "read",
    "smallest_int_dtype",
    "version_for",
    "write",
]

FORMAT = "fastfrac-fractions"
VERSION = 3  # what ContainerWriter writes unless the name ends in .npz
SUFFIX = ".ffc"  # version 3's conventional suffix
META_KEY = "__fastfrac__"
_WEIGHT_TYPES = {t.name for t in FLOAT_TYPES}


def version_for(path: str | os.PathLike[str]) -> int:
    """The container version a file of this name is written in: 2 for ``.npz``, else 3.

    >>> version_for("model.fractions.npz"), version_for("model.ffc")
    (2, 3)
    """
    return 2 if os.fspath(path).lower().endswith(".npz") else VERSION


def smallest_int_dtype(values: np.ndarray) -> np.dtype:
    """The narrowest NumPy integer type holding every value (unsigned when none is negative).

    >>> smallest_int_dtype(np.array([1, 255])), smallest_int_dtype(np.array([-129, 3]))
    (dtype('uint8'), dtype('int16'))
    >>> smallest_int_dtype(np.array([], dtype=np.int64))
    dtype('uint8')
    """
    return frames.narrowest(np.asarray(values))


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


class TensorSink:
    """One approximated tensor's fractions, given a chunk at a time in storage order by :meth:`add`.

    Got from :meth:`ContainerWriter.fractions`; :meth:`close` completes the
    tensor once every element has been added.
    """

    def __init__(
        self, writer: ContainerWriter, entry: dict[str, Any], fortran_order: bool
    ) -> None:
        self.name, self._writer, self._entry = entry["name"], writer, entry
        self._shape, self._fortran_order = tuple(entry["shape"]), fortran_order
        self._size = int(np.prod(self._shape, dtype=np.int64))
        self._count = 0
        self._streams = writer._npz.streams() if writer._npz is not None else None

    def add(self, fractions: Fractions, types: tuple[np.dtype, np.dtype] | None = None) -> None:
        """Append a chunk of fractions, taken in the chunk's C order (a 1-D chunk as it is).

        ``types``, when known (the fused pass finds them), are the narrowest
        integer types of num and den, which version 3 then need not look for.
        """
        num, den = fractions
        self._take(np.size(num), np.size(den))
        if self._streams is not None:
            self._streams[0].add(num)
            self._streams[1].add(den)
        else:
            assert self._writer._frames is not None
            num_type, den_type = types if types is not None else (None, None)
            self._writer._frames.add(np.asarray(num), self._entry["num"], dtype=num_type)
            self._writer._frames.add(np.asarray(den), self._entry["den"], dtype=den_type)

    @property
    def plane_widths(self) -> tuple[int, int] | None:
        """The byte planes to ask the fused pass for (:meth:`add_planes`), or
        None when this container takes int64 fractions only (version 2)."""
        return None if self._streams is not None else self._writer._plane_widths

    def add_planes(self, planes: FractionPlanes, types: tuple[np.dtype, np.dtype]) -> None:
        """Append a chunk of at most :data:`fastfrac._io.frames.FRAME` fractions
        given as byte planes of their narrowest types (a version 3 container only).

        The file holds the same bytes as after :meth:`add` of the same
        fractions; the planes are read on a worker thread, so the caller must
        not modify them.
        """
        assert self._writer._frames is not None and self._streams is None
        self._take(planes.num.shape[1], planes.den.shape[1])
        widths = self._writer._plane_widths
        self._writer._plane_widths = (max(widths[0], types[0].itemsize),
                                      max(widths[1], types[1].itemsize))
        self._writer._frames.add_planes(planes.num, types[0], self._entry["num"])
        self._writer._frames.add_planes(planes.den, types[1], self._entry["den"])

    def _take(self, numerators: int, denominators: int) -> None:
        """Counts a chunk of fractions in, after checking that num and den match."""
        if numerators != denominators:
            raise ValueError(
                f"tensor {self.name!r}: {numerators} numerators but {denominators} denominators"
            )
        self._count += numerators

    def discard(self) -> None:
        """Drop what was added (the writer is being aborted)."""
        if self._streams is not None:
            NpzArchive.drop(self._streams)

    def close(self) -> None:
        """Complete the tensor in the container."""
        if self._count != self._size:
            raise ValueError(
                f"tensor {self.name!r} has shape {self._shape} ({self._size} values) "
                f"but {self._count} were added"
            )
        if self._streams is not None:
            assert self._writer._npz is not None
            self._writer._npz.finish_tensor(self.name, self._shape, self._fortran_order,
                                            self._streams)
        self._writer._closed(self)


class ContainerWriter:
    """Write a container to ``path`` tensor by tensor; :meth:`close` adds the metadata.

    Parameters
    ----------
    path : path
        The file to write (no suffix is added).
    mode : str or None
        The ``mode`` the fractions were computed in, recorded in the metadata.
    version : {2, 3}, optional
        Default: 2 if the name of ``path`` ends in ``.npz``, else 3
        (:func:`version_for`; a caller writing under a temporary name passes
        the final name's).
    source : dict, optional
        What the fractions came from (``file``, ``bytes``, ``blake3``:
        :mod:`fastfrac._io.source`), recorded in a version 3 container for
        ``fastfrac restore``; the attribute ``source`` may be set until
        :meth:`close`.
    spill_bytes : int
        Version 2: bytes of each tensor's int64 numerators (and as many of
        denominators) kept in memory before they go to an anonymous file
        beside ``path``.
    threads : int
        Version 3: threads compressing frames.

    Examples
    --------
    >>> import pathlib, tempfile, fastfrac
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.ffc"
    >>> with ContainerWriter(path, mode="decimal") as writer:
    ...     sink = writer.fractions("w", (2,), "float32", p=2, digits=4)
    ...     sink.add(fastfrac.approximate(np.float32([0.5, -3.14159274]), 2, dtype=np.int64))
    ...     sink.close()
    ...     writer.plain("b", np.float32([0.25]))
    >>> read(path).arrays()
    {'w': array([ 0.5  , -3.143], dtype=float32), 'b': array([0.25], dtype=float32)}
    >>> read(path).fractions()
    {'w': Fractions(num=array([  1, -22]), den=array([2, 7]))}

    A name ending in ``.npz`` gives version 2, which NumPy reads:

    >>> with ContainerWriter(path.with_suffix(".npz"), mode="decimal") as writer:
    ...     writer.plain("b", np.float32([0.25]))
    >>> np.load(path.with_suffix(".npz"))["b"]
    array([0.25], dtype=float32)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: str | None,
        version: int | None = None,
        source: dict[str, Any] | None = None,
        spill_bytes: int = SPILL_IN_MEMORY,
        threads: int = 2,
    ) -> None:
        self.path = Path(path)
        self.version = version_for(path) if version is None else version
        if self.version not in (2, 3):
            raise ValueError(f"container version {self.version!r}: this fastfrac writes 2 and 3")
        self._mode = mode
        self.source = source  # may be set until close()
        self._meta: list[dict[str, Any]] = []
        self._keys = {META_KEY}
        self._open: list[TensorSink] = []
        self._npz: NpzArchive | None = None
        self._frames: frames.FrameWriter | None = None
        self._file: IO[bytes] | None = None
        # The widest num and den types seen so far, in bytes: the planes the
        # fused pass is asked to write (a wider chunk costs a second pass).
        self._plane_widths = (1, 4)
        if self.version == 2:
            self._npz = NpzArchive(self.path, spill_bytes)
        else:
            self._file = open(self.path, "wb")  # noqa: SIM115 -- closed by close()/_abort()
            self._file.write(frames.MAGIC)
            self._frames = frames.FrameWriter(self._file, threads=threads)

    def _entry(self, name: str, keys: tuple[str, ...], **fields: Any) -> dict[str, Any]:
        taken = self._keys.intersection(keys)
        if taken:
            raise ValueError(f"tensor {name!r}: the container already has a key {sorted(taken)[0]!r}")
        self._keys.update(keys)
        entry = {"name": name, **fields}
        self._meta.append(entry)
        return entry

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
        extra: dict[str, Any] = {}
        if self.version == 3:
            extra = {"fortran_order": bool(fortran_order), "num": [], "den": []}
        entry = self._entry(
            name, (f"{name}.num", f"{name}.den"), layer=layer, kind="fractions",
            shape=list(shape), dtype=np.dtype(dtype).name, p=p, digits=digits, **extra,
        )
        sink = TensorSink(self, entry, fortran_order)
        self._open.append(sink)
        return sink

    def plain(self, name: str, values: np.ndarray, *, layer: str | None = None) -> None:
        """Store a tensor as it is, in its own type."""
        values = np.asarray(values)
        extra: dict[str, Any] = {"data": []} if self.version == 3 else {}
        entry = self._entry(
            name, (name,), layer=layer, kind="plain",
            shape=list(values.shape), dtype=values.dtype.name, p=None, digits=None, **extra,
        )
        if self._npz is not None:
            self._npz.plain(name, values)
            return
        assert self._frames is not None
        if values.dtype.itemsize not in (1, 2, 4, 8) or values.dtype.hasobject:
            raise ValueError(f"tensor {name!r}: a {values.dtype} tensor cannot be stored")
        # Its bytes as unsigned integers of its size, never narrowed: kept bit for bit.
        bits = values.astype(values.dtype.newbyteorder("="), order="C", copy=True)  # read later, on a thread
        self._frames.add(bits.reshape(-1).view(f"u{values.dtype.itemsize}"), entry["data"],
                         narrow=False)

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

    def _metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"format": FORMAT, "version": self.version, "mode": self._mode}
        if self.version == 3:
            meta["codec"] = dict(frames.CODEC)
            meta["source"] = self.source
        meta["tensors"] = self._meta
        return meta

    def _abort(self) -> None:
        """Close the file, incomplete, and free the spills of unfinished tensors."""
        for sink in self._open:
            sink.discard()
        self._open.clear()
        if self._npz is not None:
            self._npz.close(None, META_KEY)
            self._npz = None
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        """Write the metadata and close the file."""
        if self._npz is None and self._frames is None:
            return
        if self._open:
            name = self._open[0].name
            self._abort()
            raise ValueError(f"tensor {name!r} was never closed; the container is incomplete")
        try:
            if self._npz is not None:
                self._npz.close(self._metadata(), META_KEY)
                self._npz = None
                return
            assert self._frames is not None and self._file is not None
            self._frames.flush()
            frames.write_footer(self._file, self._metadata())
        except BaseException:
            self._abort()
            raise
        self._frames.close()
        self._frames = None
        self._file.close()
        self._file = None

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


def _bad(path: Path, message: str) -> ValueError:
    return ValueError(f"{path}: {message}")


def _check_entry(path: Path, m: Any, names: set[str]) -> dict[str, Any]:
    """One tensor entry of the metadata, checked (whoever wrote the file)."""
    if not isinstance(m, dict) or not isinstance(m.get("name"), str):
        raise _bad(path, f"a tensor entry has no name: {m!r:.80}")
    name = m["name"]
    if name in names:
        raise _bad(path, f"tensor {name!r} appears twice")
    names.add(name)
    kind, dtype = m.get("kind"), m.get("dtype")
    if kind not in ("fractions", "plain"):
        raise _bad(path, f"tensor {name!r}: kind {kind!r:.40} is neither 'fractions' nor 'plain'")
    if kind == "fractions" and dtype not in _WEIGHT_TYPES:
        raise _bad(path, f"tensor {name!r}: dtype {dtype!r:.40} is not a float type")
    if kind == "plain":
        try:
            np_type = np.dtype(dtype)
        except (TypeError, ValueError):
            raise _bad(path, f"tensor {name!r}: dtype {dtype!r:.40} is not a NumPy type") from None
        if np_type.hasobject or np_type.itemsize not in (1, 2, 4, 8):
            raise _bad(path, f"tensor {name!r}: dtype {dtype!r:.40} cannot be stored")
    for key, low in (("p", 0), ("digits", 1)):
        value = m.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise _bad(path, f"tensor {name!r}: {key} {value!r:.40} is not an integer >= {low} or null")
    if m.get("layer") is not None and not isinstance(m.get("layer"), str):
        raise _bad(path, f"tensor {name!r}: layer {m.get('layer')!r:.40} is not a string")
    shape = check_shape(m.get("shape"), str(path), name)
    return {**m, "shape": list(shape), "count": int(np.prod(shape, dtype=np.int64))}


@dataclass
class ContainerFile:
    """An open container of either version: its metadata, and each array as a stream.

    From :func:`open_container`; use as a context manager (or call
    :meth:`close`).  ``tensors`` are the checked metadata entries in the
    order written (each with its ``count``), ``source`` what the fractions
    came from (version 3 from the command line; else None).
    """

    path: Path
    version: int
    mode: str | None
    source: dict[str, Any] | None
    tensors: list[dict[str, Any]]
    _file: Any = field(repr=False)
    _data_end: int = field(default=0, repr=False)

    def stream(self, entry: dict[str, Any], part: str) -> Any:
        """A reader of one array, ``part`` "num", "den" or "data" (plain); ``take(n)`` gives the next n.

        Fractions come as int64, plain data in the tensor's own type.
        """
        where = f"{self.path}: tensor {entry['name']!r}"
        if self.version == 3:
            checked = frames.check_frames(entry.get(part), entry["count"], self._data_end,
                                          f"{where} ({part})")
            reader = frames.FrameReader(self._file, checked, f"{where} ({part})")
            return reader if part != "data" else _PlainFrames(reader, np.dtype(entry["dtype"]))
        key = f"{entry['name']}.{part}.npy" if part != "data" else f"{entry['name']}.npy"
        try:
            member = self._file.open(key)
        except KeyError:
            raise _bad(self.path, f"tensor {entry['name']!r} has no member {key!r}") from None
        reader = NpzMemberReader(member, f"{where} ({part})")
        if reader.shape != tuple(entry["shape"]):
            raise _bad(self.path, f"tensor {entry['name']!r}: member {key!r} has shape "
                                  f"{reader.shape}, the metadata says {tuple(entry['shape'])}")
        if part != "data" and reader.dtype.kind not in "iu":
            raise _bad(self.path, f"tensor {entry['name']!r}: member {key!r} is {reader.dtype}, "
                                  "not integers")
        return reader if part == "data" else _AsInt64(reader)

    def fortran_order(self, entry: dict[str, Any]) -> bool:
        """Whether the tensor's arrays are stored in Fortran order."""
        if self.version == 3:
            return bool(entry.get("fortran_order", False))
        key = f"{entry['name']}.num.npy" if entry["kind"] == "fractions" else f"{entry['name']}.npy"
        try:
            with self._file.open(key) as member:
                return NpzMemberReader(member, str(self.path)).fortran_order
        except KeyError:
            raise _bad(self.path, f"tensor {entry['name']!r} has no member {key!r}") from None

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ContainerFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AsInt64:
    def __init__(self, reader: NpzMemberReader) -> None:
        self._reader = reader

    def take(self, n: int) -> np.ndarray:
        return self._reader.take(n).astype(np.int64)


class _PlainFrames:
    def __init__(self, reader: frames.FrameReader, dtype: np.dtype) -> None:
        self._reader, self._dtype = reader, dtype

    def take(self, n: int) -> np.ndarray:
        bits = self._reader.take(n).astype(f"u{self._dtype.itemsize}")
        return bits.view(self._dtype)


def _header(path: Path, meta: Any) -> tuple[int, str | None]:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") not in (2, 3):
        fmt = meta.get("format") if isinstance(meta, dict) else None
        version = meta.get("version") if isinstance(meta, dict) else None
        raise ValueError(
            f"{os.fspath(path)!r}: unsupported container format {fmt!r} version {version!r} "
            f"(this fastfrac reads {FORMAT!r} versions 2 and 3)"
        )
    mode = meta.get("mode")
    if mode not in (None, "decimal", "exact"):
        raise _bad(path, f"mode {mode!r:.40} is not 'decimal', 'exact' or null")
    if not isinstance(meta.get("tensors"), list):
        raise _bad(path, "its metadata lists no tensors")
    return meta["version"], mode


def open_container(path: str | os.PathLike[str]) -> ContainerFile:
    """Open a container of either version for reading; ValueError (one line) if it is not one."""
    path = Path(path)
    if frames.is_frames_file(path):
        f = open(path, "rb")  # noqa: SIM115 -- owned by the ContainerFile
        try:
            meta, data_end = frames.read_footer(f, os.fstat(f.fileno()).st_size, str(path))
            version, mode = _header(path, meta)
            if version != 3:
                raise _bad(path, f"a version 3 file says version {version}")
            source = meta.get("source")
            if source is not None and not isinstance(source, dict):
                raise _bad(path, "its source is not a JSON object")
            names: set[str] = set()
            tensors = [_check_entry(path, m, names) for m in meta["tensors"]]
        except BaseException:
            f.close()
            raise
        return ContainerFile(path, 3, mode, source, tensors, f, data_end)
    archive = open_npz(path)
    try:
        if f"{META_KEY}.npy" not in archive.namelist():
            raise ValueError(f"{os.fspath(path)!r} is not a fastfrac fractions container")
        with archive.open(f"{META_KEY}.npy") as member:
            text = NpzMemberReader(member, f"{path}: metadata")
            if text.dtype.kind != "U" or text.count != 1:
                raise _bad(path, "its metadata member is not one string")
            raw = str(text.take(1)[0])
        try:
            meta = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise _bad(path, f"its metadata is not JSON ({exc})") from None
        version, mode = _header(path, meta)
        if version != 2:
            raise _bad(path, f"a ZIP container says version {version}")
        names = set()
        tensors = [_check_entry(path, m, names) for m in meta["tensors"]]
    except BaseException:
        archive.close()
        raise
    return ContainerFile(path, 2, mode, None, tensors, archive)


def read(path: str | os.PathLike[str]) -> FractionWeights:
    """Read a container of either version, whoever wrote it; fractions come back as int64, values decoded."""
    with open_container(path) as container:
        tensors = []
        for m in container.tensors:
            order = "F" if container.fortran_order(m) else "C"
            shape = tuple(m["shape"])
            if m["kind"] == "fractions":
                num = container.stream(m, "num").take(m["count"])
                den = container.stream(m, "den").take(m["count"])
                fractions: Fractions | None = Fractions(
                    num.reshape(shape, order=order), den.reshape(shape, order=order)
                )
                values = decode(fractions, m["digits"], m["dtype"])
            else:
                fractions = None
                values = container.stream(m, "data").take(m["count"]).reshape(shape, order=order)
            tensors.append(Tensor(m["name"], values, fractions, m["p"], m["digits"], m.get("layer")))
    return FractionWeights(tensors, container.mode)
