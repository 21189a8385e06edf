"""``fastfrac demo --model minilm --plot``: fidelity against bits per weight.

One PNG drawn with matplotlib's Agg backend, two panels sharing the x axis
(bits per weight over all parameters): 1 - the minimum cosine similarity
and 1 - the Spearman correlation, both on a log scale so that 1e-6 and 1e-2
are both visible.  One line per family alone over p, one for all families,
and the suggested map and the baselines as points.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from fastfrac._errors import UserError

__all__ = ["plot_fidelity"]

_FLOOR = 1e-8  # log scale: an exact match (1 - cos == 0) is drawn at the floor


def plot_fidelity(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], *,
                  title: str) -> None:
    """Write the PNG for the experiment's ``rows`` (:func:`fastfrac.transformer.experiment`)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError('--plot needs matplotlib: pip install "fastfrac[transformer]"') from None

    lines: dict[str, list[Mapping[str, Any]]] = {}
    points = []
    for row in rows:
        if row.get("kind") == "family":
            lines.setdefault(row["family"], []).append(row)
        elif row.get("kind") == "all":
            lines.setdefault("all families", []).append(row)
        elif row.get("kind") in ("suggested", "baseline"):
            points.append(row)
    figure, axes = plt.subplots(1, 2, figsize=(12, 5), sharex=True)
    metrics = [("cos_min", "1 - minimum cosine similarity"), ("spearman", "1 - Spearman correlation")]
    markers = {"suggested": "*", "bfloat16": "s", "float16": "D", "int8 Dense kernels": "^",
               "TFLite dynamic-range int8": "v"}
    for ax, (key, ylabel) in zip(axes, metrics):
        for name, series in lines.items():
            series = sorted(series, key=lambda r: r["p"])
            x = [r["bits_per_weight"] for r in series]
            y = [max(1 - r[key], _FLOOR) for r in series]
            ax.plot(x, y, marker="o", markersize=3, linewidth=1.2, label=name)
            for r, xi, yi in zip(series, x, y):
                ax.annotate(str(r["p"]), (xi, yi), fontsize=6, xytext=(2, 2),
                            textcoords="offset points")
        for row in points:
            suggested = row["kind"] == "suggested"
            ax.plot([row["bits_per_weight"]], [max(1 - row[key], _FLOOR)], linestyle="none",
                    marker=markers["suggested"] if suggested else markers.get(row["name"], "x"),
                    markersize=9, color="black" if suggested else None,
                    label="suggested map" if suggested else row["name"])
        ax.set_yscale("log")
        ax.set_xlabel("bits per weight over all parameters")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    figure.suptitle(f"{title}\n(numbers beside points: p; lower is closer to the original; "
                    f"exact agreement drawn at {_FLOOR:g})",
                    fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120, format="png")
    plt.close(figure)
