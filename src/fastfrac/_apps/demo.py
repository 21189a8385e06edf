"""``fastfrac demo``: the seed experiment end to end, from the command line.

With no arguments: Microsoft's daily bars that ship inside pmdarima
(:func:`fastfrac.kline.load_builtin_ohlc`, read offline), the seed's
CNN-BiLSTM-Attention network with the weights shipped in this package
(trained once on those bars; ``--train`` trains it here instead), then :func:`fastfrac.kline.compare`'s table (original, persistence,
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
from fastfrac._progress import Progress

__all__ = ["DEFAULT_EPOCHS", "DEFAULT_SEED", "PLOT_BARS", "SHIPPED_WEIGHTS", "run_demo"]

# The seed notebook trained 10 epochs; on the built-in data (6,370 training
# windows) that is about a minute on 2 cores (--train).
DEFAULT_EPOCHS = 10
DEFAULT_SEED = 0
# The network trained once on the built-in bars (DEFAULT_EPOCHS, DEFAULT_SEED),
# keyed by each weight's path, with how it was made under "__training__".
# Training is not reproducible across CPUs; inference on fixed weights is, to
# far more than the table's 6 digits, so the default demo reads these.
SHIPPED_WEIGHTS = Path(__file__).with_name("demo_weights.npz")
PLOT_BARS = 100
# The row whose approximation is redone with the pure-Python reference.
TIMED_ROW = "fastfrac seed map"


def import_task() -> Any:
    """fastfrac.kline with its dependencies importable, or a one-line UserError."""
    # TensorFlow's own log lines are silenced by the command line
    # (fastfrac._apps.quiet), unless --debug asks for them.
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


def load_data(kline: Any, data: Path | None) -> tuple[Any, dict[str, Any]]:
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


def _shipped(kline: Any) -> tuple[Any, dict[str, Any]]:
    """The network with the weights shipped in the package, and how they were trained."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()  # as for training: fixed kernels
    model = kline.build_model()
    with np.load(SHIPPED_WEIGHTS, allow_pickle=False) as stored:
        training = json.loads(str(stored["__training__"]))
        names = {w.path for w in model.weights}
        if names != set(stored.files) - {"__training__"}:
            raise UserError(f"{SHIPPED_WEIGHTS} does not hold this network's weights; "
                            "reinstall fastfrac or use --train")
        for weight in model.weights:
            weight.assign(stored[weight.path])
    info = {
        "weights": "shipped with fastfrac",
        "epochs": training["epochs"],
        "seed": training["seed"],
        "final_loss": training["final_loss"],
        "made_with": training["made_with"],
    }
    return model, info


def _trained(
    kline: Any, prepared: Any, epochs: int, seed: int, show: Progress
) -> tuple[Any, dict[str, Any]]:
    """A model trained here and a description of how."""
    model = _seeded_build(kline, seed)
    losses: list[float] = []

    def on_epoch(epoch: int, loss: float) -> None:
        losses.append(loss)
        show.update(epoch, note=f"loss {loss:.3g}")

    show.start("training", total=epochs, unit="epochs")
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


def load_model(
    kline: Any,
    prepared: Any,
    weights: str | os.PathLike[str] | None,
    show: Progress,
    *,
    train: bool = False,
    epochs: int | None = None,
    seed: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The network of the demo (and of ``fastfrac search``) and a description of it.

    The research's weights when ``weights`` is given; trained here when
    ``train``; otherwise the weights shipped with fastfrac.
    """
    if weights is not None:
        with user_errors():
            model = kline.load_seed_weights(kline.build_model(), weights)
        return model, {"weights": str(weights)}
    if train:
        return _trained(kline, prepared, epochs or DEFAULT_EPOCHS,
                        DEFAULT_SEED if seed is None else seed, show)
    return _shipped(kline)


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
    elif model_info["weights"] == "shipped with fastfrac":
        how = (f"weights shipped with fastfrac (trained once on these bars for "
               f"{model_info['epochs']} epochs, seed {model_info['seed']}, final training loss "
               f"{model_info['final_loss']:.3g}; --train retrains here)")
    else:
        how = f"weights from {model_info['weights']}"
    return (
        f"data: {data_info['description']}; {data_info['rows']:,} bars, "
        f"{len(prepared.test_index):,} test windows (shuffled split, as the seed).\n"
        f"model: the seed's CNN-BiLSTM-Attention network, {how}.\n"
    )


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """ValueError from reading the seed's files, as a one-line UserError."""
    try:
        yield
    except ValueError as exc:
        raise UserError(str(exc)) from None


def run_demo(
    data: str | os.PathLike[str] | None = None,
    weights: str | os.PathLike[str] | None = None,
    *,
    train: bool = False,
    epochs: int | None = None,
    seed: int | None = None,
    json_path: str | os.PathLike[str] | None = None,
    plot: str | os.PathLike[str] | None = None,
    progress: str = "none",
) -> str:
    """Run the experiment; returns the text to print and writes the JSON and plot if asked.

    Parameters
    ----------
    data : path, optional
        A K-line CSV (:func:`fastfrac.kline.load_ohlc`); the built-in MSFT
        bars when None.
    weights : path, optional
        The seed's trained weight files (needs ``data``).  With neither
        ``data`` nor ``weights`` nor ``train``, the network gets the weights
        shipped in the package (:data:`SHIPPED_WEIGHTS`): the figures are
        then the same on every machine.
    train : bool
        Train the network here (on ``data`` or the built-in bars); ``data``
        without ``weights`` always does.  The figures are this machine's.
    epochs : int, optional
        Training epochs (default :data:`DEFAULT_EPOCHS`); only when training.
    seed : int, optional
        Fixes the initial weights, the shuffling and the dropout (default
        :data:`DEFAULT_SEED`); only when training.
    json_path : path, optional
        Where to write ``{"rows": [...], "reference": {...}, "data": {...},
        "model": {...}, ...}``.
    plot : path, optional
        Where to draw true vs predicted close over the last
        :data:`PLOT_BARS` bars (PNG).
    progress : {"none", "auto", "bar", "plain"}
        Show the steps and epochs on stderr (:class:`fastfrac._progress.Progress`).

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
    for option, given in (("--epochs", epochs is not None), ("--train", train)):
        if weights is not None and given:
            raise UserError(f"{option} trains the network here; it does not go with --weights")
    training = train or (data is not None and weights is None)
    if not training and (epochs is not None or seed is not None):
        raise UserError("--epochs and --seed apply when the network is trained here: add --train")
    data = None if data is None else Path(data)
    import fastfrac

    fastfrac.selected_isa()  # a bad FASTFRAC_ISA fails now, not after loading TensorFlow
    with AtomicOutputs() as outputs, Progress(progress, prefix="fastfrac demo") as show:
        # Claim the outputs first: an unwritable path fails before minutes of work.
        json_tmp = outputs.path_for(json_path) if json_path is not None else None
        plot_tmp = outputs.path_for(plot) if plot is not None else None
        show.start("loading TensorFlow and the data")
        kline = import_task()
        ohlc, data_info = load_data(kline, data)
        with user_errors():
            prepared = kline.prepare(ohlc)
        model, model_info = load_model(kline, prepared, weights, show, train=training,
                                       epochs=epochs, seed=seed)
        model_info = {"architecture": "CNN-BiLSTM-Attention (fastfrac.kline.build_model)",
                      "parameters": int(model.count_params()), **model_info}
        comparison = kline.compare(model, prepared, status=show.start)
        show.start("the same approximation with the pure-Python reference")
        from fastfrac._apps.reference_timing import time_reference

        timing = time_reference(model, comparison.reports[TIMED_ROW])
        if plot_tmp is not None:
            show.start("drawing the plot")
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
