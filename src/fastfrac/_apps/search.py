"""``fastfrac search``: choose the K-line model's precision map under an MAE budget.

The model and data are the demo's (the built-in MSFT task, or the research's
own ``--data`` and ``--weights``).  Tuning is honest: the search scores maps
on validation windows carved from the training windows
(:func:`fastfrac.kline.validation_split`), and the maps it finds are then
reported on the test windows the demo uses, beside the research's hand map,
the original and TFLite's float16 and int8 conversions measured on the same
windows.

This module only orchestrates: the search is :mod:`fastfrac.search`, the
task :mod:`fastfrac.kline`, the plot :mod:`fastfrac._apps.search_plot`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastfrac._errors import UserError
from fastfrac._io.atomic import AtomicOutputs
from fastfrac._io.container import version_for
from fastfrac._progress import Progress
from fastfrac._tables import Column, format_table, format_value

__all__ = ["DEFAULT_TOLERANCES", "parse_tolerance", "run_search"]

# The two budgets: 0.1 % and 1 % of the original validation MAE.
DEFAULT_TOLERANCES = (0.001, 0.01)
VALIDATION_FRACTION = 0.1


def parse_tolerance(text: str) -> float:
    """``"1%"`` -> 0.01, ``"0.002"`` -> 0.002 (a fraction of the original MAE).

    >>> parse_tolerance("0.1%"), parse_tolerance("0.02")
    (0.001, 0.02)
    """
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 10.0 or value != value:
        raise UserError(f"a tolerance is a fraction like 0.01 or a percentage like 1%, not {text!r}")
    return value


_ROW_COLUMNS: list[Column] = [
    ("name", "map", format_value),
    ("val_mae", "validation MAE", lambda v: format_value(v, ".10f")),
    ("test_mae", "test MAE", lambda v: format_value(v, ".10f")),
    ("test_change", "test vs original %", lambda v: format_value(v, "+.3f")),
    ("bits_per_weight", "bits/weight", lambda v: format_value(v, ".2f")),
    ("bytes", "bytes", lambda v: format_value(v, ",d")),
    ("spec", "SPEC", format_value),
]


def _tflite_rows(kline: Any, model: Any, val: Any, test: Any, say: Callable[[str], None]) -> list[dict]:
    from fastfrac import tflite

    unrolled = kline.build_model(unroll=True)
    unrolled.set_weights(model.get_weights())
    parameters = int(model.count_params())
    rows = []
    for quantization in ("float16", "int8"):
        say(f"converting to TFLite {quantization}")
        flatbuffer = tflite.convert(unrolled, quantization)
        metrics = {name: kline.evaluate(tflite.predict(flatbuffer, p.x_test.astype(np.float32)), p)["mae"]
                   for name, p in (("val", val), ("test", test))}
        rows.append({"name": f"tflite {quantization}", "val_mae": metrics["val"],
                     "test_mae": metrics["test"], "bits_per_weight": 8.0 * len(flatbuffer) / parameters,
                     "bytes": len(flatbuffer), "spec": None, "counted": ".tflite file, graph included"})
    return rows


def run_search(
    data: str | os.PathLike[str] | None = None,
    weights: str | os.PathLike[str] | None = None,
    *,
    tolerances: Sequence[float] = DEFAULT_TOLERANCES,
    ps: Sequence[int] = range(0, 7),
    tflite: bool = True,
    json_path: str | os.PathLike[str] | None = None,
    plot: str | os.PathLike[str] | None = None,
    progress: str = "none",
) -> str:
    """Run the sensitivity table and one search per tolerance; returns the text to print.

    Parameters
    ----------
    data, weights : path, optional
        As for ``fastfrac demo``: the research's data.csv and weights_npy, or
        (both None) the built-in task.
    tolerances : sequence of float
        Budgets as fractions of the original validation MAE.
    ps : sequence of int
        Precisions each layer may take.
    tflite : bool
        Also measure TFLite float16 and int8 (a few seconds each).
    json_path, plot : path, optional
        Where to write the JSON report / the PNG plot.
    progress : {"none", "auto", "bar", "plain"}
        Progress on stderr (:class:`fastfrac._progress.Progress`).

    Examples
    --------
    >>> run_search(weights="seed")
    Traceback (most recent call last):
    ...
    fastfrac._errors.UserError: --weights needs --data: the data the weights were trained for
    """
    if weights is not None and data is None:
        raise UserError("--weights needs --data: the data the weights were trained for")
    if not tolerances:
        raise UserError("give at least one --tolerance")
    import fastfrac
    from fastfrac._apps import demo

    fastfrac.selected_isa()  # a bad FASTFRAC_ISA fails now, not after loading TensorFlow
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        outputs = stack.enter_context(AtomicOutputs())
        show = stack.enter_context(Progress(progress, prefix="fastfrac search"))
        say = show.start
        json_tmp = outputs.path_for(json_path) if json_path is not None else None
        plot_tmp = outputs.path_for(plot) if plot is not None else None
        say("loading TensorFlow, the data and the model")
        kline = demo.import_task()
        ohlc, data_info = demo.load_data(kline, None if data is None else Path(data))
        with demo.user_errors():
            prepared = kline.prepare(ohlc)
            val = kline.validation_split(prepared, fraction=VALIDATION_FRACTION)
        model, model_info = demo.load_model(kline, prepared, weights, show)
        model_info["summary"] = (f"the research's weights from {weights}" if weights is not None
                                 else "the demo's network (weights shipped with fastfrac)")

        from fastfrac import keras as ffkeras
        from fastfrac import search

        def val_mae(m: Any) -> float:
            return kline.evaluate(kline.predict(m, val), val)["mae"]

        results = []
        previous = None
        for tolerance in tolerances:
            say(f"searching under {100 * tolerance:g} % of the validation MAE")
            result = ffkeras.search_precision(
                model, val_mae, tolerance=tolerance, ps=ps, progress=show.rename,
                **({"reuse": previous} if previous is not None else {}),
            )
            results.append((tolerance, result))
            previous = result

        first = results[0][1]
        hand = first.measure({g: kline.SEED_PRECISION.get(g, search.KEEP) for g in first.sensitivity.members})
        original = first.measure({})

        # The containers are only measured: written to the system's temporary folder.
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fastfrac-"))) / "f.npz"

        def on_test(precision: dict[str, Any]) -> tuple[float, int]:
            """The map's test MAE and its fractions container's real size in bytes."""
            approximated, report = ffkeras.approximate_model(
                model, {g: (None if o == search.KEEP else o) for g, o in precision.items()})
            size = ffkeras.save_fractions(report, scratch)
            return kline.evaluate(kline.predict(approximated, prepared), prepared)["mae"], size

        say("measuring the maps on the test windows")
        original_test = kline.evaluate(kline.predict(model, prepared), prepared)["mae"]
        rows = [{"name": "original", "val_mae": original.metric, "test_mae": original_test,
                 "bits_per_weight": original.bits_per_weight, "bytes": 4 * int(model.count_params()),
                 "spec": None}]
        mae, size = on_test(hand.precision)
        rows.append({"name": "research's hand map", "val_mae": hand.metric, "test_mae": mae,
                     "bits_per_weight": hand.bits_per_weight, "bytes": size, "spec": hand.spec()})
        for tolerance, result in results:
            mae, size = on_test(result.best.precision)
            rows.append({"name": f"search, {100 * tolerance:g} % budget", "val_mae": result.best.metric,
                         "test_mae": mae, "bits_per_weight": result.best.bits_per_weight,
                         "bytes": size, "spec": result.best.spec(),
                         "evaluations": result.evaluations, "seconds": result.seconds})
        if tflite:
            rows += _tflite_rows(kline, model, val, prepared, say)
        for row in rows:
            row["test_change"] = 100.0 * (row["test_mae"] - original_test) / original_test

        # The text: what was searched, the sensitivity table, each search, the comparison.
        lines = [
            f"data: {data_info['description']}; {len(val.test_index):,} validation windows carved "
            f"from the training windows ({100 * VALIDATION_FRACTION:g} %, seed 0), "
            f"{len(prepared.test_index):,} test windows (the demo's).",
            f"model: {model_info.get('summary', model_info.get('weights'))}.",
            "metric: validation MAE; groups: one per layer with weights (BatchNormalization "
            "included); bits/weight over all "
            f"{int(model.count_params()):,} parameters "
            "(fraction bits; untouched weights at 32).",
            "",
            "sensitivity (one layer approximated at a time):",
            str(first.sensitivity),
            "",
        ]
        for tolerance, result in results:
            lines += [f"search under {100 * tolerance:g} % of the original validation MAE:",
                      str(result), ""]
        lines += ["on the test windows:", format_table(rows, _ROW_COLUMNS),
                  "bits/weight: fastfrac rows count fraction bits per parameter (untouched weights "
                  "at 32); tflite rows the .tflite file's bytes (graph included) per parameter.",
                  "bytes: original = float32 weights; fastfrac rows = the fractions container "
                  f"(version {version_for(scratch)}, every weight in it); tflite = the .tflite file.",
                  f"whole run {time.perf_counter() - started:.1f} s."]
        text = "\n".join(lines)

        if json_tmp is not None:
            report = {
                "data": {**data_info, "validation_windows": len(val.test_index),
                         "test_windows": len(prepared.test_index)},
                "model": model_info,
                "rows": rows,
                "searches": [{"tolerance": t, **r.to_dict()} for t, r in results],
                "hand_map": hand.to_dict(),
                "seconds": time.perf_counter() - started,
            }
            json_tmp.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        if plot_tmp is not None:
            from fastfrac._apps.search_plot import plot_search

            plot_search(plot_tmp, results, hand, original, rows)
    return text
