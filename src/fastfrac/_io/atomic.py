"""All-or-nothing output files: written under temporary names, renamed at the end.

A command that writes several files (the model, the fractions container, the
JSON report) asks :class:`AtomicOutputs` for a temporary path beside each
final one.  When the ``with`` block succeeds every temporary file is renamed
over its target; when it fails (an error, Ctrl-C, SIGTERM or SIGHUP turned
into SystemExit) they are all deleted, so no partial output and no temporary
file is left behind.  Renaming within one directory is atomic on POSIX and
Windows, which is why the temporary files live in the target's directory.

What the target is decides how it is written:

- a symlink is followed: the temporary file is made beside the link's
  target and renamed over the target, so the link stays a link;
- an existing regular file keeps its permission bits; a new one gets the
  bits ``open()`` would give it;
- an existing file that is not a regular one (a device such as /dev/null, a
  FIFO) is never replaced: the output is built in the system's temporary
  folder and then written into it.

Temporary names are ``.<name>.fastfrac-<pid>-<random><suffix>``: a process
killed with SIGKILL cannot delete its own, and :func:`leftovers` finds them
(those of a process that no longer runs) so that the next run can name them.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from fastfrac._errors import UserError

__all__ = ["AtomicOutputs", "leftovers", "temporary_owner"]

# Errors that mean "the disk (or a quota, or a file size limit) is full".
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_TEMP_NAME = re.compile(r"^\..+\.fastfrac-(?P<pid>\d+)-[A-Za-z0-9_]+\.[A-Za-z0-9]+$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _default_mode() -> int:
    """The permissions ``open()`` would give a new file (mkstemp's are 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def temporary_owner(name: str) -> int | None:
    """The process id in one of our temporary names; None for any other name.

    >>> temporary_owner(".out.npz.fastfrac-4242-k3j_x9a1.tmp"), temporary_owner("out.npz")
    (4242, None)
    """
    match = _TEMP_NAME.match(name)
    return int(match["pid"]) if match else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def leftovers(finals: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Temporary files of ours, of processes no longer running, where ``finals`` would be written.

    A run killed by SIGKILL (or a power cut) leaves them; a run still going
    in the same folder is not mistaken for one.

    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / ".out.npz.fastfrac-999999999-abcdefgh.tmp").write_bytes(b"half")
    >>> [p.name for p in leftovers([folder / "out.npz"])]
    ['.out.npz.fastfrac-999999999-abcdefgh.tmp']
    """
    found: list[Path] = []
    directories = dict.fromkeys(Path(os.path.realpath(f)).parent for f in finals)
    for directory in directories:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue  # a folder that cannot be listed is reported when written
        for name in names:
            pid = temporary_owner(name)
            if pid is not None and pid != os.getpid() and not _running(pid):
                found.append(directory / name)
    return found


@dataclass(frozen=True)
class _Pending:
    tmp: Path
    target: Path  # the file the output ends up in (a symlink's target)
    direct: bool  # write into target (a device, a FIFO) instead of renaming over it
    mode: int | None  # the existing target's permission bits


def _is_full(exc: BaseException | None) -> bool:
    return isinstance(exc, OSError) and exc.errno in _FULL


class AtomicOutputs:
    """Hand out temporary paths for final ones; commit them together or not at all.

    Examples
    --------
    >>> import pathlib
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
        self._pending: list[_Pending] = []
        self._scratch: list[Path] = []
        self._directories: list[tuple[Path, Path]] = []  # (temporary, final)

    @staticmethod
    def _where(final: Path) -> tuple[Path, bool, int | None]:
        """(the file written, whether it is written directly, its permission bits if it exists)."""
        target = Path(os.path.realpath(final))  # a symlink chain ends at the file replaced
        try:
            st = os.stat(target)
        except OSError:
            return target, False, None
        if stat.S_ISDIR(st.st_mode):
            raise UserError(f"cannot write {final}: it is a directory")
        return target, not stat.S_ISREG(st.st_mode), stat.S_IMODE(st.st_mode)

    def _create(self, target: Path, direct: bool, suffix: str, what: Path) -> Path:
        # A device's folder (/dev) is no place for temporary files: build those elsewhere.
        directory = Path(tempfile.gettempdir()) if direct else target.parent
        prefix = f".{target.name}.fastfrac-{os.getpid()}-"
        try:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
        except OSError as exc:
            raise UserError(f"cannot write {what}: {exc.strerror or exc}") from None
        os.close(fd)
        return Path(name)

    def path_for(self, final: str | os.PathLike[str]) -> Path:
        """An empty temporary file for ``final``, which becomes ``final`` on success."""
        final = Path(final)
        target, direct, mode = self._where(final)
        tmp = self._create(target, direct, ".tmp", final)
        self._pending.append(_Pending(tmp, target, direct, mode))
        return tmp

    def directory_for(self, final: str | os.PathLike[str]) -> Path:
        """An empty temporary directory beside ``final``, renamed to ``final`` on success.

        ``final`` must not exist or be an empty directory (rename(2) replaces
        an empty directory atomically); the caller checks that first, with a
        clearer message.
        """
        final = Path(os.path.abspath(final))
        prefix = f".{final.name}.fastfrac-{os.getpid()}-"
        try:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmpdir", dir=final.parent))
        except OSError as exc:
            raise UserError(f"cannot write {final}: {exc.strerror or exc}") from None
        self._directories.append((tmp, final))
        return tmp

    def scratch(self, beside: str | os.PathLike[str], suffix: str = ".tmp") -> Path:
        """A temporary file where ``beside``'s would be, deleted at the end either way."""
        beside = Path(beside)
        target, direct, _ = self._where(beside)
        tmp = self._create(target, direct, suffix, beside)
        self._scratch.append(tmp)
        return tmp

    def __enter__(self) -> AtomicOutputs:
        return self

    def _commit(self) -> None:
        # Devices and FIFOs first: if one refuses the data (/dev/full), nothing is renamed yet.
        for p in self._pending:
            if p.direct:
                try:
                    with open(p.tmp, "rb") as fin, open(p.target, "wb") as fout:
                        shutil.copyfileobj(fin, fout, 16 << 20)
                except OSError as exc:
                    raise UserError(f"cannot write {p.target}: {exc.strerror or exc}") from None
        default = _default_mode()
        done: list[tuple[Path, Path, bool]] = []
        for tmp, final in self._directories:
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's are 0700; mkdir's would not be
            existed = final.is_dir()  # an empty directory, which the rename replaces
            try:
                os.rename(tmp, final)
            except OSError as exc:  # OUT appeared (or filled) meanwhile
                # All or none: the directories renamed already go back to their
                # temporary names, which __exit__ then removes.
                for back_tmp, back_final, was_there in reversed(done):
                    os.rename(back_final, back_tmp)
                    if was_there:
                        back_final.mkdir()
                raise UserError(f"cannot write {final}: {exc.strerror or exc}") from None
            done.append((tmp, final, existed))
        self._directories = []
        for p in self._pending:
            if not p.direct:
                os.chmod(p.tmp, default if p.mode is None else p.mode)
                os.replace(p.tmp, p.target)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self._commit()
                self._pending = [p for p in self._pending if p.direct]  # renamed ones are gone
        finally:
            for tmp in [p.tmp for p in self._pending] + self._scratch:
                tmp.unlink(missing_ok=True)
            for directory, _ in self._directories:
                shutil.rmtree(directory, ignore_errors=True)
        if _is_full(exc) and not getattr(exc, "filename", None):
            # A write deep in zipfile or NumPy says only "No space left on device": add where.
            where = ", ".join(str(p.target) for p in self._pending) or "the output"
            raise UserError(f"cannot write {where}: {exc.strerror}") from None  # type: ignore[union-attr]
