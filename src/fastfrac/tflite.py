"""TensorFlow Lite baselines: convert a Keras model and run it with LiteRT.

Three conversions, the usual points of comparison for weight compression:

- ``"float32"``: no optimisation, the weights stay float32;
- ``"float16"``: weights stored as float16 (``Optimize.DEFAULT`` with
  ``supported_types=[tf.float16]``), computed in float32;
- ``"int8"``: dynamic-range quantisation (``Optimize.DEFAULT`` alone):
  weights stored as int8 with per-channel scales, activations float.

The size of a converted model is the length of the ``.tflite`` flatbuffer,
graph included, not the weights alone.  Models are run with the LiteRT
interpreter (``ai_edge_litert``), not TensorFlow's deprecated
``tf.lite.Interpreter``.

Recurrent layers must be unrolled (``LSTM(..., unroll=True)``) for
TensorFlow 2.21 to convert them to builtin TFLite ops; otherwise the
converter emits TensorList ops that need the Flex delegate, which LiteRT's
Python interpreter does not have.

TensorFlow is imported only when a function needs it.

Examples
--------
>>> import keras, numpy as np, fastfrac.tflite  # doctest: +SKIP
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])  # doctest: +SKIP
>>> flat = fastfrac.tflite.convert(model, "int8")  # doctest: +SKIP
>>> fastfrac.tflite.predict(flat, np.zeros((5, 3), np.float32)).shape  # doctest: +SKIP
(5, 2)
>>> from fastfrac.tflite import QUANTIZATIONS
>>> QUANTIZATIONS
('float32', 'float16', 'int8')
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Literal

import numpy as np

__all__ = ["QUANTIZATIONS", "Quantization", "convert", "predict"]

Quantization = Literal["float32", "float16", "int8"]
QUANTIZATIONS: tuple[Quantization, ...] = ("float32", "float16", "int8")


def convert(model: Any, quantization: Quantization = "float32") -> bytes:
    """Convert a Keras model to a TFLite flatbuffer.

    Parameters
    ----------
    model : keras.Model
        A built Keras 3 model (TensorFlow backend) with builtin-convertible
        layers (unroll recurrent layers first).
    quantization : {"float32", "float16", "int8"}
        See the module docstring.

    Returns
    -------
    bytes
        The ``.tflite`` file content; ``len()`` of it is the file size.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, not {quantization!r}")
    import tensorflow as tf  # deferred: heavy, and only needed here

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    # The Keras export behind from_keras_model prints the saved signature to
    # stdout; it says nothing the caller needs.
    with contextlib.redirect_stdout(io.StringIO()):
        flatbuffer = converter.convert()
    return bytes(flatbuffer)


def predict(
    tflite_model: bytes,
    x: np.ndarray,
    *,
    batch_size: int = 512,
    num_threads: int | None = None,
    kernels: Literal["default", "reference"] = "default",
) -> np.ndarray:
    """Run a single-input, single-output TFLite model on ``x`` with LiteRT.

    The input tensor is resized once to ``batch_size`` rows and ``x`` is fed
    in batches, the last one padded with zeros, so the interpreter allocates
    its tensors once however many rows there are.

    Parameters
    ----------
    tflite_model : bytes
        A flatbuffer from :func:`convert`.
    x : numpy.ndarray
        Inputs, first axis the batch; cast to the model's input type.
    batch_size : int
        Rows per interpreter call.
    num_threads : int, optional
        Interpreter threads (LiteRT's default when None).
    kernels : {"default", "reference"}
        ``"default"``: LiteRT's optimised kernels (XNNPACK), what a
        deployment runs; they choose code by CPU, so int8 results can differ
        between machines in the sixth significant digit.  ``"reference"``:
        its reference kernels (``OpResolverType.BUILTIN_REF``), the same
        arithmetic on every CPU, for figures that must reproduce anywhere.

    Returns
    -------
    numpy.ndarray
        The outputs for every row of ``x``.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # deferred like TensorFlow

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    resolvers = {"default": OpResolverType.AUTO, "reference": OpResolverType.BUILTIN_REF}
    if kernels not in resolvers:
        raise ValueError(f"kernels must be 'default' or 'reference', not {kernels!r}")
    interpreter = Interpreter(
        model_content=tflite_model,
        num_threads=num_threads,
        experimental_op_resolver_type=resolvers[kernels],
    )
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    x = np.asarray(x, dtype=inp["dtype"])
    n = len(x)
    batch = max(1, min(batch_size, n))
    interpreter.resize_tensor_input(inp["index"], [batch, *x.shape[1:]])
    interpreter.allocate_tensors()
    outputs = []
    for start in range(0, n, batch):
        chunk = x[start : start + batch]
        rows = len(chunk)
        if rows < batch:
            chunk = np.concatenate([chunk, np.zeros((batch - rows, *x.shape[1:]), x.dtype)])
        interpreter.set_tensor(inp["index"], np.ascontiguousarray(chunk))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(out["index"])[:rows].copy())
    if not outputs:
        return np.zeros((0, *out["shape"][1:]), dtype=out["dtype"])
    return np.concatenate(outputs)
