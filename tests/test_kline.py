"""fastfrac.kline: the seed's K-line task rebuilt, its figures reproduced, the comparison."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")
pytest.importorskip("sklearn")
pytest.importorskip("pandas")
fk = pytest.importorskip("fastfrac.keras")
kline = pytest.importorskip("fastfrac.kline")

# The seed folder's NOTES.md, "original, rebuilt with TF 2.21 / Keras 3.15" and "approximated, TF 2.21 / Keras 3.15".
ORIGINAL = {"mae": 0.007296624095, "mse": 8.919899201e-05, "direction_accuracy": 98.724053}
APPROXIMATED = {"mae": 0.007296035022, "mse": 8.918206241e-05, "direction_accuracy": 98.724053}


@pytest.fixture(scope="module")
def seed_model(seed_dir):
    return kline.load_seed_weights(kline.build_model(), seed_dir)


@pytest.fixture(scope="module")
def prepared(seed_dir):
    return kline.prepare(kline.load_ohlc(seed_dir / "data.csv"))


def assert_row(metrics: dict, want: dict) -> None:
    for key, value in want.items():
        assert metrics[key] == pytest.approx(value, rel=1e-5), key


def test_model_architecture() -> None:
    model = kline.build_model()
    assert model.count_params() == 93_892
    names = [layer.name for layer in model.layers]
    for name in ("conv1d", "batch_normalization", "bidirectional", "batch_normalization_1",
                 "dense", "attention_vec", "dense_1"):
        assert name in names
    assert model.output_shape == (None, 4)


def test_prepare_follows_the_seed(prepared) -> None:
    assert prepared.x_test.shape == (5252, 20, 4)
    assert prepared.y_test.shape == (5252, 4)
    assert prepared.x_test.min() >= 0 and prepared.x_test.max() <= 1
    assert prepared.targets.shape == prepared.last_bars.shape == (5252, 4)


def test_load_ohlc_accepts_both_spellings(tmp_path) -> None:
    bars = np.array([[1.0, 1.5, 0.5, 1.2], [1.2, 1.6, 1.1, 1.3]])  # open, high, low, close
    (tmp_path / "upper.csv").write_text(
        "Date,Open,High,Low,Close\n" + "".join(f"d,{o},{h},{lo},{c}\n" for o, h, lo, c in bars)
    )
    (tmp_path / "lower.csv").write_text(
        "code,date,open,low,close,high\n" + "".join(f"x,d,{o},{lo},{c},{h}\n" for o, h, lo, c in bars)
    )
    upper = kline.load_ohlc(tmp_path / "upper.csv")
    lower = kline.load_ohlc(tmp_path / "lower.csv")
    assert list(upper.columns) == list(kline.FEATURES) == ["open", "close", "high", "low"]
    assert upper.equals(lower)
    assert upper.to_numpy().tolist() == bars[:, [0, 3, 1, 2]].tolist()
    (tmp_path / "bad.csv").write_text("open,close\n1,2\n")
    with pytest.raises(ValueError, match="lacks the columns"):
        kline.load_ohlc(tmp_path / "bad.csv")


def test_prepare_windows_and_targets() -> None:
    prices = np.arange(30 * 4, dtype=np.float64).reshape(30, 4)
    p = kline.prepare(prices, window=5, test_size=0.2, random_state=0)
    assert p.x_test.shape == (5, 5, 4) and p.y_test.shape == (5, 4)
    # Prices rise by 4 per row in every column: the target is the row after the window.
    np.testing.assert_allclose(p.targets - p.last_bars, 4.0)
    with pytest.raises(ValueError, match="too few"):
        kline.prepare(prices[:5], window=5)


def test_load_seed_weights_checks_the_files(tmp_path) -> None:
    model = kline.build_model()
    with pytest.raises(FileNotFoundError):
        kline.load_seed_weights(model, tmp_path)
    np.save(tmp_path / "layer-2-conv1d-weight-1.npy", np.zeros((1, 4, 64), np.float32))
    with pytest.raises(ValueError, match="'conv1d' has 2 weights"):
        kline.load_seed_weights(model, tmp_path)


def test_original_row_is_reproduced(seed_model, prepared) -> None:
    assert_row(kline.evaluate(kline.predict(seed_model, prepared), prepared), ORIGINAL)


def test_approximated_row_is_reproduced(seed_model, prepared) -> None:
    approximated, _ = fk.approximate_model(seed_model, kline.SEED_PRECISION)
    assert_row(kline.evaluate(kline.predict(approximated, prepared), prepared), APPROXIMATED)


def test_persistence_is_the_honest_baseline(prepared) -> None:
    """On the shuffled split a no-change forecast beats the network on the seed's metrics."""
    m = kline.evaluate(kline.persistence(prepared), prepared)
    assert m["mae"] == pytest.approx(0.000924443, rel=1e-5)
    assert m["direction_accuracy"] == pytest.approx(99.3144163, rel=1e-6)
    assert m["mae"] < ORIGINAL["mae"] and m["direction_accuracy"] > ORIGINAL["direction_accuracy"]
    # Per window, "no change" is right only when the close did not change.
    unchanged = np.mean(prepared.targets[:, 1] == prepared.last_bars[:, 1]) * 100
    assert m["window_direction_accuracy"] == pytest.approx(unchanged)


def test_metrics_by_hand() -> None:
    true = np.array([1.0, 2.0, 2.0, 1.0])
    assert kline.direction_accuracy(true, np.array([0.0, 1.0, 1.0, 0.0])) == 100.0
    # Changes +1, 0, -1 against -1, 0, +1: only the "no change" pair agrees.
    assert kline.direction_accuracy(true, 3 - true) == pytest.approx(100 / 3)
    last = np.array([1.0, 1.0, 2.0, 2.0])
    assert kline.window_direction_accuracy(true, np.array([1.5, 3.0, 2.0, 0.0]), last) == 75.0


def test_compare_table(seed_model, prepared, monkeypatch) -> None:
    """One run, seven rows, on a slice of the test set.

    Converting the unrolled seed network takes seconds per conversion, so the
    float32 flatbuffer is made once and stands in for all three (the
    quantized conversions are tested on a small model in test_tflite.py).
    """
    from fastfrac import tflite

    real_convert = tflite.convert
    made: dict[str, bytes] = {}

    def convert_once(model, quantization="float32"):
        if "float32" not in made:
            made["float32"] = real_convert(model, "float32")
        return made["float32"]

    monkeypatch.setattr(tflite, "convert", convert_once)
    small = kline.Prepared(prepared.x_test[:300], prepared.y_test[:300], prepared.scaler)
    result = kline.compare(seed_model, small, batch_size=300)
    assert [r["name"] for r in result.rows] == list(kline.ROW_NAMES)
    keys = {"name", "mae", "mse", "direction_accuracy", "window_direction_accuracy",
            "bytes", "bits_per_weight"}
    assert all(set(r) == keys for r in result.rows)
    original = result.row("original")
    assert original["bytes"] == 4 * 93_892 and original["bits_per_weight"] == 32.0
    assert result.row("persistence")["bytes"] is None
    assert result.row("persistence")["bits_per_weight"] is None
    for row in result.rows[2:]:
        assert row["bits_per_weight"] == pytest.approx(8 * row["bytes"] / 93_892)
    assert result.row("tflite float32")["mae"] == pytest.approx(original["mae"], rel=1e-5)
    assert result.row("tflite int8")["mae"] == result.row("tflite float32")["mae"]  # stand-in
    assert result.row("fastfrac p=1")["bytes"] < result.row("fastfrac seed map")["bytes"]
    assert set(result.kernel_seconds) == {"fastfrac seed map", "fastfrac p=1"}
    text = str(result)
    assert all(name in text for name in kline.ROW_NAMES) and "graph included" in text
    assert result.to_dict()["rows"] == result.rows
