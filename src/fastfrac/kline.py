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

Without the seed's files, :func:`load_builtin_ohlc` gives real daily bars
that ship inside the pmdarima package and :func:`train` fits the network
on them the way the seed notebook did.

TensorFlow, pandas, scikit-learn and pmdarima are imported only when a
function needs them.

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fastfrac._tables import Column, format_table, format_value

__all__ = [
    "BUILTIN_SOURCE",
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
    "load_builtin_ohlc",
    "load_ohlc",
    "load_seed_weights",
    "persistence",
    "predict",
    "prepare",
    "train",
    "validation_split",
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
        # Named, so the wrapped copies are forward_lstm/backward_lstm in every process.
        layers.LSTM(64, return_sequences=True, unroll=unroll, name="lstm"), name="bidirectional"
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


def _ohlc_columns(frame: Any, source: str) -> Any:
    """``frame``'s open, close, high and low columns (any case), as float64, in that order."""
    by_lower = {str(c).strip().lower(): c for c in frame.columns}
    missing = [f for f in FEATURES if f not in by_lower]
    if missing:
        raise ValueError(f"{source} lacks the columns {missing}; it has {list(frame.columns)}")
    out = frame[[by_lower[f] for f in FEATURES]].astype(np.float64)
    out.columns = list(FEATURES)
    return out


def load_ohlc(path: str | os.PathLike[str]) -> Any:
    """Read a K-line CSV as a float64 DataFrame with the columns ``open, close, high, low``.

    Column names are matched without regard to case, so both the seed's
    ``open,low,close,high`` and ``Open,High,Low,Close`` work; other columns
    are dropped.
    """
    import pandas as pd  # deferred: only the K-line task needs pandas

    return _ohlc_columns(pd.read_csv(path), repr(os.fspath(path)))


BUILTIN_SOURCE = "pmdarima.datasets.load_msft()"


def load_builtin_ohlc() -> Any:
    """Microsoft's daily bars, 1986-03-13 to 2017-11-10 (7,983 rows), indexed by date.

    The built-in data of ``fastfrac demo``: real prices that need no
    download, because they ship inside the pmdarima package (MIT licence;
    from Kaggle's "Price, Volume Data for All US Stocks & ETFs") and
    :func:`pmdarima.datasets.load_msft` reads them from the installed
    package.  Returns the same columns as :func:`load_ohlc`
    (``open, close, high, low``, float64) with a :class:`pandas.DatetimeIndex`.

    Examples
    --------
    >>> bars = load_builtin_ohlc()  # doctest: +SKIP
    >>> bars.shape, str(bars.index[0].date()), str(bars.index[-1].date())  # doctest: +SKIP
    ((7983, 4), '1986-03-13', '2017-11-10')
    """
    try:
        from pmdarima.datasets import load_msft  # deferred: only the demo needs it
    except ImportError:
        raise ImportError(
            "the built-in data needs pmdarima (pip install \"fastfrac[demo]\")"
        ) from None
    import pandas as pd

    frame = load_msft()
    out = _ohlc_columns(frame, BUILTIN_SOURCE)
    out.index = pd.DatetimeIndex(pd.to_datetime(frame["Date"]), name="date")
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
    series : numpy.ndarray or None
        (rows, 4) the whole scaled series in time order, from which
        :meth:`windows` cuts any window (None when made without it).
    train_index, test_index : numpy.ndarray or None
        The window numbers of the training and test windows, in split order
        (window i is rows i .. i+19, its target row i+20); ``x_test`` is
        ``windows(test_index)[0]``.
    """

    x_test: np.ndarray
    y_test: np.ndarray
    scaler: Any = field(repr=False)
    series: np.ndarray | None = field(default=None, repr=False)
    train_index: np.ndarray | None = field(default=None, repr=False)
    test_index: np.ndarray | None = field(default=None, repr=False)

    def windows(self, index: Any) -> tuple[np.ndarray, np.ndarray]:
        """Scaled inputs (n, 20, 4) and targets (n, 4) of the windows numbered ``index``.

        Any windows, not only the test ones: a run of consecutive numbers
        gives predictions in time order, and ``train_index`` the training set.
        """
        if self.series is None:
            raise ValueError("these windows were prepared without their series; use prepare()")
        index = np.asarray(index, dtype=np.intp)
        window = self.x_test.shape[1]
        if index.size and not (0 <= index.min() and index.max() < len(self.series) - window):
            raise ValueError(f"window numbers must lie in 0..{len(self.series) - window - 1}")
        rows = index[:, None] + np.arange(window)
        return self.series[rows], self.series[index + window]

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
    # Splitting the window numbers draws the same permutation as splitting
    # the windows themselves, and keeps where each test window lies in time.
    train_index, test_index = train_test_split(
        np.arange(len(windows)), test_size=test_size, random_state=random_state
    )
    return Prepared(
        np.ascontiguousarray(windows[test_index]),
        np.ascontiguousarray(targets[test_index]),
        scaler,
        series=scaled,
        train_index=train_index,
        test_index=test_index,
    )


def validation_split(prepared: Prepared, *, fraction: float = 0.1, seed: int = 0) -> Prepared:
    """Windows for tuning, carved from the training windows, in place of the test ones.

    A fixed random ``fraction`` of ``prepared.train_index`` (drawn with
    ``numpy.random.default_rng(seed)``) becomes the ``x_test``/``y_test`` of
    the returned :class:`Prepared`, the rest its ``train_index``; the test
    windows are not among them.  A precision search tuned on these and
    reported on the real test windows does not peek at the test set.  (The
    seed's own network was trained on every training window, so for it these
    windows are seen data: the search is then tuned on training windows,
    which is conservative for the test figures, never optimistic.)

    Examples
    --------
    >>> import numpy as np
    >>> p = prepare(np.linspace(1.0, 2.0, 4 * 60).reshape(60, 4), window=5)
    >>> v = validation_split(p, fraction=0.25)
    >>> len(v.test_index), len(v.train_index), len(p.train_index)
    (11, 33, 44)
    >>> bool(np.isin(v.test_index, p.test_index).any())
    False
    """
    if prepared.train_index is None:
        raise ValueError("these windows were prepared without a training set; use prepare()")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie strictly between 0 and 1, not {fraction}")
    train = np.asarray(prepared.train_index)
    order = np.random.default_rng(seed).permutation(len(train))
    n_val = max(1, int(round(fraction * len(train))))
    val_index, train_index = train[order[:n_val]], train[order[n_val:]]
    x, y = prepared.windows(val_index)
    return Prepared(
        np.ascontiguousarray(x), np.ascontiguousarray(y), prepared.scaler,
        series=prepared.series, train_index=train_index, test_index=val_index,
    )


def predict(model: Any, prepared: Prepared, *, batch_size: int = 512) -> np.ndarray:
    """The model's (scaled) outputs on the test windows, from Keras' ``predict``.

    The batch size only sets the speed: on the seed model the outputs are
    bit-identical for 32 (Keras' default), 512 and the whole test set at once.
    """
    return model.predict(prepared.x_test, batch_size=batch_size, verbose=0)


def train(
    model: Any,
    prepared: Prepared,
    *,
    epochs: int,
    seed: int = 0,
    batch_size: int = 64,
    on_epoch: Callable[[int, float], None] | None = None,
) -> Any:
    """Fit ``model`` on the training windows of ``prepared`` as the seed notebook did; returns it.

    Adam with Keras' defaults on the mean squared error of the scaled bars,
    batches of 64: the seed's settings.  The seed also held 10 % of the
    training windows out for validation, which nothing here reads, so every
    training window is used.  The test windows are never seen.

    Parameters
    ----------
    model : keras.Model
        From :func:`build_model`; compiled here.
    prepared : Prepared
        From :func:`prepare` (it carries the training windows).
    epochs : int
        Passes over the training windows.
    seed : int
        Given to :func:`keras.utils.set_random_seed` before fitting, which
        fixes the shuffling and the dropout masks.  The initial weights are
        drawn when the model is built: seed before :func:`build_model` too
        for a reproducible run.
    batch_size : int
        Windows per gradient step.
    on_epoch : callable, optional
        Called after each epoch with its number (from 1) and training loss.
    """
    import keras  # deferred like build_model

    if prepared.train_index is None:
        raise ValueError("these windows were prepared without a training set; use prepare()")
    x_train, y_train = prepared.windows(prepared.train_index)
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    callbacks = []
    if on_epoch is not None:
        callbacks.append(keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: on_epoch(epoch + 1, float(logs["loss"]))
        ))
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, shuffle=True,
              callbacks=callbacks, verbose=0)
    return model


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


# MAE and MSE to 6 significant digits: what fixed weights give on any x86-64
# CPU, instruction set and thread count (float32 sums in another order move
# the 8th digit); --json keeps every digit.
_COLUMNS: list[Column] = [
    ("name", "run", format_value),
    ("mae", "MAE", lambda v: format_value(v, "#.6g")),
    ("mse", "MSE", lambda v: format_value(v, ".5e")),
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
    models : dict
        The approximated Keras model of each fastfrac row.
    """

    rows: list[dict[str, Any]]
    kernel_seconds: dict[str, float]
    parameters: int
    reports: dict[str, Any] = field(default_factory=dict, repr=False)
    models: dict[str, Any] = field(default_factory=dict, repr=False)

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
    status: Callable[[str], None] | None = None,
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
    status : callable, optional
        Told in a few words which row is being measured (the TFLite
        conversions take seconds each).

    Returns
    -------
    Comparison
        ``str()`` of it is the table.
    """
    from fastfrac import keras as ffkeras
    from fastfrac import tflite

    say = status or (lambda text: None)
    parameters = int(model.count_params())
    say("measuring the original model")
    rows = [
        _row("original", evaluate(predict(model, prepared, batch_size=batch_size), prepared),
             4 * parameters, parameters),
        _row("persistence", evaluate(persistence(prepared), prepared), None, parameters),
    ]
    kernel_seconds: dict[str, float] = {}
    reports: dict[str, Any] = {}
    models: dict[str, Any] = {}
    with _folder(workdir) as folder:
        for name, prec, file in (
            ("fastfrac seed map", precision, "seed_map.npz"),
            ("fastfrac p=1", 1, "p1.npz"),
        ):
            say(f"approximating and measuring: {name}")
            approximated, report = ffkeras.approximate_model(model, prec)
            size = ffkeras.save_fractions(report, folder / file)
            metrics = evaluate(predict(approximated, prepared, batch_size=batch_size), prepared)
            rows.append(_row(name, metrics, size, parameters))
            kernel_seconds[name] = report.totals["kernel_seconds"]
            reports[name] = report
            models[name] = approximated
    unrolled = build_model(unroll=True)
    unrolled.set_weights(model.get_weights())
    x = prepared.x_test.astype(np.float32)
    for quantization in tflite.QUANTIZATIONS:
        say(f"converting to TFLite and measuring: {quantization}")
        flatbuffer = tflite.convert(unrolled, quantization)
        # Reference kernels: XNNPACK's int8 path differs by CPU (MAE 1.82385 on
        # AVX-512 machines, 1.82386 on a Zen 3 with AVX2 only), and this table
        # must read the same on every machine.
        metrics = evaluate(tflite.predict(flatbuffer, x, kernels="reference"), prepared)
        rows.append(_row(f"tflite {quantization}", metrics, len(flatbuffer), parameters))
    return Comparison(rows, kernel_seconds, parameters, reports, models)
