"""What the model-file readers share: the tensor description and format detection.

Each format module (:mod:`fastfrac._io.safetensors`, :mod:`fastfrac._io.npz`,
:mod:`fastfrac._io.keras_h5`) has ``open_file(path, scratch)`` returning a
:class:`ModelFile`: the file's tensors as :class:`TensorInfo` and
``rewrite(dst, start_job)``, which writes a copy of the file in which
``start_job`` decides, tensor by tensor, what is approximated.  The Keras formats are imported only when a
Keras file is given, so reading safetensors or npz never imports h5py (nor,
ever, TensorFlow).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from fastfrac._errors import UserError
from fastfrac._types import approximable

if TYPE_CHECKING:
    from fastfrac._io.tensor_job import TensorJob

__all__ = [
    "CHUNK",
    "FORMATS",
    "Format",
    "ModelFile",
    "OPTIMIZER_COPIED",
    "StartJob",
    "TensorInfo",
    "copy_reason",
    "detect_format",
]

# Elements per chunk the readers hand a job: 2**20 float32 values are 4 MB in
# and about 40 MB of temporaries (int64 fractions, float64 errors); large
# enough that the kernel call overhead is nil, small enough for the memory
# bound on any tensor.  Here, not beside the job, so that readers need not
# load the kernel to know it.
CHUNK = 1 << 20


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a model file.

    Attributes
    ----------
    name : str
        Unique in the file: the safetensors/npz key, or the HDF5 dataset path
        of a Keras weight.  Reports and the fractions container use it.
    unit : str or None
        What SPEC names: the tensor's name, or for Keras files its top-level
        layer; None when SPEC cannot select it (optimizer state).
    shape : tuple of int
    dtype : str
        The type as the file spells it (``F32``, ``float32``, ``<f4``).
    float_type : numpy.dtype or None
        float16, bfloat16, float32 or float64 (native order) when the tensor
        can be approximated.
    reason : str or None
        Why the tensor is copied whatever SPEC says (None if it need not be).
    fortran_order : bool
        The values are stored in Fortran order (npz only).
    optimizer : bool
        Optimizer state (Keras files): its ``unit`` is its own dataset path,
        and only a SPEC item naming that path exactly approximates it.
    """

    name: str
    unit: str | None
    shape: tuple[int, ...]
    dtype: str
    float_type: np.dtype | None
    reason: str | None = None
    fortran_order: bool = False
    optimizer: bool = False

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))


# Why an optimizer tensor was copied when no SPEC item named its path exactly.
OPTIMIZER_COPIED = "optimizer state (approximated only when SPEC names its path exactly)"

# start_job(tensor) -> a job for a tensor to approximate, None to copy it.
StartJob = Callable[[TensorInfo], "TensorJob | None"]


class ModelFile(Protocol):
    """What a format's ``open_file(path, scratch)`` returns."""

    tensors: list[TensorInfo]

    def rewrite(self, dst: str | os.PathLike[str], start_job: StartJob) -> None:
        """Write a copy to ``dst``; start_job(tensor) is asked once per tensor, in order."""


def copy_reason(dtype: np.dtype | None, spelled: str) -> str | None:
    """Why a tensor of this type is copied unchanged; None for the four float types.

    ``dtype`` is the NumPy type the values are read as, None for types NumPy
    and ml_dtypes do not give the reader (float8, float4...); ``spelled``
    the type as the file names it.

    >>> copy_reason(np.dtype("<f4"), "F32") is None, copy_reason(np.dtype("<f2"), "F16") is None
    (True, True)
    >>> copy_reason(np.dtype("int64"), "I64"), copy_reason(None, "F8_E4M3")
    ('integer tensor', 'F8_E4M3 is not a float16, bfloat16, float32 or float64 type')
    >>> copy_reason(np.dtype("V2"), "|V2")
    '|V2 is an opaque 2-byte type (NumPy writes bfloat16 to .npy this way): nothing says what it holds'
    """
    if dtype is not None:
        if approximable(dtype):
            return None
        if dtype.kind in "iu":
            return "integer tensor"
        if dtype.kind == "b":
            return "boolean tensor"
        if dtype.kind == "V" and dtype.itemsize == 2 and not dtype.names:
            return (f"{spelled} is an opaque 2-byte type (NumPy writes bfloat16 to .npy this way): "
                    "nothing says what it holds")
    return f"{spelled} is not a float16, bfloat16, float32 or float64 type"


@dataclass(frozen=True)
class Format:
    """A model-file format: its name, suffixes and the module that reads and writes it."""

    name: str
    suffixes: tuple[str, ...]
    module: str  # imported on use
    noun: str  # what SPEC names in this format

    def open(self, path: str | Path, scratch: Callable[[str], Path]) -> ModelFile:
        """Read ``path``'s tensor list; ``scratch(suffix)`` gives a temporary path if needed."""
        import importlib

        return importlib.import_module(self.module).open_file(path, scratch)


FORMATS = (
    Format("Keras model", (".keras",), "fastfrac._io.keras_h5", "layer"),
    Format("Keras HDF5", (".h5", ".hdf5"), "fastfrac._io.keras_h5", "layer"),
    Format("safetensors", (".safetensors",), "fastfrac._io.safetensors", "tensor"),
    Format("npz", (".npz",), "fastfrac._io.npz", "tensor"),
)


def _by_suffix(path: Path) -> Format | None:
    suffix = path.suffix.lower()
    return next((f for f in FORMATS if suffix in f.suffixes), None)


def detect_format(path: str | Path, role: str = "IN") -> Format:
    """The format of a model file, from its suffix.

    >>> detect_format("model.weights.h5").name, detect_format("w.safetensors").name
    ('Keras HDF5', 'safetensors')
    >>> detect_format("model.onnx")
    Traceback (most recent call last):
    ...
    fastfrac._errors.UserError: unknown format of IN 'model.onnx': expected .keras, .h5, .hdf5, .safetensors or .npz
    """
    fmt = _by_suffix(Path(path))
    if fmt is None:
        suffixes = [s for f in FORMATS for s in f.suffixes]
        raise UserError(
            f"unknown format of {role} '{path}': expected "
            f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"
        )
    return fmt
