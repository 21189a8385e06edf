"""The identity of a model file a container's fractions came from: name, size and digest.

``fastfrac approximate --fractions`` records it in the container (version 3)
and ``fastfrac restore`` recomputes it, so a container is never combined with
another file's skeleton.  The digest is computed on a thread while the file
is being approximated (both hashes release the GIL on large buffers), so it
costs the run little wall time, but it does cost CPU time the kernel's team
would otherwise have.

New containers record BLAKE3 under the key ``"blake3"``: on one core of the
2-core machine of docs/codecs.md it hashes 3.6 GB/s where hashlib's SHA-256
does 0.7-1.0 GB/s (4 MB blocks, same run), about 1 CPU-s less on a 1.2 GB
checkpoint.  Containers written before record ``"sha256"``, which
:func:`matches` still checks.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blake3  # the official bindings of the reference implementation (docs above: why)

from fastfrac._errors import UserError

__all__ = ["DIGESTS", "SourceDigest", "describe", "matches"]

_BLOCK = 1 << 22
# Metadata key -> (its name in messages, hash object factory); new containers
# record the first.
DIGESTS: dict[str, tuple[str, Callable[[], Any]]] = {
    "blake3": ("BLAKE3", blake3.blake3),
    "sha256": ("SHA-256", hashlib.sha256),
}


def _hexdigest(path: Path, algorithm: str) -> str:
    digest = DIGESTS[algorithm][1]()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class SourceDigest:
    """Starts hashing ``path`` at once; :meth:`result` waits for it and describes the file.

    ``algorithm`` is a key of :data:`DIGESTS` (default: BLAKE3).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> _ = path.write_bytes(b"abc")
    >>> SourceDigest(path).result()["blake3"][:16]
    '6437b3ac38465133'
    >>> SourceDigest(path, "sha256").result()["sha256"][:16]
    'ba7816bf8f01cfea'
    """

    def __init__(self, path: str | os.PathLike[str], algorithm: str = "blake3") -> None:
        if algorithm not in DIGESTS:
            raise ValueError(f"unknown digest {algorithm!r}; known: {', '.join(DIGESTS)}")
        self.path = Path(path)
        self.algorithm = algorithm
        self._digest: str | None = None
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name=f"fastfrac-{algorithm}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._digest = _hexdigest(self.path, self.algorithm)
        except OSError as exc:
            self._error = exc

    def result(self) -> dict[str, Any]:
        """``{"file": name, "bytes": size, <algorithm>: hex digest}``."""
        self._thread.join()
        if self._error is not None:
            raise UserError(f"cannot read {self.path}: {self._error.strerror or self._error}")
        return {"file": self.path.name, "bytes": self.path.stat().st_size,
                self.algorithm: self._digest}


def describe(path: str | os.PathLike[str], algorithm: str = "blake3") -> dict[str, Any]:
    """:meth:`SourceDigest.result` of ``path``, computed now."""
    return SourceDigest(path, algorithm).result()


def matches(path: str | os.PathLike[str], source: dict[str, Any]) -> str | None:
    """None if ``path`` is the file ``source`` describes (size and digest), else why not.

    The digest is the first of :data:`DIGESTS` that ``source`` records; a
    record with none of them never matches.  The file is hashed only when
    its size is right.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> _ = path.write_bytes(b"abc")
    >>> matches(path, describe(path, "sha256")) is None
    True
    >>> print(matches(path, {"file": "w.npz", "bytes": 3, "blake3": "00" * 32}))
    BLAKE3 6437b3ac38465133..., the container names 'w.npz' with 0000000000000000... (both 3 bytes)
    """
    algorithm = next((a for a in DIGESTS if isinstance(source.get(a), str)), None)
    # The record's values are the container's, untrusted: shown cut short.
    name, size_given = f"{source.get('file')!r:.80}", f"{source.get('bytes')!r:.40}"
    if algorithm is None:
        return f"the container records no digest of {name} that can be checked"
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size != source.get("bytes"):
        return f"{size:,} bytes, the container names {name} with {size_given} bytes"
    got = describe(path, algorithm)[algorithm]
    if got == source[algorithm]:
        return None
    return (f"{DIGESTS[algorithm][0]} {got[:16]}..., the container names {name} "
            f"with {source[algorithm][:16]}... (both {size:,} bytes)")
