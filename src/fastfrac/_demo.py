"""``fastfrac demo``: the seed experiment's comparison table, from the command line.

A thin shell around :func:`fastfrac.kline.compare`: read the K-line CSV,
rebuild the seed's network with its trained weights, and print the table of
the original model, the persistence forecast, the fastfrac approximations and
the TFLite conversions, measured on the same test windows.  TensorFlow, pandas
and scikit-learn load only here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastfrac._atomic import AtomicOutputs
from fastfrac._errors import UserError

__all__ = ["run_demo"]


def _plot(comparison: Any, path: Path) -> None:
    """MAE against bits per weight, one point per row; persistence as a line."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("--plot needs matplotlib (pip install matplotlib)") from None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in comparison.rows:
        if row["bits_per_weight"] is None:  # persistence: no model, no size
            ax.axhline(row["mae"], color="grey", linestyle="--", linewidth=1, label=row["name"])
        else:
            ax.scatter(row["bits_per_weight"], row["mae"], label=row["name"])
    ax.legend(fontsize="small")  # a legend: several rows sit too close to label in place
    ax.set_xlabel("bits per weight (file size x 8 / parameters)")
    ax.set_ylabel("MAE on the test windows")
    ax.set_title("K-line model: accuracy against size")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)


def run_demo(
    data: str | os.PathLike[str] | None,
    weights: str | os.PathLike[str] | None,
    *,
    epochs: int | None = None,
    json_path: str | os.PathLike[str] | None = None,
    plot: str | os.PathLike[str] | None = None,
    status: Any = None,
) -> str:
    """The comparison table as text; also writes the JSON and the plot when asked.

    Parameters
    ----------
    data : path
        The K-line CSV (:func:`fastfrac.kline.load_ohlc`).
    weights : path
        The seed's weight files (:func:`fastfrac.kline.load_seed_weights`).
    epochs : int, optional
        Train instead of loading weights: refused until fastfrac.kline can.
    json_path, plot : path, optional
        Where to write the table as JSON / the MAE-against-size plot (PNG).
    status : callable, optional
        Told in a few words what is being done (a spinner on a terminal).

    Examples
    --------
    >>> run_demo(None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fastfrac._errors.UserError: give --data CSV and --weights DIR (the seed's data.csv ...
    """
    if epochs is not None:
        raise UserError(
            "--epochs (training the network here) is not available yet: fastfrac.kline "
            "has no training function; give the trained weights with --weights"
        )
    if data is None or weights is None:
        raise UserError(
            "give --data CSV and --weights DIR (the seed's data.csv and weights folder); "
            "a built-in demo data set is not available yet"
        )
    say = status or (lambda text: None)
    with AtomicOutputs() as outputs:
        # Claim the outputs first: an unwritable path fails before minutes of work.
        json_tmp = outputs.path_for(json_path) if json_path is not None else None
        plot_tmp = outputs.path_for(plot) if plot is not None else None
        say("loading TensorFlow and the data")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info lines
        from fastfrac import kline

        try:
            prepared = kline.prepare(kline.load_ohlc(data))
            model = kline.load_seed_weights(kline.build_model(), weights)
        except ValueError as exc:  # wrong columns, missing or extra weight files
            raise UserError(str(exc)) from None
        say("measuring the original, fastfrac and TFLite models")
        comparison = kline.compare(model, prepared)
        if json_tmp is not None:
            report = {"data": str(data), "weights": str(weights), **comparison.to_dict()}
            json_tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if plot_tmp is not None:
            _plot(comparison, plot_tmp)
    return str(comparison)
