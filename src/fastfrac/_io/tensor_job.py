"""Approximate one tensor chunk by chunk, keeping the numbers its report needs.

Readers hand a :class:`TensorJob` the tensor's values a chunk at a time
(:data:`fastfrac._io.formats.CHUNK` elements, so a 10**9-value tensor never sits in memory) and
write back what :meth:`TensorJob.convert` returns.  The job accumulates the
report row -- errors, bits per value, time -- and passes the fractions to the
container writer if there is one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from fastfrac._errors import UserError
from fastfrac._fused import FractionPlanes, approximate_chunk
from fastfrac._io.frames import FRAME
from fastfrac._types import Fractions

__all__ = ["FractionsSink", "TensorJob"]


class FractionsSink(Protocol):
    """Where a job's fractions go (:class:`fastfrac._io.container.TensorSink`)."""

    def add(self, fractions: Fractions, types: tuple[np.dtype, np.dtype] | None = None) -> None: ...

    @property
    def plane_widths(self) -> tuple[int, int] | None: ...

    def add_planes(self, planes: FractionPlanes, types: tuple[np.dtype, np.dtype]) -> None: ...

    def close(self) -> None: ...


class TensorJob:
    """Approximate one tensor's chunks with precision ``p``; :meth:`finish` gives its report row.

    Each value x becomes ``decode(approximate(x, p, mode=mode, dtype=int64),
    digits, x.dtype)``: int64 fractions so the bound is the seed's unclamped
    ``10**p / |x|``, the same decoding as :func:`fastfrac.keras.approximate_model`;
    computed with its errors and bits in one pass
    (:func:`fastfrac._fused.approximate_chunk`).

    Examples
    --------
    >>> job = TensorJob("w", (3,), "float32", p=2, digits=4, mode="decimal")
    >>> job.convert(np.float32([0.1, 3.14159274, -0.5]))  # 1/10, 22/7, -1/2
    array([ 0.1  ,  3.143, -0.5  ], dtype=float32)
    >>> row = job.finish()
    >>> row["count"], round(row["bits_per_value"], 3), round(row["max_abs_error"], 6)
    (3, 6.333, 0.001407)
    """

    def __init__(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: str,
        *,
        p: int,
        digits: int | None,
        mode: str,
        sink: FractionsSink | None = None,
        advance: Callable[[int], Any] | None = None,
        threads: int | None = None,
    ) -> None:
        self.name, self.shape, self.dtype = name, shape, dtype
        self.p, self.digits, self.mode = p, digits, mode
        self._sink, self._advance = sink, advance
        self._threads = threads  # of the kernel; None: fastfrac's default
        self._count = 0
        self._bits = 0
        self._max_abs = 0.0
        self._max_rel = 0.0
        self._start = time.perf_counter()
        self.row: dict[str, Any] | None = None

    def convert(self, values: np.ndarray) -> np.ndarray:
        """The approximated values of one chunk, in the chunk's float type."""
        x = np.asarray(values)
        # Native order and aligned: a memmap view of a file can be neither.
        x = x.astype(x.dtype.newbyteorder("="), copy=not x.flags.aligned)
        # A container that stores byte planes gets them from the pass itself,
        # a frame at a time (no int64 fractions in between).
        planes = None
        if self._sink is not None and x.size <= FRAME:
            planes = self._sink.plane_widths
        try:
            # One compiled pass: finiteness, fractions, decoding, errors, bits.
            result = approximate_chunk(
                x,
                self.p,
                mode=self.mode,  # type: ignore[arg-type]
                digits=self.digits,
                fractions=self._sink is not None and planes is None,
                planes=planes,
                threads=self._threads,
            )
        except ValueError as exc:
            # The index in the kernel's message counts from this chunk's start.
            where = f" (the index counts from element {self._count})" if self._count else ""
            message = str(exc)
            if message.startswith("x has"):  # "x has 3 non-finite values ..."
                message = f"tensor {self.name!r}{message[1:]}{where} -- only finite weights "
                message += "can be approximated; keep it with NAME=-"
            else:
                message = f"tensor {self.name!r}: {message}{where}"
            raise UserError(message) from None
        self._max_abs = max(self._max_abs, result.max_abs_error)
        self._max_rel = max(self._max_rel, result.max_rel_error)
        self._bits += result.bits
        self._count += x.size
        if self._sink is not None and result.planes is not None:
            assert result.fraction_types is not None
            self._sink.add_planes(result.planes, result.fraction_types)
        elif self._sink is not None:
            assert result.fractions is not None
            self._sink.add(result.fractions, result.fraction_types)
        if self._advance is not None:
            self._advance(x.size)
        return result.values

    def finish(self) -> dict[str, Any]:
        """The report row: name, shape, dtype, count, p, digits, errors, bits, seconds.

        ``bits_per_value`` is :func:`fastfrac._bits.fraction_bits` over the
        count, as in :func:`fastfrac.keras.approximate_model`'s report;
        ``max_rel_error`` is over the nonzero values.  Also kept as
        ``self.row``.
        """
        if self._sink is not None:
            self._sink.close()
        self.row = {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "count": self._count,
            "p": self.p,
            "digits": "exact" if self.digits is None else self.digits,
            "max_abs_error": self._max_abs,
            "max_rel_error": self._max_rel,
            "bits_per_value": self._bits / self._count if self._count else None,
            "seconds": time.perf_counter() - self._start,
        }
        return self.row
