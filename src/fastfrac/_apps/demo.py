"""``fastfrac demo``: the seed experiment end to end, from the command line.

With no arguments: Microsoft's daily bars that ship inside pmdarima
(:func:`fastfrac.kline.load_builtin_ohlc`, read offline), the seed's
CNN-BiLSTM-Attention network trained on them for a few epochs with fixed
seeds, then :func:`fastfrac.kline.compare`'s table (original, persistence,
fastfrac with the seed's map and with p=1, TFLite float32/float16/int8) and
the kernel's time beside the pure-Python reference's on the same weights.
With ``--data`` and ``--weights``: the seed's own files, no training, which
reproduces the seed's figures.

This module only orchestrates: the task lives in :mod:`fastfrac.kline`, the
timing in :mod:`fastfrac._apps.reference_timing`, the plot in
:mod:`fastfrac._apps.demo_plot`.  TensorFlow, pandas, scikit-learn and pmdarima
load only here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fastfrac._errors import UserError
from fastfrac._io.atomic import AtomicOutputs

__all__ = ["DEFAULT_EPOCHS", "DEFAULT_SEED", "PLOT_BARS", "run_demo"]

# The seed notebook trained 10 epochs; on the built-in data (6,370 training
# windows) that is about 50 s of the demo's 1.5-2.5 minutes on 2 cores.
DEFAULT_EPOCHS = 10
DEFAULT_SEED = 0
PLOT_BARS = 100
# The row whose approximation is redone with the pure-Python reference.
TIMED_ROW = "fastfrac seed map"


class _Progress:
    """Steps and training epochs as rich progress lines on stderr, or nothing.

    Each step is a line with a spinner and its elapsed time, frozen when the
    next step starts; training is a bar over the epochs.  The lines stay on
    screen, so the run's time per step is visible above the table.
    """

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self._enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                SpinnerColumn(finished_text="[green]done"),
                TextColumn("{task.description}"),
                BarColumn(bar_width=24),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._finish()
            self._bar.stop()

    def _finish(self) -> None:
        if self._task is not None:
            task = self._bar.tasks[self._task]
            total = task.total if task.total is not None else 1
            self._bar.update(self._task, total=total, completed=total)
            self._bar.stop_task(self._task)
            self._task = None

    def step(self, text: str) -> None:
        """A new step with no known length (a pulsing bar)."""
        if self._bar is not None:
            self._finish()
            self._task = self._bar.add_task(text, total=None)

    def epochs(self, total: int) -> None:
        """A training step of ``total`` epochs; :meth:`epoch_done` advances it."""
        if self._bar is not None:
            self._finish()
            self._task = self._bar.add_task(f"training: epoch 0/{total}", total=total)

    def epoch_done(self, epoch: int, loss: float) -> None:
        if self._bar is not None and self._task is not None:
            total = self._bar.tasks[self._task].total
            self._bar.update(self._task, completed=epoch,
                             description=f"training: epoch {epoch}/{total:.0f}, loss {loss:.3g}")


def _import_task() -> Any:
    """fastfrac.kline with its dependencies importable, or a one-line UserError."""
    # TensorFlow's C++ log: level 3 also hides the "NodeDef mentions attribute
    # use_unbounded_threadpool" error TF 2.21 logs for every tf.data pipeline,
    # which is harmless; real failures still raise Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import keras  # noqa: F401  (the import check; kline imports it when needed)
        import pandas  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f'the demo needs {exc.name} (pip install "fastfrac[demo]")'
        ) from None
    import tensorflow as tf

    # Each of the demo's models traces its own predict function, which
    # TensorFlow's Python logger reports as "excessive retracing": expected here.
    tf.get_logger().setLevel(logging.ERROR)
    from fastfrac import kline

    return kline


def _load_data(kline: Any, data: Path | None) -> tuple[Any, dict[str, Any]]:
    """The bars (open, close, high, low) and a description of them."""
    if data is None:
        try:
            ohlc = kline.load_builtin_ohlc()
        except ImportError as exc:
            raise UserError(f"{exc} or give --data CSV") from None
        first, last = (str(d.date()) for d in (ohlc.index[0], ohlc.index[-1]))
        info = {
            "source": kline.BUILTIN_SOURCE,
            "description": f"Microsoft (MSFT) daily bars {first} to {last}, shipped in the "
                           "pmdarima package (MIT)",
        }
    else:
        try:
            ohlc = kline.load_ohlc(data)
        except ValueError as exc:  # wrong columns
            raise UserError(str(exc)) from None
        info = {"source": str(data), "description": f"K-line bars from {data}"}
    return ohlc, {**info, "rows": len(ohlc)}


def _seeded_build(kline: Any, seed: int) -> Any:
    """The seed's network with initial weights fixed by ``seed``, TensorFlow made deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    # Deterministic kernels where TensorFlow has a choice; on CPU it costs
    # nothing measurable here.  Process-wide, which suits a command.
    tf.config.experimental.enable_op_determinism()
    return kline.build_model()


def _trained(
    kline: Any, prepared: Any, epochs: int, seed: int, show: _Progress
) -> tuple[Any, dict[str, Any]]:
    """A model trained here and a description of how."""
    model = _seeded_build(kline, seed)
    losses: list[float] = []

    def on_epoch(epoch: int, loss: float) -> None:
        losses.append(loss)
        show.epoch_done(epoch, loss)

    show.epochs(epochs)
    start = time.perf_counter()
    kline.train(model, prepared, epochs=epochs, seed=seed, on_epoch=on_epoch)
    info = {
        "weights": "trained here",
        "epochs": epochs,
        "seed": seed,
        "training": "Adam, mean squared error of the scaled bars, batches of 64 "
                    "(the seed notebook's settings), on the training windows only",
        "final_loss": losses[-1] if losses else None,
        "training_seconds": time.perf_counter() - start,
    }
    return model, info


def _close_over_time(
    kline: Any, comparison: Any, model: Any, prepared: Any, dates: Any, bars: int
) -> dict[str, Any]:
    """The last ``bars`` consecutive windows' true and predicted close, in time order.

    The seed's split is shuffled, so no stretch of consecutive bars is all
    test bars: the stretch mixes training and test windows, and says which.
    """
    n_windows = len(prepared.series) - prepared.x_test.shape[1]
    index = np.arange(max(0, n_windows - bars), n_windows)
    x, y = prepared.windows(index)
    close = kline.CLOSE
    models = {"original": model, **comparison.models}
    # A direct call, not predict(): a hundred windows need no batching, and
    # predict() would trace one more function per model (TensorFlow warns).
    x32 = x.astype(np.float32)  # what predict() would feed
    predicted = {name: np.asarray(m(x32, training=False)) for name, m in models.items()}
    target_rows = index + x.shape[1]  # the row each window predicts
    return {
        "x": dates[target_rows] if dates is not None else target_rows,
        "true_close": prepared.unscale(y)[:, close],
        "predicted": {k: prepared.unscale(v)[:, close] for k, v in predicted.items()},
        "test": np.isin(index, prepared.test_index),
    }


def _header(data_info: dict[str, Any], model_info: dict[str, Any], prepared: Any) -> str:
    if model_info["weights"] == "trained here":
        epochs = model_info["epochs"]
        how = (f"trained here for {epochs} epoch{'s' * (epochs != 1)} (seed {model_info['seed']}, "
               f"final training loss {model_info['final_loss']:.3g})")
    else:
        how = f"weights from {model_info['weights']}"
    return (
        f"data: {data_info['description']}; {data_info['rows']:,} bars, "
        f"{len(prepared.test_index):,} test windows (shuffled split, as the seed).\n"
        f"model: the seed's CNN-BiLSTM-Attention network, {how}.\n"
    )


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """ValueError from reading the seed's files, as a one-line UserError."""
    try:
        yield
    except ValueError as exc:
        raise UserError(str(exc)) from None


def run_demo(
    data: str | os.PathLike[str] | None = None,
    weights: str | os.PathLike[str] | None = None,
    *,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
    json_path: str | os.PathLike[str] | None = None,
    plot: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> str:
    """Run the experiment; returns the text to print and writes the JSON and plot if asked.

    Parameters
    ----------
    data : path, optional
        A K-line CSV (:func:`fastfrac.kline.load_ohlc`); the built-in MSFT
        bars when None.
    weights : path, optional
        The seed's trained weight files (needs ``data``); when None the
        network is trained here.
    epochs : int, optional
        Training epochs (default :data:`DEFAULT_EPOCHS`); not with ``weights``.
    seed : int
        Fixes the initial weights, the shuffling and the dropout.
    json_path : path, optional
        Where to write ``{"rows": [...], "reference": {...}, "data": {...},
        "model": {...}, ...}``.
    plot : path, optional
        Where to draw true vs predicted close over the last
        :data:`PLOT_BARS` bars (PNG).
    progress : bool
        Show the steps and epochs on stderr (for a terminal).

    Raises
    ------
    UserError
        ``weights`` without ``data`` or with ``epochs``, bad files, a
        missing dependency.

    Examples
    --------
    >>> run_demo(weights="seed")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fastfrac._errors.UserError: --weights needs --data: ...
    """
    if weights is not None and data is None:
        raise UserError("--weights needs --data: the data the weights were trained for")
    if weights is not None and epochs is not None:
        raise UserError("--epochs trains the network here; it does not go with --weights")
    data = None if data is None else Path(data)
    import fastfrac

    fastfrac.selected_isa()  # a bad FASTFRAC_ISA fails now, not after loading TensorFlow
    with AtomicOutputs() as outputs, _Progress(progress) as show:
        # Claim the outputs first: an unwritable path fails before minutes of work.
        json_tmp = outputs.path_for(json_path) if json_path is not None else None
        plot_tmp = outputs.path_for(plot) if plot is not None else None
        show.step("loading TensorFlow and the data")
        kline = _import_task()
        ohlc, data_info = _load_data(kline, data)
        with _user_errors():
            prepared = kline.prepare(ohlc)
        if weights is not None:
            with _user_errors():
                model = kline.load_seed_weights(kline.build_model(), weights)
            model_info: dict[str, Any] = {"weights": str(weights)}
        else:
            model, model_info = _trained(kline, prepared, epochs or DEFAULT_EPOCHS, seed, show)
        model_info = {"architecture": "CNN-BiLSTM-Attention (fastfrac.kline.build_model)",
                      "parameters": int(model.count_params()), **model_info}
        comparison = kline.compare(model, prepared, status=show.step)
        show.step("the same approximation with the pure-Python reference")
        from fastfrac._apps.reference_timing import time_reference

        timing = time_reference(model, comparison.reports[TIMED_ROW])
        if plot_tmp is not None:
            show.step("drawing the plot")
            from fastfrac._apps.demo_plot import plot_close

            dates = ohlc.index.to_numpy() if data is None else None
            series = _close_over_time(kline, comparison, model, prepared, dates, PLOT_BARS)
            where = "MSFT daily bars" if data is None else f"bars of {data.name}"
            plot_close(
                plot_tmp,
                **series,
                title=f"{where}: the last {len(series['x'])} consecutive bars, predicted from "
                      "the 20 bars before each\n(shuffled split: training and test windows "
                      "interleave; test bars marked)",
                xlabel="date" if dates is not None else "row of the CSV",
            )
        if json_tmp is not None:
            report = {
                **comparison.to_dict(),
                "reference": {"row": TIMED_ROW, **timing.to_dict()},
                "data": {**data_info, "test_windows": len(prepared.test_index)},
                "model": model_info,
            }
            json_tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return f"{_header(data_info, model_info, prepared)}\n{comparison}\n{TIMED_ROW}: {timing}"
