"""``fastfrac demo`` on its built-in data, and the pieces of fastfrac.kline it adds.

The end-to-end test goes through the real entry point (``python -m fastfrac
demo``) in a subprocess.  The run on the seed's own files, which must
reproduce the seed's figures, is tests/test_cli.py's
``test_demo_reproduces_the_seed_table``.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")
pytest.importorskip("sklearn")
pytest.importorskip("pandas")
pytest.importorskip("pmdarima")
pytest.importorskip("matplotlib")
kline = pytest.importorskip("fastfrac.kline")

PARAMETERS = 93_892
KEYS = {"name", "mae", "mse", "direction_accuracy", "window_direction_accuracy", "bytes",
        "bits_per_weight"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


README = Path(__file__).resolve().parents[1] / "README.md"
# TensorFlow's and TFLite's own log lines (absl, oneDNN, the CPU feature guard, XNNPACK).
TF_LOG = re.compile(r"oneDNN|absl|cpu_feature_guard|XNNPACK|TensorFlow Lite|^[IWEF]\d{4} ", re.M)


def run_demo(*args: object) -> subprocess.CompletedProcess[str]:
    """``python -m fastfrac demo ARGS``, with no log setting of ours in the environment."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "fastfrac", "demo", *map(str, args)],
        capture_output=True, text=True, timeout=900, env=env,
    )


def table_lines(text: str) -> list[str]:
    """The comparison table: its header line and the seven rows."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("run  "))
    return lines[start:start + 1 + len(kline.ROW_NAMES)]


# -- the default demo, end to end --------------------------------------------------------


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One default run (the shipped weights) with --json and --plot."""
    out = tmp_path_factory.mktemp("demo")
    result = run_demo("--json", out / "table.json", "--plot", out / "close.png")
    return result, out


@pytest.mark.slow
def test_default_demo_prints_the_readme_table(default_run) -> None:
    """The shipped weights' figures, to the table's 6 significant digits, are the README's."""
    result, _ = default_run
    assert result.returncode == 0, result.stderr
    readme = README.read_text(encoding="utf-8")
    block = readme.split("```text\n", 1)[1].split("```", 1)[0]
    assert table_lines(result.stdout) == table_lines(block)
    header = [line for line in result.stdout.splitlines() if line.startswith(("data:", "model:"))]
    assert header == [line for line in block.splitlines() if line.startswith(("data:", "model:"))]


@pytest.mark.slow
def test_default_demo_keeps_tensorflow_logs_off_stderr(default_run) -> None:
    result, _ = default_run
    assert result.returncode == 0, result.stderr
    assert not TF_LOG.search(result.stderr), result.stderr


@pytest.mark.slow
def test_default_demo_progress_is_plain_lines_without_a_terminal(default_run) -> None:
    result, _ = default_run
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("fastfrac demo: ") for line in lines), result.stderr
    assert "fastfrac demo: converting to TFLite and measuring: int8: done in " in result.stderr
    assert "\x1b" not in result.stderr and "\r" not in result.stderr  # no live-bar control codes


@pytest.mark.slow
def test_default_demo_writes_the_seven_rows(default_run) -> None:
    result, out = default_run
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "table.json").read_text())
    rows = {r["name"]: r for r in report["rows"]}
    assert [r["name"] for r in report["rows"]] == list(kline.ROW_NAMES)
    assert all(set(r) == KEYS for r in report["rows"])
    for row in report["rows"]:
        assert math.isfinite(row["mae"]) and row["mae"] > 0, row["name"]
        assert math.isfinite(row["mse"]) and row["mse"] >= row["mae"] ** 2 / 10, row["name"]
        for key in ("direction_accuracy", "window_direction_accuracy"):
            assert 0 <= row[key] <= 100, (row["name"], key)
    # Sizes: float32 weights, then smaller files for every compressed form.
    assert rows["original"]["bytes"] == 4 * PARAMETERS and rows["original"]["bits_per_weight"] == 32
    assert rows["persistence"]["bytes"] is None and rows["persistence"]["bits_per_weight"] is None
    for name in kline.ROW_NAMES[2:]:
        assert rows[name]["bits_per_weight"] == pytest.approx(8 * rows[name]["bytes"] / PARAMETERS)
    assert rows["fastfrac p=1"]["bytes"] < rows["fastfrac seed map"]["bytes"] < 4 * PARAMETERS
    assert (rows["tflite int8"]["bytes"] < rows["tflite float16"]["bytes"]
            < rows["tflite float32"]["bytes"])
    # Same network, same windows: float32 TFLite and the seed map stay near the original.
    original = rows["original"]["mae"]
    assert rows["tflite float32"]["mae"] == pytest.approx(original, rel=1e-4)
    assert rows["fastfrac seed map"]["mae"] == pytest.approx(original, rel=1e-2)
    # Persistence is measured on the data alone: the MSFT test windows' no-change forecast.
    assert rows["persistence"]["mae"] == pytest.approx(0.2191601193, rel=1e-8)


@pytest.mark.slow
def test_default_demo_reports_timing_data_and_model(default_run) -> None:
    result, out = default_run
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "table.json").read_text())
    timing = report["reference"]
    assert timing["row"] == "fastfrac seed map" and timing["identical"] is True
    assert timing["values"] == 93_124  # conv1d, bidirectional, dense, dense_1
    assert 0 < timing["kernel_seconds"] < timing["reference_seconds"]
    speedup = timing["reference_seconds"] / timing["kernel_seconds"]
    assert timing["speedup"] == pytest.approx(speedup)
    assert report["data"]["source"] == "pmdarima.datasets.load_msft()"
    assert report["data"]["rows"] == 7983 and report["data"]["test_windows"] == 1593
    model = report["model"]
    assert model["weights"] == "shipped with fastfrac" and model["epochs"] == 10
    assert model["seed"] == 0
    assert model["parameters"] == PARAMETERS and model["final_loss"] > 0
    # The table on stdout is the JSON's, with the timing line under it.
    text = result.stdout
    assert all(name in text for name in kline.ROW_NAMES)
    assert f"{report['rows'][0]['mae']:#.6g}" in text
    assert "pure-Python reference (fractions.Fraction)" in text and "identical" in text
    assert "weights shipped with fastfrac (trained once on these bars for 10 epochs" in text


@pytest.mark.slow
def test_train_retrains_here(tmp_path) -> None:
    result = run_demo("--train", "--epochs", "1", "--progress", "none", "--json",
                      tmp_path / "t.json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    model = json.loads((tmp_path / "t.json").read_text())["model"]
    assert model["weights"] == "trained here" and model["epochs"] == 1 and model["seed"] == 0
    assert "trained here for 1 epoch (seed 0, final training loss" in result.stdout


@pytest.mark.parametrize("argv", [["--epochs", "2"], ["--seed", "3"]])
def test_training_options_need_train(argv) -> None:
    result = run_demo(*argv)
    assert result.returncode == 1
    assert result.stderr == ("fastfrac demo: error: --epochs and --seed apply when the network "
                             "is trained here: add --train\n")


def test_shipped_weights_are_the_networks() -> None:
    from fastfrac._apps.demo import SHIPPED_WEIGHTS

    with np.load(SHIPPED_WEIGHTS, allow_pickle=False) as stored:
        training = json.loads(str(stored["__training__"]))
        sizes = {k: stored[k].size for k in stored.files if k != "__training__"}
    assert training["epochs"] == 10 and training["seed"] == 0
    assert training["data"] == kline.BUILTIN_SOURCE
    assert sum(sizes.values()) == PARAMETERS
    assert {w.path for w in kline.build_model().weights} == set(sizes)


@pytest.mark.slow
def test_default_demo_plot_is_a_png(default_run) -> None:
    result, out = default_run
    assert result.returncode == 0, result.stderr
    data = (out / "close.png").read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1080, 576)  # 9 x 4.8 inches at 120 dpi
    assert sorted(p.name for p in out.iterdir()) == ["close.png", "table.json"]


# -- what the demo adds to fastfrac.kline ------------------------------------------------


def test_builtin_data_is_read_offline(monkeypatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the built-in data must not touch the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    bars = kline.load_builtin_ohlc()
    assert bars.shape == (7983, 4) and list(bars.columns) == list(kline.FEATURES)
    assert str(bars.index[0].date()) == "1986-03-13" and str(bars.index[-1].date()) == "2017-11-10"
    assert bars.dtypes.eq(np.float64).all() and np.isfinite(bars.to_numpy()).all()
    assert (bars["high"] >= bars["low"]).all()


def test_prepare_keeps_every_window() -> None:
    prepared = kline.prepare(kline.load_builtin_ohlc())
    n_windows = 7983 - kline.WINDOW
    assert len(prepared.train_index) == 6370 and len(prepared.test_index) == 1593
    both = np.concatenate([prepared.train_index, prepared.test_index])
    assert sorted(both) == list(range(n_windows))
    x, y = prepared.windows(prepared.test_index)
    assert np.array_equal(x, prepared.x_test) and np.array_equal(y, prepared.y_test)
    # Consecutive windows overlap by all but one row.
    x, y = prepared.windows([10, 11])
    assert np.array_equal(x[0, 1:], x[1, :-1]) and np.array_equal(x[1, -1], y[0])
    with pytest.raises(ValueError, match="window numbers must lie in"):
        prepared.windows([n_windows])
    bare = kline.Prepared(prepared.x_test, prepared.y_test, prepared.scaler)
    with pytest.raises(ValueError, match="without their series"):
        bare.windows([0])


def test_train_is_reproducible() -> None:
    import keras

    # A short random walk: 60 rows, 40 windows, 32 of them for training.
    prices = 10 + np.cumsum(np.random.default_rng(1).normal(0, 0.1, (60, 4)), axis=0)
    prepared = kline.prepare(prices)

    def trained() -> tuple[list[np.ndarray], list[tuple[int, float]]]:
        epochs: list[tuple[int, float]] = []
        keras.utils.set_random_seed(3)
        model = kline.build_model()
        kline.train(model, prepared, epochs=2, seed=3, batch_size=16,
                    on_epoch=lambda epoch, loss: epochs.append((epoch, loss)))
        return model.get_weights(), epochs

    first, epochs = trained()
    second, _ = trained()
    assert [e for e, _ in epochs] == [1, 2] and all(loss > 0 for _, loss in epochs)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    untrained = kline.build_model().get_weights()
    assert not all(np.array_equal(a, b) for a, b in zip(first, untrained))
