"""The plot of ``fastfrac search --plot``: bits per weight against validation MAE.

Every evaluated map as a point, each search's Pareto front as a line, the
research's hand map, the original and TFLite's float16/int8 conversions
(their .tflite files' bytes per parameter, so the graph is counted for them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from fastfrac._errors import UserError

__all__ = ["plot_search"]


def plot_search(
    path: str | os.PathLike[str],
    results: Sequence[tuple[float, Any]],
    hand: Any,
    original: Any,
    rows: Sequence[dict[str, Any]],
) -> None:
    """Draw the search's maps (PNG at ``path``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError('--plot needs matplotlib (pip install "fastfrac[demo]")') from None

    fig, ax = plt.subplots(figsize=(9, 6.5), dpi=110)
    seen = [e for _, r in results for e in r.evaluated]
    ax.scatter([e.bits_per_weight for e in seen], [e.metric for e in seen], s=12, color="0.7",
               label="every map evaluated", zorder=1)
    markers = ("o-", "s-", "^-", "D-")
    for i, (tolerance, result) in enumerate(results):
        front = result.front
        ax.plot([e.bits_per_weight for e in front], [e.metric for e in front],
                markers[i % len(markers)], ms=4, lw=1, zorder=2,
                label=f"Pareto front ({100 * tolerance:g} % search)")
        ax.scatter([result.best.bits_per_weight], [result.best.metric], marker="*", s=180,
                   zorder=4, label=f"best under {100 * tolerance:g} % "
                   f"({result.best.bits_per_weight:.2f} bits/weight)")
        ax.axhline(result.limit, color="0.5", lw=0.7, ls=":", zorder=0)
    ax.scatter([hand.bits_per_weight], [hand.metric], marker="X", s=90, color="black", zorder=5,
               label="research's hand map")
    ax.scatter([original.bits_per_weight], [original.metric], marker="P", s=90, color="tab:green",
               zorder=5, label="original (float32)")
    for row in rows:
        if row["name"].startswith("tflite"):
            ax.scatter([row["bits_per_weight"]], [row["val_mae"]], marker="v", s=70, zorder=5,
                       label=f"{row['name']} (file bytes)")
    ax.set_xlabel("bits per weight (over all parameters)")
    ax.set_yscale("log")  # p = 0 maps sit decades above the budget
    ax.set_ylabel("validation MAE (log scale)")
    ax.set_title("fastfrac search: precision maps of the K-line model")
    ax.grid(alpha=0.3)
    # Below the axes: the interesting points sit in every corner.
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
