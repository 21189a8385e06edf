"""``python -m fastfrac``: the ``fastfrac`` command (see :mod:`fastfrac.cli`)."""

from __future__ import annotations

import sys

from fastfrac.cli import main

if __name__ == "__main__":
    sys.exit(main())
