"""``fastfrac demo --model minilm``: the transformer experiment of :mod:`fastfrac.transformer`.

The experiment itself lives in the models room; this module adds what the
command line needs: checking the options, claiming the output files before
minutes of work, the JSON report and the plot.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from fastfrac._errors import UserError
from fastfrac._io.atomic import AtomicOutputs

__all__ = ["run_minilm"]


def run_minilm(
    *,
    n_sentences: int,
    family_names: Sequence[str] | None = None,
    ps: Sequence[int] | None = None,
    json_path: str | os.PathLike[str] | None = None,
    plot: str | os.PathLike[str] | None = None,
    progress: str = "auto",
) -> str:
    """Run the MiniLM experiment; return its table (and write ``json_path``, ``plot``).

    With ``family_names``, only those families alone (the CI slice); without,
    the whole experiment: every family alone, all families together, the
    suggested map and the baselines.

    Examples
    --------
    >>> run_minilm(n_sentences=4, family_names=["attention"])
    Traceback (most recent call last):
    ...
    fastfrac._errors.UserError: unknown family 'attention'; the families are: embeddings, attention q/k/v, attention output, feed-forward in, feed-forward out, LayerNorm
    """
    from fastfrac import transformer

    names = None if family_names is None else list(family_names)
    for name in names or []:
        if name not in transformer.FAMILIES:
            raise UserError(f"unknown family {name!r}; the families are: "
                            f"{', '.join(transformer.FAMILIES)}")
    whole = names is None
    import fastfrac

    fastfrac.selected_isa()  # a bad FASTFRAC_ISA fails now, not after loading TensorFlow
    with AtomicOutputs() as outputs:
        json_tmp = outputs.path_for(json_path) if json_path is not None else None
        plot_tmp = outputs.path_for(plot) if plot is not None else None
        result = transformer.experiment(
            n_sentences=n_sentences,
            family_names=names,
            ps=transformer.PS if ps is None else list(ps),
            all_families=whole,
            suggested=whole,
            baselines=transformer.BASELINES if whole else (),
            progress=progress,
            on_row=None if progress == "none" else _say,
        )
        if plot_tmp is not None:
            from fastfrac._apps.minilm_plot import plot_fidelity

            plot_fidelity(plot_tmp, result["rows"], title=_title(result))
        if json_tmp is not None:
            json_tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return transformer.table(result)


def _say(row: dict[str, Any]) -> None:
    # Each row's figures as soon as they are measured: a long run shows its results.
    print(f"fastfrac demo: {row['name']}: {row['bits_per_weight']:.2f} bits/weight, cos min "
          f"{row['cos_min']:.6f}, Spearman {row['spearman']:.6f}", file=sys.stderr, flush=True)


def _title(result: dict[str, Any]) -> str:
    s = result["sentences"]
    return (f"all-MiniLM-L6-v2: {s['count']:,} sentences of the Python {s['python']} "
            "documentation topics")
