"""Version 2 of the fractions container: a ZIP of deflated ``.npy`` members, as ``numpy.load`` reads.

Written when the container's name ends in ``.npz`` (kept for users who
open containers with NumPy alone); version 3 (:mod:`fastfrac._io.frames`) is
smaller and faster.  The narrowest type of a tensor is only known when it is
complete, so its values are spilled as int64 to an anonymous temporary file
(in memory while small) until then, and copied into the archive in that type
a block at a time: memory stays bounded whatever the tensor's size.  The
reader streams a member's elements in order, so restoring a model from a
container never holds a whole tensor either.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from fastfrac._io.frames import narrowest
from fastfrac._io.limits import MAX_NPY_HEADER

__all__ = ["NpzArchive", "NpzMemberReader", "open_npz"]

SPILL_IN_MEMORY = 16 << 20  # bytes of int64 per num/den stream kept in memory before disk
_COPY_ELEMENTS = 1 << 18  # int64 values converted and compressed at a time
# A fixed member date makes the same tensors give the same bytes.
_DATE_TIME = (1980, 1, 1, 0, 0, 0)


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

    def dtype(self) -> np.dtype:
        return narrowest(np.array([self.low, self.high])) if self.count else np.dtype(np.uint8)

    def copy_to(self, out: IO[bytes], dtype: np.dtype) -> None:
        """Write the values to ``out`` as ``dtype``, a block at a time, and free the spill."""
        self.file.seek(0)
        while block := self.file.read(8 * _COPY_ELEMENTS):
            out.write(np.frombuffer(block, dtype=np.int64).astype(dtype).tobytes())
        self.file.close()


class NpzArchive:
    """The version 2 archive being written: members, spilled tensors, the metadata member."""

    def __init__(self, path: Path, spill_bytes: int = SPILL_IN_MEMORY) -> None:
        self._directory, self._spill_bytes = path.parent, spill_bytes
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)

    def _member(self, key: str) -> IO[bytes]:
        info = zipfile.ZipInfo(f"{key}.npy", _DATE_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        return self._zip.open(info, "w", force_zip64=True)

    def streams(self) -> tuple[_Spill, _Spill]:
        """Where one tensor's numerators and denominators go until it is complete."""
        return _Spill(self._directory, self._spill_bytes), _Spill(self._directory, self._spill_bytes)

    def finish_tensor(self, name: str, shape: Sequence[int], fortran_order: bool,
                      streams: tuple[_Spill, _Spill]) -> None:
        for suffix, spill in zip((".num", ".den"), streams):
            dtype = spill.dtype()
            header = {"descr": np.lib.format.dtype_to_descr(dtype),
                      "fortran_order": fortran_order, "shape": tuple(shape)}
            with self._member(name + suffix) as out:
                np.lib.format.write_array_header_1_0(out, header)
                spill.copy_to(out, dtype)

    @staticmethod
    def drop(streams: tuple[_Spill, _Spill]) -> None:
        for spill in streams:
            spill.file.close()

    def plain(self, name: str, values: np.ndarray) -> None:
        with self._member(name) as out:
            np.lib.format.write_array(out, values, allow_pickle=False)

    def close(self, metadata: dict[str, Any] | None, meta_key: str) -> None:
        """Write the metadata member (unless aborting: None) and close the archive."""
        if metadata is not None:
            with self._member(meta_key) as out:
                text = json.dumps(metadata, separators=(",", ":"))
                np.lib.format.write_array(out, np.array(text))
        self._zip.close()


class NpzMemberReader:
    """One ``.npy`` member's elements in storage order, read a block at a time (:meth:`take`)."""

    def __init__(self, stream: IO[bytes], where: str) -> None:
        self._stream, self._where = stream, where
        try:
            version = np.lib.format.read_magic(stream)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, self.fortran_order, self.dtype = read_header(stream, max_header_size=MAX_NPY_HEADER)
        except (ValueError, SyntaxError, OSError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{where}: not a readable .npy member ({exc})") from None
        self.shape = tuple(shape)
        self.count = int(np.prod(self.shape, dtype=np.int64))
        self._left = self.count

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` elements (fewer only past the end), in the member's own type."""
        n = min(n, self._left)
        want = n * self.dtype.itemsize
        try:
            raw = self._stream.read(want)
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{self._where}: the member is damaged ({exc})") from None
        if len(raw) != want:
            raise ValueError(f"{self._where}: the member ends {self._left - len(raw) // max(self.dtype.itemsize, 1)} "
                             "elements early")
        self._left -= n
        return np.frombuffer(raw, dtype=self.dtype)


def open_npz(path: Path) -> zipfile.ZipFile:
    """The archive, or ValueError if it is not a ZIP file."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path} is not a fastfrac fractions container ({exc})") from None
