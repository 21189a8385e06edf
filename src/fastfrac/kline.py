"""The seed experiment's K-line task: model, data, metrics and the honest comparison.

A CNN-BiLSTM-Attention network predicts the next one-minute bar (open,
close, high, low) of USD/CNY from the 20 bars before it.  This module
rebuilds that network with the seed's layer names, loads its trained
weights and data, and measures it, its fastfrac approximations and its
TensorFlow Lite conversions on the same test windows.

The seed's split shuffles the windows (``train_test_split(test_size=0.2,
random_state=42)``), so the test windows interleave with the training ones
and consecutive test rows are unrelated minutes.  Its direction accuracy
(the sign of the close's change between consecutive *test rows*) is then
dominated by the jump between two random times, which the inputs already
reveal: a no-change forecast scores about 99.3 % on it and an MAE of about
0.0009, better than the network.  :func:`evaluate` therefore also reports a
per-window direction accuracy (predicted vs true change from each window's
last close) and :func:`compare` a ``persistence`` row.

TensorFlow, pandas and scikit-learn are imported only when a function
needs them.

Examples
--------
>>> import fastfrac.kline as kline  # doctest: +SKIP
>>> model = kline.load_seed_weights(kline.build_model(), "seed")  # doctest: +SKIP
>>> prepared = kline.prepare(kline.load_ohlc("seed/data.csv"))  # doctest: +SKIP
>>> kline.evaluate(kline.predict(model, prepared), prepared)  # doctest: +SKIP
{'mae': 0.0072966240..., 'mse': 8.9198992...e-05, 'direction_accuracy': 98.7240525...,
 'window_direction_accuracy': ...}
>>> print(kline.compare(model, prepared))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fastfrac._report import Column, format_table, format_value

__all__ = [
    "FEATURES",
    "ROW_NAMES",
    "SEED_PRECISION",
    "WINDOW",
    "Comparison",
    "Prepared",
    "build_model",
    "compare",
    "direction_accuracy",
    "evaluate",
    "load_ohlc",
    "load_seed_weights",
    "persistence",
    "predict",
    "prepare",
    "window_direction_accuracy",
]

FEATURES = ("open", "close", "high", "low")  # the model's feature order; column 1 is the close
CLOSE = FEATURES.index("close")
WINDOW = 20
SEED_PRECISION: dict[str, int] = {"conv1d": 4, "bidirectional": 2, "dense": 2, "dense_1": 4}
ROW_NAMES = (
    "original",
    "persistence",
    "fastfrac seed map",
    "fastfrac p=1",
    "tflite float32",
    "tflite float16",
    "tflite int8",
)


def build_model(unroll: bool = False) -> Any:
    """The seed's CNN-BiLSTM-Attention network (93,892 parameters), untrained.

    Layer names are the seed's, so its weight files and precision map apply.
    ``unroll=True`` unrolls the LSTMs over the 20 steps (same weights, same
    function): TensorFlow 2.21 needs it to convert the model to TFLite.

    Examples
    --------
    >>> build_model().count_params()  # doctest: +SKIP
    93892
    """
    import keras  # deferred: TensorFlow loads only when a model is built
    from keras import layers

    inputs = keras.Input(shape=(WINDOW, len(FEATURES)))
    x = layers.Conv1D(64, 1, activation="relu", name="conv1d")(inputs)
    x = layers.BatchNormalization(name="batch_normalization")(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    lstm = layers.Bidirectional(
        layers.LSTM(64, return_sequences=True, unroll=unroll), name="bidirectional"
    )(x)
    lstm = layers.BatchNormalization(name="batch_normalization_1")(lstm)
    lstm = layers.Dropout(0.4, name="dropout_1")(lstm)
    # Attention: a softmax over the 128 features of each step, multiplied in.
    attention = layers.Dense(128, activation="softmax", name="dense")(lstm)
    attention = layers.Permute((1, 2), name="attention_vec")(attention)  # identity, kept for names
    weighted = layers.Multiply(name="multiply")([lstm, attention])
    flat = layers.Flatten(name="flatten")(weighted)
    outputs = layers.Dense(len(FEATURES), activation="sigmoid", name="dense_1")(flat)
    return keras.Model(inputs, outputs, name="kline_cnn_bilstm_attention")


_WEIGHT_FILE = re.compile(r"layer-(\d+)-(.+)-weight-(\d+)\.npy")


def load_seed_weights(model: Any, directory: str | os.PathLike[str]) -> Any:
    """Load the seed's ``layer-{i}-{name}-weight-{k}.npy`` files into ``model``; returns it.

    Files are matched to layers by name (``k`` from 1 in ``get_weights()``
    order); ``directory`` is the folder with the files or the one holding
    ``weights_npy/``.  Every layer with weights must get all of them, and
    every file must find its layer.
    """
    folder = Path(directory)
    if (folder / "weights_npy").is_dir():
        folder = folder / "weights_npy"
    found: dict[str, dict[int, Path]] = {}
    for path in folder.iterdir():
        match = _WEIGHT_FILE.fullmatch(path.name)
        if match:
            found.setdefault(match.group(2), {})[int(match.group(3))] = path
    if not found:
        raise FileNotFoundError(f"no layer-*-weight-*.npy files in {folder}")
    names = {layer.name for layer in model.layers}
    unknown = sorted(set(found) - names)
    if unknown:
        raise ValueError(f"weight files for layers the model lacks: {', '.join(unknown)}")
    for layer in model.layers:
        if not layer.weights:
            continue
        files = found.get(layer.name, {})
        if sorted(files) != list(range(1, len(layer.weights) + 1)):
            raise ValueError(
                f"layer {layer.name!r} has {len(layer.weights)} weights but the files give "
                f"numbers {sorted(files)}"
            )
        layer.set_weights([np.load(files[k]) for k in sorted(files)])
    return model


def load_ohlc(path: str | os.PathLike[str]) -> Any:
    """Read a K-line CSV as a float64 DataFrame with the columns ``open, close, high, low``.

    Column names are matched without regard to case, so both the seed's
    ``open,low,close,high`` and ``Open,High,Low,Close`` work; other columns
    are dropped.
    """
    import pandas as pd  # deferred: only the K-line task needs pandas

    frame = pd.read_csv(path)
    by_lower = {str(c).strip().lower(): c for c in frame.columns}
    missing = [f for f in FEATURES if f not in by_lower]
    if missing:
        raise ValueError(
            f"{os.fspath(path)!r} lacks the columns {missing}; it has {list(frame.columns)}"
        )
    out = frame[[by_lower[f] for f in FEATURES]].astype(np.float64)
    out.columns = list(FEATURES)
    return out


@dataclass(frozen=True, eq=False)
class Prepared:
    """The test windows of the seed's split and the scaler that undoes the scaling.

    Attributes
    ----------
    x_test : numpy.ndarray
        (n, 20, 4) scaled input windows, in split order.
    y_test : numpy.ndarray
        (n, 4) scaled targets: the bar after each window.
    scaler : sklearn.preprocessing.MinMaxScaler
        Fitted on the whole file (the seed's choice).
    """

    x_test: np.ndarray
    y_test: np.ndarray
    scaler: Any = field(repr=False)

    def unscale(self, scaled: np.ndarray) -> np.ndarray:
        """(n, 4) scaled bars back in prices, in float64."""
        return self.scaler.inverse_transform(np.asarray(scaled, dtype=np.float64))

    @property
    def targets(self) -> np.ndarray:
        """The true next bars in prices."""
        return self.unscale(self.y_test)

    @property
    def last_bars(self) -> np.ndarray:
        """Each window's last bar in prices: the persistence forecast."""
        return self.unscale(self.x_test[:, -1, :])


def prepare(
    ohlc: Any, *, window: int = WINDOW, test_size: float = 0.2, random_state: int = 42
) -> Prepared:
    """The seed's data preparation: scale, cut windows, split.

    Every column is min-max scaled over the whole series
    (:class:`sklearn.preprocessing.MinMaxScaler`), ``window`` consecutive
    rows form an input and the next row its target, and
    :func:`sklearn.model_selection.train_test_split` with ``test_size`` and
    ``random_state`` picks the test windows (shuffled).

    Parameters
    ----------
    ohlc : pandas.DataFrame or array_like
        Rows of ``open, close, high, low`` (:func:`load_ohlc`).

    Examples
    --------
    >>> import numpy as np
    >>> prices = np.linspace(1.0, 2.0, 4 * 30).reshape(30, 4)
    >>> p = prepare(prices, window=5)
    >>> p.x_test.shape, p.y_test.shape
    ((5, 5, 4), (5, 4))
    """
    from sklearn.model_selection import train_test_split  # deferred like pandas
    from sklearn.preprocessing import MinMaxScaler

    values = np.asarray(ohlc, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(FEATURES):
        raise ValueError(f"expected rows of {len(FEATURES)} prices, got shape {values.shape}")
    if len(values) <= window:
        raise ValueError(f"{len(values)} rows are too few for windows of {window}")
    scaler = MinMaxScaler()
    scaled = scaler.fit_transform(values)
    # Window i is rows i .. i+window-1; its target is row i+window.
    windows = np.lib.stride_tricks.sliding_window_view(scaled, window, axis=0)[:-1]
    windows = windows.transpose(0, 2, 1)
    targets = scaled[window:]
    _, x_test, _, y_test = train_test_split(
        windows, targets, test_size=test_size, random_state=random_state
    )
    return Prepared(np.ascontiguousarray(x_test), np.ascontiguousarray(y_test), scaler)


def predict(model: Any, prepared: Prepared, *, batch_size: int = 512) -> np.ndarray:
    """The model's (scaled) outputs on the test windows, from Keras' ``predict``.

    The batch size only sets the speed: on the seed model the outputs are
    bit-identical for 32 (Keras' default), 512 and the whole test set at once.
    """
    return model.predict(prepared.x_test, batch_size=batch_size, verbose=0)


def persistence(prepared: Prepared) -> np.ndarray:
    """The no-change forecast in scaled units: each window's last bar as the next bar."""
    return prepared.x_test[:, -1, :]


def direction_accuracy(true_close: np.ndarray, predicted_close: np.ndarray) -> float:
    """The seed's direction accuracy in percent, over consecutive rows in the given order.

    Row pairs i, i+1 count when ``sign(true[i+1] - true[i])`` equals
    ``sign(pred[i+1] - pred[i])``, zero included.

    >>> direction_accuracy(np.array([1.0, 2.0, 2.0, 1.0, 3.0]), np.array([0.0, 1.0, 1.5, 1.0, 2.0]))
    75.0
    """
    same = np.sign(np.diff(true_close)) == np.sign(np.diff(predicted_close))
    return float(np.mean(same) * 100.0)


def window_direction_accuracy(
    true_close: np.ndarray, predicted_close: np.ndarray, last_close: np.ndarray
) -> float:
    """Per-window direction accuracy in percent.

    A window counts when ``sign(predicted - last)`` equals
    ``sign(true - last)``, ``last`` being the window's last close (zero
    included, so a no-change forecast scores the share of unchanged closes).

    >>> window_direction_accuracy(np.array([2.0, 1.0, 1.0, 0.5]), np.array([1.5, 1.2, 1.0, 0.9]),
    ...                           np.array([1.0, 1.0, 1.0, 1.0]))
    75.0
    """
    same = np.sign(predicted_close - last_close) == np.sign(true_close - last_close)
    return float(np.mean(same) * 100.0)


def evaluate(predictions: np.ndarray, prepared: Prepared) -> dict[str, float]:
    """The metrics of (scaled) predictions on the test windows, in prices.

    Both predictions and targets are unscaled first (predictions in
    float64).  Returns ``mae`` and ``mse`` over all four outputs
    (scikit-learn's, as the seed), the seed's ``direction_accuracy`` and the
    ``window_direction_accuracy``, both in percent.
    """
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    pred = prepared.unscale(predictions)
    true = prepared.targets
    last_close = prepared.last_bars[:, CLOSE]
    return {
        "mae": float(mean_absolute_error(true, pred)),
        "mse": float(mean_squared_error(true, pred)),
        "direction_accuracy": direction_accuracy(true[:, CLOSE], pred[:, CLOSE]),
        "window_direction_accuracy": window_direction_accuracy(
            true[:, CLOSE], pred[:, CLOSE], last_close
        ),
    }


def _pct(value: Any) -> str:
    return format_value(value, ".3f")


_COLUMNS: list[Column] = [
    ("name", "run", format_value),
    ("mae", "MAE", lambda v: format_value(v, ".10f")),
    ("mse", "MSE", lambda v: format_value(v, ".6e")),
    ("direction_accuracy", "direction % (seed)", _pct),
    ("window_direction_accuracy", "direction % (window)", _pct),
    ("bytes", "bytes", lambda v: format_value(v, ",d")),
    ("bits_per_weight", "bits/weight", lambda v: format_value(v, ".2f")),
]


@dataclass
class Comparison:
    """One run of :func:`compare`: the rows and what the fastfrac kernel cost.

    Attributes
    ----------
    rows : list of dict
        One per name in :data:`ROW_NAMES`, with keys ``name, mae, mse,
        direction_accuracy, window_direction_accuracy, bytes,
        bits_per_weight`` (None where not applicable).
    kernel_seconds : dict
        Summed fastfrac kernel time of each fastfrac row.
    parameters : int
        The model's parameter count (the denominator of bits per weight).
    reports : dict
        The :class:`~fastfrac.keras.ApproximationReport` of each fastfrac row.
    """

    rows: list[dict[str, Any]]
    kernel_seconds: dict[str, float]
    parameters: int
    reports: dict[str, Any] = field(default_factory=dict, repr=False)

    def row(self, name: str) -> dict[str, Any]:
        """The row called ``name``."""
        for r in self.rows:
            if r["name"] == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rows, kernel seconds, parameter count."""
        return {
            "rows": [dict(r) for r in self.rows],
            "kernel_seconds": dict(self.kernel_seconds),
            "parameters": self.parameters,
        }

    def __str__(self) -> str:
        notes = [
            f"{self.parameters:,} parameters.  bytes: original = float32 weights "
            "(4 x parameters); fastfrac = compressed fractions container; "
            "tflite = .tflite file, graph included.",
            "direction % (seed): sign of the close's change between consecutive test rows "
            "(shuffled split); direction % (window): sign of the change from each "
            "window's last close.",
        ]
        kernel = ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in self.kernel_seconds.items())
        notes.append(f"fastfrac kernel time: {kernel}.")
        return format_table(self.rows, _COLUMNS) + "\n" + "\n".join(notes)


@contextlib.contextmanager
def _folder(workdir: str | os.PathLike[str] | None) -> Iterator[Path]:
    """``workdir`` (created if needed), or a temporary folder removed afterwards."""
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(prefix="fastfrac-") as tmp:
        yield Path(tmp)


def _row(name: str, metrics: Mapping[str, float], size: int | None, parameters: int) -> dict:
    return {
        "name": name,
        **{k: metrics[k] for k in ("mae", "mse", "direction_accuracy", "window_direction_accuracy")},
        "bytes": size,
        "bits_per_weight": None if size is None else 8.0 * size / parameters,
    }


def compare(
    model: Any,
    prepared: Prepared,
    *,
    precision: Mapping[str, int] | int = SEED_PRECISION,
    batch_size: int = 512,
    workdir: str | os.PathLike[str] | None = None,
) -> Comparison:
    """Measure the model, persistence, fastfrac and TFLite on the same test windows.

    Rows, in :data:`ROW_NAMES` order: ``original`` (the model as given;
    bytes = 4 x parameters), ``persistence`` (each window's last bar; no
    bytes), ``fastfrac seed map`` (:func:`fastfrac.keras.approximate_model`
    with ``precision``) and ``fastfrac p=1`` (p=1 for every layer with
    weights, BatchNormalization included), both with ``digits="2p"`` and sized by the fractions container
    :func:`fastfrac.keras.save_fractions` writes, and ``tflite float32`` /
    ``float16`` / ``int8`` (:mod:`fastfrac.tflite`, converted from an
    unrolled copy of the model; sized by the ``.tflite`` file, graph
    included).

    Parameters
    ----------
    model : keras.Model
        The seed network (:func:`build_model`) with its trained weights.
    prepared : Prepared
        From :func:`prepare`.
    precision : mapping or int
        The map of the ``fastfrac seed map`` row.
    batch_size : int
        Keras' predict batch size.
    workdir : path, optional
        Where the fractions containers are written (a temporary folder,
        removed afterwards, when None).

    Returns
    -------
    Comparison
        ``str()`` of it is the table.
    """
    from fastfrac import keras as ffkeras
    from fastfrac import tflite

    parameters = int(model.count_params())
    rows = [
        _row("original", evaluate(predict(model, prepared, batch_size=batch_size), prepared),
             4 * parameters, parameters),
        _row("persistence", evaluate(persistence(prepared), prepared), None, parameters),
    ]
    kernel_seconds: dict[str, float] = {}
    reports: dict[str, Any] = {}
    with _folder(workdir) as folder:
        for name, prec, file in (
            ("fastfrac seed map", precision, "seed_map.npz"),
            ("fastfrac p=1", 1, "p1.npz"),
        ):
            approximated, report = ffkeras.approximate_model(model, prec)
            size = ffkeras.save_fractions(report, folder / file)
            metrics = evaluate(predict(approximated, prepared, batch_size=batch_size), prepared)
            rows.append(_row(name, metrics, size, parameters))
            kernel_seconds[name] = report.totals["kernel_seconds"]
            reports[name] = report
    unrolled = build_model(unroll=True)
    unrolled.set_weights(model.get_weights())
    x = prepared.x_test.astype(np.float32)
    for quantization in tflite.QUANTIZATIONS:
        flatbuffer = tflite.convert(unrolled, quantization)
        metrics = evaluate(tflite.predict(flatbuffer, x), prepared)
        rows.append(_row(f"tflite {quantization}", metrics, len(flatbuffer), parameters))
    return Comparison(rows, kernel_seconds, parameters, reports)
