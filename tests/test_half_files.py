"""float16 and bfloat16 tensors through every file format and the Keras API.

Each approximated tensor must hold exactly the composition
``to_float(approximate(x, p, dtype=int64), digits, dtype=x.dtype)``, in its
own type; types nothing identifies stay as they are, with the reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import ml_dtypes
import numpy as np
import pytest

import fastfrac

from test_cli import ENV, expected, ok, report_rows, same_bits, write_safetensors

BF16 = np.dtype(ml_dtypes.bfloat16)


def weights(dtype, n=40, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.05, n).astype(dtype)


def test_npz_float16_approximated_and_opaque_2_byte_copied(tmp_path: Path) -> None:
    half = weights(np.float16)
    opaque = weights(BF16).view("V2")  # what numpy.save makes of bfloat16
    np.savez(tmp_path / "in.npz", half=half, opaque=opaque)
    ok("approximate", tmp_path / "in.npz", "-o", tmp_path / "out.npz", "-p", "3",
       "--json", tmp_path / "r.json", "-q")
    out = np.load(tmp_path / "out.npz")
    assert same_bits(out["half"], expected(half, 3))
    assert out["opaque"].tobytes() == opaque.tobytes()
    rows = report_rows(tmp_path / "r.json")
    assert rows["half"]["p"] == 3
    assert "opaque 2-byte type" in rows["opaque"]["copied"]


@pytest.mark.parametrize("code, dtype", [("F16", np.float16), ("BF16", BF16)])
def test_safetensors_half_round_trip(tmp_path: Path, code: str, dtype) -> None:
    x = weights(dtype, 1000).reshape(10, 100)
    write_safetensors(tmp_path / "in.safetensors", [("w", code, [10, 100], x.tobytes())])
    ok("approximate", tmp_path / "in.safetensors", "-o", tmp_path / "out.safetensors", "-p", "2",
       "--json", tmp_path / "r.json", "-q")
    data = (tmp_path / "out.safetensors").read_bytes()
    want = expected(x, 2)
    assert data.endswith(want.tobytes()) and len(data) == (tmp_path / "in.safetensors").stat().st_size
    row = report_rows(tmp_path / "r.json")["w"]
    widened = x.astype(np.float64)
    assert row["max_abs_error"] == float(np.abs(want.astype(np.float64) - widened).max())


def test_hdf5_float16_dataset_and_keras_bfloat16_attribute(tmp_path: Path) -> None:
    """A legacy .h5 with a float16 dataset and a bfloat16 one stored as Keras stores it."""
    half, bf = weights(np.float16), weights(BF16, seed=1)
    src = tmp_path / "model.h5"
    with h5py.File(src, "w") as f:
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [b"a", b"b"]
        group["a/a/kernel:0"] = half
        ds = group.create_dataset("b/b/kernel:0", data=bf.view("V2"))
        ds.attrs["dtype"] = "bfloat16"
    ok("approximate", src, "-o", tmp_path / "out.h5", "-p", "a=2,b=4", "-q")
    with h5py.File(tmp_path / "out.h5") as f:
        assert same_bits(f["model_weights/a/a/kernel:0"][()], expected(half, 2))
        stored = f["model_weights/b/b/kernel:0"]
        assert stored.attrs["dtype"] == "bfloat16" and stored.dtype.kind == "V"
        assert same_bits(stored[()].view(BF16), expected(bf, 4))


KERAS_HALF = textwrap.dedent(
    """
    import sys, warnings, json
    warnings.simplefilter("ignore")
    import numpy as np, keras
    from fastfrac.keras import approximate_model

    out = {}
    for policy in ("bfloat16", "float16", "mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, name="dense", dtype=policy)])
        small, report = approximate_model(model, {"dense": 2})
        kernel = model.get_layer("dense").get_weights()[0]
        new = small.get_layer("dense").get_weights()[0]
        np.save(f"{sys.argv[1]}/{policy}-before.npy", kernel.view(np.uint16) if kernel.itemsize == 2 else kernel)
        np.save(f"{sys.argv[1]}/{policy}-after.npy", new.view(np.uint16) if new.itemsize == 2 else new)
        out[policy] = [str(kernel.dtype), str(new.dtype), report.rows[0]["bits_per_value"]]
        model.save(f"{sys.argv[1]}/{policy}.keras")
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def keras_half(tmp_path_factory) -> tuple[Path, dict]:
    pytest.importorskip("keras")
    folder = tmp_path_factory.mktemp("keras-half")
    done = subprocess.run([sys.executable, "-c", KERAS_HALF, str(folder)], capture_output=True,
                          text=True, env=ENV, timeout=600, check=True)
    return folder, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("policy, dtype", [("bfloat16", BF16), ("float16", np.float16),
                                           ("mixed_bfloat16", np.float32)])
def test_approximate_model_keeps_the_variables_type(keras_half, policy, dtype) -> None:
    folder, info = keras_half
    before_dtype, after_dtype, bits = info[policy]
    assert before_dtype == after_dtype == np.dtype(dtype).name and bits is not None
    before = np.load(folder / f"{policy}-before.npy")
    after = np.load(folder / f"{policy}-after.npy")
    if np.dtype(dtype).itemsize == 2:
        before, after = before.view(dtype), after.view(dtype)
    assert same_bits(after, expected(before, 2))


@pytest.mark.parametrize("policy, dtype", [("bfloat16", BF16), ("float16", np.float16)])
def test_keras_archive_half_variables(keras_half, tmp_path: Path, policy, dtype) -> None:
    folder, _ = keras_half
    ok("approximate", folder / f"{policy}.keras", "-o", tmp_path / "o.keras", "-p", "dense=3",
       "--json", tmp_path / "r.json", "-q")
    rows = report_rows(tmp_path / "r.json")
    kernel = rows["layers/dense/vars/0"]
    assert kernel["p"] == 3 and kernel["dtype"] == np.dtype(dtype).name
    import zipfile

    with zipfile.ZipFile(folder / f"{policy}.keras") as a, zipfile.ZipFile(tmp_path / "o.keras") as b:
        a.extract("model.weights.h5", tmp_path / "a")
        b.extract("model.weights.h5", tmp_path / "b")
    with h5py.File(tmp_path / "a/model.weights.h5") as f, h5py.File(tmp_path / "b/model.weights.h5") as g:
        x, y = f["layers/dense/vars/0"][()], g["layers/dense/vars/0"][()]
        if x.dtype.kind == "V":
            x, y = x.view(BF16), y.view(BF16)
        assert same_bits(y, expected(x, 3))


def test_to_float_dtype_matches_the_model_paths() -> None:
    x = weights(BF16, 200)
    num, den = fastfrac.approximate(x, 2, dtype=np.int64)
    assert same_bits(fastfrac.to_float(num, den, 4, dtype=BF16), expected(x, 2))
