"""fastfrac.keras: per-layer approximation of Keras models, its report and the fractions container."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastfrac
from fastfrac import reference
from fastfrac._bits import bit_length

keras = pytest.importorskip("keras")
fk = pytest.importorskip("fastfrac.keras")
kline = pytest.importorskip("fastfrac.kline")


@pytest.fixture(scope="module")
def small_model():
    """Functional, with a wrapped layer (Bidirectional) and a weightless one (Dropout)."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((5, 3))
    x = keras.layers.Conv1D(4, 1, name="conv1d")(inputs)
    x = keras.layers.BatchNormalization(name="batch_normalization")(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(3, name="lstm"), name="bidirectional")(x)
    x = keras.layers.Dropout(0.1, name="dropout")(x)
    x = keras.layers.Dense(4, name="dense")(x)
    outputs = keras.layers.Dense(2, name="dense_1")(x)
    model = keras.Model(inputs, outputs)
    # Give the BatchNormalization statistics and the biases non-trivial values.
    model.set_weights([w + np.float32(0.01) * (i + 1) for i, w in enumerate(model.get_weights())])
    return model


@pytest.fixture(scope="module")
def seed_model(seed_dir):
    return kline.load_seed_weights(kline.build_model(), seed_dir)


def with_weights(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def rows_by_layer(report) -> dict[str, set]:
    out: dict[str, set] = {}
    for row in report.rows:
        out.setdefault(row["layer"], set()).add(row["p"])
    return out


def expected(w: np.ndarray, p: int, digits: int | None, mode: str = "decimal") -> np.ndarray:
    """The seed's pipeline through the pure-Python reference, int64 (unclamped) bound."""
    num, den = reference.approximate(w, p, mode=mode, dtype=np.int64)
    return reference.to_float(num, den, digits).astype(w.dtype)


# -- precision and digits -----------------------------------------------------------


def test_patterns_and_precedence(small_model) -> None:
    # Among patterns the first in the dict's order wins; an exact name beats them all.
    _, report = fk.approximate_model(small_model, {"*": 2, "dense*": 1, "dense_1": 3, "batch_*": None})
    assert rows_by_layer(report) == {
        "conv1d": {2},
        "batch_normalization": {2},
        "bidirectional": {2},
        "dense": {2},
        "dense_1": {3},
    }
    _, report = fk.approximate_model(small_model, {"dense*": 1, "*": 2, "batch_*": None})
    assert rows_by_layer(report) == {
        "conv1d": {2},
        "batch_normalization": {2},
        "bidirectional": {2},
        "dense": {1},
        "dense_1": {1},
    }
    # None keeps a layer; a key may name a layer without weights.
    _, report = fk.approximate_model(
        small_model, {"batch_normalization": None, "*": 2, "dropout": 4}
    )
    assert rows_by_layer(report)["batch_normalization"] == {None}
    assert rows_by_layer(report)["dense"] == {2}


def test_unmatched_layers_keep_their_weights(small_model) -> None:
    approximated, report = fk.approximate_model(small_model, {"dense": 1})
    for layer in with_weights(small_model):
        pairs = zip(layer.get_weights(), approximated.get_layer(layer.name).get_weights())
        same = [a.tobytes() == b.tobytes() for a, b in pairs]
        assert (not all(same)) if layer.name == "dense" else all(same)
    assert rows_by_layer(report)["dense_1"] == {None}
    assert report.totals["count"] == sum(w.size for w in small_model.get_layer("dense").get_weights())


def test_int_precision_covers_every_layer_with_weights(small_model) -> None:
    _, report = fk.approximate_model(small_model, 1)
    assert {row["p"] for row in report.rows} == {1}
    assert report.totals["count"] == report.totals["parameters"] == small_model.count_params()
    assert {row["layer"] for row in report.rows} == {layer.name for layer in with_weights(small_model)}


def test_unknown_key_lists_the_layers(small_model) -> None:
    with pytest.raises(ValueError, match="'lstm' matches no layer.*conv1d, batch_normalization"):
        fk.approximate_model(small_model, {"dense": 2, "lstm": 2})
    with pytest.raises(ValueError, match="matches no layer"):
        fk.approximate_model(small_model, {"dense_?9": 2})


@pytest.mark.parametrize("bad", [{"dense": -1}, {"dense": 19}, {"dense": 1.5}, {"dense": True}, "2"])
def test_bad_precision(small_model, bad) -> None:
    with pytest.raises(ValueError, match="precision"):
        fk.approximate_model(small_model, bad)


@pytest.mark.parametrize("bad", [0, -2, "3", "exactly", 2.0, True])
def test_bad_digits(small_model, bad) -> None:
    with pytest.raises(ValueError, match="digits"):
        fk.approximate_model(small_model, {"dense": 2}, digits=bad)


@pytest.mark.parametrize(
    ("digits", "mode"), [("2p", "decimal"), ("exact", "decimal"), (3, "decimal"), ("2p", "exact")]
)
def test_values_follow_the_reference(small_model, digits, mode) -> None:
    precision = {"conv1d": 0, "bidirectional": 2, "dense*": 3}
    approximated, report = fk.approximate_model(small_model, precision, digits=digits, mode=mode)
    for layer in with_weights(small_model):
        p = precision.get(layer.name, precision["dense*"] if layer.name.startswith("dense") else None)
        for w, got in zip(layer.get_weights(), approximated.get_layer(layer.name).get_weights()):
            if p is None:
                continue
            n = {"2p": max(2 * p, 1), "exact": None}.get(digits, digits)  # type: ignore[call-overload]
            assert got.dtype == np.float32
            assert got.tobytes() == expected(w, p, n, mode).tobytes()
    row = next(r for r in report.rows if r["layer"] == "dense")
    assert row["digits"] == {"2p": 6, "exact": "exact"}.get(digits, digits)  # type: ignore[call-overload]


def test_input_model_is_untouched(small_model) -> None:
    before = [w.copy() for w in small_model.get_weights()]
    approximated, _ = fk.approximate_model(small_model, 1)
    assert approximated is not small_model
    assert [layer.name for layer in approximated.layers][1:] == [
        layer.name for layer in small_model.layers
    ][1:]
    for a, b in zip(before, small_model.get_weights()):
        assert a.tobytes() == b.tobytes()
    assert any(
        a.tobytes() != b.tobytes() for a, b in zip(before, approximated.get_weights())
    )


def test_sequential_model() -> None:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="hidden"), keras.layers.Dense(1, name="out")]
    )
    approximated, report = fk.approximate_model(model, {"h*": 1})
    assert isinstance(approximated, keras.Sequential)
    w = model.get_layer("hidden").get_weights()[0]
    assert approximated.get_layer("hidden").get_weights()[0].tobytes() == expected(w, 1, 2).tobytes()
    x = np.ones((2, 4), np.float32)
    assert approximated.predict(x, verbose=0).shape == (2, 1)
    assert [r["weight"] for r in report.rows] == ["kernel", "bias", "kernel", "bias"]


def test_unbuilt_model_is_refused() -> None:
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="built"):
        fk.approximate_model(model, 1)


# -- the report -----------------------------------------------------------------------


def test_report_rows_totals_and_text(small_model) -> None:
    _, report = fk.approximate_model(small_model, {"dense*": 2, "conv1d": 4})
    keys = {"layer", "weight", "shape", "count", "p", "digits", "max_abs_error",
            "max_rel_error", "bits_per_value", "kernel_seconds"}
    assert all(set(row) == keys for row in report.rows)
    assert len(report.rows) == len(small_model.weights)
    names = [(r["layer"], r["weight"]) for r in report.rows]
    assert ("bidirectional", "forward_lstm/lstm_cell/recurrent_kernel") in names, names
    for row, tensor in zip(report.rows, report.tensors):
        if tensor.fractions is None:
            assert row["bits_per_value"] is None and row["max_abs_error"] == 0
            continue
        num, den = tensor.fractions
        bits = [abs(int(n)).bit_length() + 1 + int(d).bit_length() for n, d in zip(num.flat, den.flat)]
        assert row["bits_per_value"] == pytest.approx(np.mean(bits), rel=1e-12)
        assert row["count"] == num.size and row["shape"] == num.shape
    done = [r for r in report.rows if r["p"] is not None]
    assert report.totals["count"] == sum(r["count"] for r in done)
    assert report.totals["max_abs_error"] == max(r["max_abs_error"] for r in done)
    assert report.totals["kernel_seconds"] == pytest.approx(sum(r["kernel_seconds"] for r in report.rows))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["rows"][0]["shape"] == list(report.rows[0]["shape"])
    assert set(data["totals"]) >= {"count", "parameters", "bits_per_value", "kernel_seconds"}
    lines = str(report).splitlines()
    assert lines[0].split()[:3] == ["layer", "weight", "shape"]
    assert len(lines) == len(report.rows) + 2 and lines[-1].startswith("total:")
    # Aligned: every right-aligned numeric column ends at the same offset as its header.
    end = lines[0].index("count") + len("count")
    assert all(line[end - 1] != " " for line in lines[1:-1])


def test_bit_length_is_exact() -> None:
    values = np.array([0, 1, -1, 2**31, -(2**62) - 1, 2**63 - 1, -(2**63)], dtype=np.int64)
    assert bit_length(values).tolist() == [abs(int(v)).bit_length() for v in values]


# -- the fractions container ---------------------------------------------------------


def narrowest(values: np.ndarray) -> np.dtype:
    """The narrowest integer type holding the values, unsigned when none is negative."""
    low, high = int(values.min()), int(values.max())
    for bits in (8, 16, 32, 64):
        kind = np.dtype(f"{'u' if low >= 0 else ''}int{bits}")
        if np.iinfo(kind).min <= low and high <= np.iinfo(kind).max:
            return kind
    raise AssertionError("no integer type holds the values")


def container_meta(path) -> dict:
    with np.load(path) as data:
        return json.loads(str(data["__fastfrac__"]))


def test_container_round_trips_exactly(small_model, tmp_path) -> None:
    approximated, report = fk.approximate_model(small_model, {"dense*": 2, "conv1d": 9})
    path = tmp_path / "weights.fractions.npz"  # version 2: NumPy reads it
    size = fk.save_fractions(report, path)
    assert size == path.stat().st_size
    assert fk.save_fractions(approximated, tmp_path / "b.npz") == size  # the model finds its report
    assert (tmp_path / "b.npz").read_bytes() == path.read_bytes()  # and writes the same bytes
    with zipfile.ZipFile(path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    with np.load(path) as data:
        assert "dense/kernel.num" in data.files and "dense/kernel.den" in data.files
        assert "batch_normalization/gamma" in data.files
        assert data["batch_normalization/gamma"].dtype == np.float32
        for tensor in report.tensors:
            if tensor.fractions is not None:
                assert data[f"{tensor.name}.num"].dtype == narrowest(tensor.fractions.num)
                assert data[f"{tensor.name}.den"].dtype == narrowest(tensor.fractions.den)
                assert data[f"{tensor.name}.den"].dtype.kind == "u"
    meta = container_meta(path)
    assert (meta["format"], meta["version"], meta["mode"]) == ("fastfrac-fractions", 2, "decimal")
    assert [m["name"] for m in meta["tensors"]] == [t.name for t in report.tensors]
    assert meta["tensors"][0] == {"name": "conv1d/kernel", "layer": "conv1d", "kind": "fractions",
                                  "shape": [1, 3, 4], "dtype": "float32", "p": 9, "digits": 18}
    gamma = next(m for m in meta["tensors"] if m["name"] == "batch_normalization/gamma")
    assert gamma == {"name": "batch_normalization/gamma", "layer": "batch_normalization",
                     "kind": "plain", "shape": [4], "dtype": "float32", "p": None, "digits": None}
    loaded = fk.load_fractions(path)
    assert loaded.mode == "decimal"
    assert [t.name for t in loaded.tensors] == [t.name for t in report.tensors]
    for got, want in zip(loaded.tensors, report.tensors):
        assert (got.layer, got.weight, got.p, got.digits) == (want.layer, want.weight, want.p, want.digits)
        assert got.values.dtype == want.values.dtype
        assert got.values.tobytes() == want.values.tobytes()
        if want.fractions is None:
            assert got.fractions is None
        else:
            assert np.array_equal(got.fractions.num, want.fractions.num)
            assert np.array_equal(got.fractions.den, want.fractions.den)
    assert set(loaded.fractions()) == {t.name for t in report.tensors if t.fractions is not None}
    for got, want in zip(loaded.arrays().values(), approximated.get_weights()):
        assert got.tobytes() == want.tobytes()
    target = keras.models.clone_model(small_model)
    loaded.set_weights(target)
    for a, b in zip(target.get_weights(), approximated.get_weights()):
        assert a.tobytes() == b.tobytes()


def test_container_of_a_plain_model_keeps_every_weight(small_model, tmp_path) -> None:
    fk.save_fractions(small_model, tmp_path / "plain.npz")
    loaded = fk.load_fractions(tmp_path / "plain.npz")
    assert loaded.mode is None and loaded.fractions() == {}
    assert all(t.fractions is None for t in loaded.tensors)
    assert {m["kind"] for m in container_meta(tmp_path / "plain.npz")["tensors"]} == {"plain"}
    for a, b in zip(loaded.arrays().values(), small_model.get_weights()):
        assert a.dtype == np.float32 and a.tobytes() == b.tobytes()


def test_not_a_container(tmp_path) -> None:
    np.savez_compressed(tmp_path / "other.npz", a=np.zeros(2))
    np.save(tmp_path / "array.npy", np.zeros(2))
    for name in ("other.npz", "array.npy"):
        with pytest.raises(ValueError, match="not a fastfrac fractions container"):
            fk.load_fractions(tmp_path / name)
    header = json.dumps({"format": "fastfrac-fractions", "version": 1, "tensors": []})
    np.savez_compressed(tmp_path / "old.npz", __fastfrac__=np.array(header))
    with pytest.raises(ValueError, match="unsupported container format 'fastfrac-fractions' version 1"):
        fk.load_fractions(tmp_path / "old.npz")


def test_a_failed_save_leaves_no_file(tmp_path) -> None:
    from fastfrac._io.container import Tensor

    path = tmp_path / "w.npz"
    twins = [Tensor("d/kernel", np.float32([0.5]), layer="d")] * 2
    with pytest.raises(ValueError, match="already has a key 'd/kernel'"):
        fk.save_fractions(fk.ApproximationReport([], twins), path)
    assert not path.exists()


# -- lazy TensorFlow ------------------------------------------------------------------


def test_importing_does_not_load_tensorflow() -> None:
    code = (
        "import sys, fastfrac, fastfrac.keras, fastfrac.kline, fastfrac.tflite\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'ai_edge_litert', 'sklearn', 'pandas')"
        " if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- the seed model ---------------------------------------------------------------------


def test_seed_map_is_bit_identical_to_the_seed_pipeline(seed_model) -> None:
    approximated, report = fk.approximate_model(seed_model, kline.SEED_PRECISION)
    checked = 0
    for layer in with_weights(seed_model):
        p = kline.SEED_PRECISION.get(layer.name)
        for w, got in zip(layer.get_weights(), approximated.get_layer(layer.name).get_weights()):
            if p is None:
                assert got.tobytes() == w.tobytes()
                continue
            # The int64 cap never binds here, so this is the seed's unclamped bound.
            assert int(reference.max_denominator(w, p, dtype=np.int64).max()) < 2**63 - 1
            assert got.tobytes() == expected(w, p, 2 * p).tobytes()
            checked += w.size
    assert checked == report.totals["count"] == 93_124
    assert report.totals["parameters"] == 93_892


def test_int32_clamp_matters_on_the_seed(seed_model) -> None:
    """Why the model path uses int64: int32's bound clamp changes a seed weight."""
    w = seed_model.get_layer("dense_1").get_weights()[0]
    n32, d32 = fastfrac.approximate(w, 4)
    n64, d64 = fastfrac.approximate(w, 4, dtype=np.int64)
    assert np.count_nonzero((n32 != n64) | (d32 != d64)) >= 1


def test_seed_kernel_time(seed_model) -> None:
    """The acceptance budget is 50 ms; the test allows slack for a loaded machine."""
    best = min(
        fk.approximate_model(seed_model, kline.SEED_PRECISION)[1].totals["kernel_seconds"]
        for _ in range(2)
    )
    assert 0 < best < 0.25
