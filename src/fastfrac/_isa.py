"""The compiled module, loaded so that a bad ``FASTFRAC_ISA`` cannot break ``import fastfrac``.

_core applies ``FASTFRAC_ISA`` when it loads and raises ImportError for a
value it cannot use, which would take ``fastfrac --help`` down with it.  The
variable is set aside while _core loads and applied here instead: a usable
value at once (so ``_core.selected_isa()`` reports it from the start), a bad
one kept as an error that :func:`kernels` raises, in one line, the first
time (and every time) a kernel is needed.
"""

from __future__ import annotations

import os
from types import ModuleType

from fastfrac._errors import UserError

__all__ = ["SettingError", "core", "kernels"]


class SettingError(UserError, RuntimeError):
    """An environment variable fastfrac cannot use (the command line prints it on one line)."""


def _load() -> tuple[ModuleType, SettingError | None]:
    raw = os.environ.pop("FASTFRAC_ISA", None)
    try:
        from fastfrac import _core
    finally:
        if raw is not None:
            os.environ["FASTFRAC_ISA"] = raw  # child processes still see it
    name = (raw or "").strip().lower()
    if not name:
        return _core, None
    try:
        _core._force_isa(name)
    except ValueError as exc:
        return _core, SettingError(f"FASTFRAC_ISA={raw}: {exc}")
    return _core, None


core, _problem = _load()


def kernels() -> ModuleType:
    """The compiled module, once ``FASTFRAC_ISA`` is known to be usable; SettingError otherwise.

    >>> kernels().selected_isa() in kernels().available_isas()
    True
    """
    if _problem is not None:
        raise _problem.with_traceback(None)
    return core
