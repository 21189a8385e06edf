"""Checks on the command's paths before any work: IN readable, no output naming IN or another output.

Two paths name the same file when they have the same device and inode (which
catches another spelling of a path, a symlink and a hard link); a path whose
file does not exist yet is known by its resolved parent directory and its
name, so ``-o out.npz --json ./out.npz`` is caught too.  ``-`` (standard
output) is never a file here.

Examples
--------
>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "in.npz").write_bytes(b"PK")
>>> same_file(folder / "new.npz", folder / "." / "new.npz")
True
>>> check_paths(folder / "in.npz", [("OUT", folder / "out.npz"), ("--json", "-")])
>>> check_paths(folder / "in.npz", [("OUT", folder / "sub" / ".." / "in.npz")])
Traceback (most recent call last):
...
fastfrac._errors.UserError: OUT .../sub/../in.npz is the same file as IN .../in.npz: give OUT another path (nothing was written)
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from fastfrac._errors import UserError

__all__ = ["STDOUT", "check_paths", "check_readable", "file_key", "same_file"]

STDOUT = "-"  # --json - writes to standard output

PathLike = str | os.PathLike[str]


def file_key(path: PathLike) -> tuple[object, ...]:
    """What identifies the file ``path`` names: (device, inode) if it exists, else its resolved path."""
    # The resolved path is what the outputs are written to (a/missing/../b is a/b).
    resolved = os.path.realpath(path)
    for candidate in (path, resolved):
        try:
            st = os.stat(candidate)  # follows symlinks: a link and its target are one file
        except OSError:
            continue
        return ("inode", st.st_dev, st.st_ino)
    # Not there yet: the resolved parent plus the name.
    return ("name", resolved)


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file (existing or to be created)."""
    return file_key(a) == file_key(b)


def check_readable(path: PathLike, role: str = "IN") -> None:
    """Refuse an input that cannot be opened, with the system's reason (permission denied...)."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UserError(f"cannot read {role} {os.fspath(path)}: {exc.strerror or exc}") from None


def check_paths(src: PathLike, outputs: Iterable[tuple[str, PathLike | None]]) -> None:
    """Refuse, before anything is written, outputs naming IN or one another.

    ``outputs`` are (role, path) pairs; None (not given) and ``-`` are skipped.
    IN is checked readable first, so that an unreadable file is reported as
    such rather than as a damaged one.
    """
    check_readable(src)
    seen: dict[tuple[object, ...], tuple[str, str]] = {file_key(src): ("IN", os.fspath(src))}
    for role, path in outputs:
        if path is None or os.fspath(path) == STDOUT:
            continue
        key = file_key(path)
        if key in seen:
            other_role, other = seen[key]
            raise UserError(
                f"{role} {os.fspath(path)} is the same file as {other_role} {other}: "
                f"give {role} another path (nothing was written)"
            )
        seen[key] = (role, os.fspath(path))
