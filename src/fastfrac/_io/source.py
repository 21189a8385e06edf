"""The identity of a model file a container's fractions came from: name, size and SHA-256.

``fastfrac approximate --fractions`` records it in the container (version 3)
and ``fastfrac restore`` recomputes it, so a container is never combined with
another file's skeleton.  The digest is computed on a thread while the file
is being approximated (hashlib releases the GIL on large buffers), so it
costs the run little wall time: about 1 s per GB on one core.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from fastfrac._errors import UserError

__all__ = ["SourceDigest", "describe"]

_BLOCK = 1 << 22


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class SourceDigest:
    """Starts hashing ``path`` at once; :meth:`result` waits for it and describes the file.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> _ = path.write_bytes(b"abc")
    >>> SourceDigest(path).result()["sha256"][:16]
    'ba7816bf8f01cfea'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._digest: str | None = None
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="fastfrac-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._digest = _sha256(self.path)
        except OSError as exc:
            self._error = exc

    def result(self) -> dict[str, Any]:
        """``{"file": name, "bytes": size, "sha256": hex digest}``."""
        self._thread.join()
        if self._error is not None:
            raise UserError(f"cannot read {self.path}: {self._error.strerror or self._error}")
        return {"file": self.path.name, "bytes": self.path.stat().st_size, "sha256": self._digest}


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """:meth:`SourceDigest.result` of ``path``, computed now."""
    return SourceDigest(path).result()
