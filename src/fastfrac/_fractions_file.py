"""``--fractions``: the approximated tensors of a model file as integers, streamed to disk.

The file is a ``numpy.savez_compressed``-style archive (ZIP, deflated, one
``.npy`` member per array) holding, for every approximated tensor,

- ``<tensor>.num`` and ``<tensor>.den``: numerators and denominators in the
  narrowest integer type that holds them
  (:func:`fastfrac._container.smallest_int_dtype`), in the tensor's shape;
- ``__fastfrac_file__``: a JSON string, ``{"format": "fastfrac-file-fractions",
  "version": 1, "mode": ..., "tensors": [{"name", "shape", "dtype", "p",
  "digits"}, ...]}`` (dtype float32 or float64).  A tensor's weights are
  ``fastfrac.to_float(num, den, digits).astype(dtype)``, ``digits`` null
  meaning the exact num/den (:func:`read_fractions` does this).

Tensors are named as in the model file (HDF5 dataset paths for Keras files),
so this container is keyed differently from the one
:func:`fastfrac.keras.save_fractions` writes for a live model and carries a
metadata key of its own.

Fractions arrive a chunk at a time.  They are spilled as int64 to an
anonymous temporary file (in memory while small) until the tensor is done,
because the narrowest type is only known then; then they are written into
the archive in that type, chunk by chunk, so memory stays bounded.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from fastfrac._container import decode, smallest_int_dtype
from fastfrac._types import Fractions

__all__ = ["FORMAT", "META_KEY", "FractionsWriter", "read_fractions"]

FORMAT = "fastfrac-file-fractions"
VERSION = 1
META_KEY = "__fastfrac_file__"
_SPILL_IN_MEMORY = 64 << 20  # bytes of int64 kept in memory before spilling to disk
_COPY_ELEMENTS = 1 << 20


class _Spill:
    """int64 values appended chunk by chunk, with their minimum and maximum."""

    def __init__(self, directory: Path) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(
            max_size=_SPILL_IN_MEMORY, dir=directory
        )
        self.low: int | None = None
        self.high: int | None = None

    def add(self, values: np.ndarray) -> None:
        if values.size:
            low, high = int(values.min()), int(values.max())
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)
        self.file.write(np.ascontiguousarray(values, dtype=np.int64).tobytes())

    def dtype(self) -> np.dtype:
        return smallest_int_dtype(np.array([self.low or 0, self.high or 0], dtype=np.int64))

    def write_member(self, archive: zipfile.ZipFile, name: str, header: dict[str, Any]) -> None:
        dtype = self.dtype()
        self.file.seek(0)
        with archive.open(f"{name}.npy", "w", force_zip64=True) as out:
            np.lib.format.write_array_header_1_0(
                out, {**header, "descr": np.lib.format.dtype_to_descr(dtype)}
            )
            while block := self.file.read(8 * _COPY_ELEMENTS):
                out.write(np.frombuffer(block, dtype=np.int64).astype(dtype).tobytes())
        self.file.close()


class _TensorSink:
    """One tensor's part of the archive (see :class:`fastfrac._convert.FractionsSink`)."""

    def __init__(self, writer: FractionsWriter, name: str, header: dict[str, Any]) -> None:
        self._writer, self._name, self._header = writer, name, header
        self._num = _Spill(writer.directory)
        self._den = _Spill(writer.directory)

    def add(self, fractions: Fractions) -> None:
        self._num.add(fractions.num)
        self._den.add(fractions.den)

    def close(self) -> None:
        self._num.write_member(self._writer.archive, f"{self._name}.num", self._header)
        self._den.write_member(self._writer.archive, f"{self._name}.den", self._header)


class FractionsWriter:
    """Write the container to ``path`` tensor by tensor; :meth:`close` adds the metadata.

    Examples
    --------
    >>> import pathlib, tempfile, fastfrac
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> with FractionsWriter(path, mode="decimal") as writer:
    ...     sink = writer.tensor("w", (2,), "float32", p=2, digits=4)
    ...     sink.add(fastfrac.approximate(np.float32([0.5, -3.14159274]), 2, dtype=np.int64))
    ...     sink.close()
    >>> data = np.load(path)
    >>> data["w.num"], data["w.den"]
    (array([  1, -22], dtype=int8), array([2, 7], dtype=uint8))
    >>> read_fractions(path)["w"]
    array([ 0.5  , -3.143], dtype=float32)
    """

    def __init__(self, path: str | os.PathLike[str], *, mode: str) -> None:
        self.directory = Path(path).parent
        self.archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self._mode = mode
        self._meta: list[dict[str, Any]] = []

    def tensor(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: str,
        *,
        p: int,
        digits: int | None,
        fortran_order: bool = False,
    ) -> _TensorSink:
        """The sink for one tensor's fractions, in storage order."""
        self._meta.append(
            {"name": name, "shape": list(shape), "dtype": dtype, "p": p, "digits": digits}
        )
        header = {"fortran_order": fortran_order, "shape": tuple(shape)}
        return _TensorSink(self, name, header)

    def __enter__(self) -> FractionsWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.archive.close()  # incomplete: the caller deletes the file

    def close(self) -> None:
        """Write the metadata member and close the archive."""
        meta = {"format": FORMAT, "version": VERSION, "mode": self._mode, "tensors": self._meta}
        with self.archive.open(f"{META_KEY}.npy", "w", force_zip64=True) as out:
            np.lib.format.write_array(out, np.array(json.dumps(meta, separators=(",", ":"))))
        self.archive.close()


def read_fractions(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``{tensor name: weights}`` decoded from a container :class:`FractionsWriter` wrote."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data[META_KEY])) if META_KEY in data.files else {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{os.fspath(path)!r} is not a {FORMAT} container")
        return {
            t["name"]: decode(
                Fractions(data[f"{t['name']}.num"], data[f"{t['name']}.den"]), t["digits"], t["dtype"]
            )
            for t in meta["tensors"]
        }
