"""All-or-nothing output files: written under temporary names, renamed at the end.

A command that writes several files (the model, the fractions container, the
JSON report) asks :class:`AtomicOutputs` for a temporary path beside each
final one.  When the ``with`` block succeeds every temporary file is renamed
over its target; when it fails (an error, Ctrl-C, SIGTERM turned into
SystemExit) they are all deleted, so no partial output and no temporary file
is left behind.  Renaming within one directory is atomic on POSIX and
Windows, which is why the temporary files live in the target's directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType

from fastfrac._errors import UserError

__all__ = ["AtomicOutputs"]


def _default_mode() -> int:
    """The permissions ``open()`` would give a new file (mkstemp's are 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class AtomicOutputs:
    """Hand out temporary paths for final ones; commit them together or not at all.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with AtomicOutputs() as outputs:
    ...     tmp = outputs.path_for(folder / "out.txt")
    ...     _ = tmp.write_text("done")
    >>> sorted(p.name for p in folder.iterdir())
    ['out.txt']
    >>> try:
    ...     with AtomicOutputs() as outputs:
    ...         _ = outputs.path_for(folder / "other.txt").write_text("half")
    ...         raise RuntimeError("failed")
    ... except RuntimeError:
    ...     pass
    >>> sorted(p.name for p in folder.iterdir())
    ['out.txt']
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []  # (temporary, final)
        self._scratch: list[Path] = []

    def _create(self, directory: Path, prefix: str, suffix: str, what: Path) -> Path:
        try:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
        except OSError as exc:
            raise UserError(f"cannot write {what}: {exc.strerror or exc}") from None
        os.close(fd)
        return Path(name)

    def path_for(self, final: str | os.PathLike[str]) -> Path:
        """An empty temporary file beside ``final``, renamed to it on success."""
        final = Path(final)
        if final.is_dir():
            raise UserError(f"cannot write {final}: it is a directory")
        for _, other in self._pending:
            if other.resolve() == final.resolve():
                raise UserError(f"{final} is given as two different outputs")
        tmp = self._create(final.parent, f".{final.name}.", ".tmp", final)
        self._pending.append((tmp, final))
        return tmp

    def scratch(self, beside: str | os.PathLike[str], suffix: str = ".tmp") -> Path:
        """A temporary file in ``beside``'s directory, deleted at the end either way."""
        beside = Path(beside)
        tmp = self._create(beside.parent, f".{beside.name}.", suffix, beside)
        self._scratch.append(tmp)
        return tmp

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                mode = _default_mode()
                for tmp, final in self._pending:
                    os.chmod(tmp, mode)
                    os.replace(tmp, final)
                self._pending.clear()
        finally:
            for tmp in [t for t, _ in self._pending] + self._scratch:
                tmp.unlink(missing_ok=True)
