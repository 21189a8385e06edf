"""``fastfrac demo --plot``: true against predicted close over consecutive bars.

One PNG drawn with matplotlib's Agg backend (files only, no display), so the
plot works on servers and in CI.  matplotlib is imported only here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from fastfrac._errors import UserError

__all__ = ["plot_close"]

# Line styles by row name; the approximations are drawn dashed over the
# original because they are expected to lie almost on it.
_STYLES: dict[str, dict[str, Any]] = {
    "original": {"color": "tab:blue", "linewidth": 1.6},
    "fastfrac seed map": {"color": "tab:orange", "linewidth": 1.4, "linestyle": "--"},
    "fastfrac p=1": {"color": "tab:green", "linewidth": 1.2, "linestyle": ":"},
}


def plot_close(
    path: str | os.PathLike[str],
    *,
    x: np.ndarray,
    true_close: np.ndarray,
    predicted: Mapping[str, np.ndarray],
    test: np.ndarray,
    title: str,
    xlabel: str,
) -> None:
    """Draw the true close and each model's predicted close against ``x``; write a PNG.

    Parameters
    ----------
    path : path
        The PNG to write.
    x : numpy.ndarray
        One position per bar, in time order: dates or row numbers.
    true_close : numpy.ndarray
        The true close of each bar.
    predicted : mapping
        Row name (``"original"``, ``"fastfrac seed map"``, ...) to the
        predicted close of each bar.
    test : numpy.ndarray of bool
        Which bars are targets of test windows (marked with dots).
    title, xlabel : str
        Say what the bars are and how they were chosen.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError('--plot needs matplotlib (pip install "fastfrac[demo]")') from None
    x = np.asarray(x)
    true_close = np.asarray(true_close)
    test = np.asarray(test, dtype=bool)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    ax.plot(x, true_close, color="black", linewidth=1.2, label="true close")
    ax.plot(x[test], true_close[test], "o", color="black", markersize=3.5,
            label="true close, test bar (not trained on)")
    for name, close in predicted.items():
        ax.plot(x, close, label=f"predicted: {name}", **_STYLES.get(name, {}))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("close")
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if np.issubdtype(x.dtype, np.datetime64):
        fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)
