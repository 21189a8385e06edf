"""How many bytes a tensor's values take, from its type as the file spells it.

Progress is counted in bytes (a checkpoint's size is what a user knows) and
``fastfrac inspect`` reports each tensor's bytes; both need the size of
types NumPy lacks (bfloat16, float8, the packed sub-byte ones), which the
safetensors reader's table of bits per value knows.

>>> from fastfrac._io.formats import TensorInfo
>>> tensor_bytes(TensorInfo("w", "w", (3, 4), "BF16", None))
24
>>> tensor_bytes(TensorInfo("w", "w", (3,), "F4", None)), tensor_bytes(TensorInfo("w", "w", (2,), "<f8", None))
(2, 16)
"""

from __future__ import annotations

import numpy as np

from fastfrac._io.formats import TensorInfo
from fastfrac._io.safetensors import BITS

__all__ = ["tensor_bytes"]


def tensor_bytes(tensor: TensorInfo) -> int:
    """Bytes of ``tensor``'s values (packed types rounded up to whole bytes); 0 if unknown."""
    bits = BITS.get(tensor.dtype)
    if bits is None:
        try:
            bits = np.dtype(tensor.dtype).itemsize * 8
        except TypeError:  # a type no reader could size ("?": not an array NumPy can read)
            return 0
    return (tensor.size * bits + 7) // 8
