"""fastfrac.tflite: conversions of a small Keras model, run with LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")
tflite = pytest.importorskip("fastfrac.tflite")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 2))
    x = keras.layers.LSTM(32, unroll=True, name="lstm")(inputs)  # unrolled: builtin TFLite ops
    outputs = keras.layers.Dense(3, name="dense")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def flatbuffers(model) -> dict[str, bytes]:
    return {q: tflite.convert(model, q) for q in tflite.QUANTIZATIONS}


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(37, 6, 2)).astype(np.float32)


@pytest.mark.parametrize("kernels", ["default", "reference"])
@pytest.mark.parametrize(("quantization", "tolerance"), [("float32", 1e-5), ("float16", 1e-2), ("int8", 5e-2)])
def test_outputs_match_keras(model, flatbuffers, x, quantization, tolerance, kernels) -> None:
    want = model.predict(x, verbose=0)
    got = tflite.predict(flatbuffers[quantization], x, batch_size=10, kernels=kernels)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=tolerance)


def test_batching_does_not_change_results(flatbuffers, x) -> None:
    whole = tflite.predict(flatbuffers["float32"], x, batch_size=len(x))
    for batch_size in (1, 8, 36, 1000):
        np.testing.assert_array_equal(tflite.predict(flatbuffers["float32"], x, batch_size=batch_size), whole)
    assert tflite.predict(flatbuffers["float32"], x[:0]).shape == (0, 3)


def test_sizes_shrink_with_quantization(flatbuffers) -> None:
    sizes = {q: len(b) for q, b in flatbuffers.items()}
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]
    assert all(b[4:8] == b"TFL3" for b in flatbuffers.values())  # the flatbuffer identifier


def test_bad_arguments(model, flatbuffers, x) -> None:
    with pytest.raises(ValueError, match="quantization"):
        tflite.convert(model, "int4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        tflite.predict(flatbuffers["float32"], x, batch_size=0)
    with pytest.raises(ValueError, match="kernels must be 'default' or 'reference', not 'xnnpack'"):
        tflite.predict(flatbuffers["float32"], x, kernels="xnnpack")  # type: ignore[arg-type]
