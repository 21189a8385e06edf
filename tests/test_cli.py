"""The ``fastfrac`` command, run through its real entry point in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import fastfrac

safetensors_numpy = pytest.importorskip("safetensors.numpy")
from safetensors import safe_open  # noqa: E402  (after the importorskip above)

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
SEED_SPEC = "conv1d=4,bidirectional=2,dense=2,dense_1=4"


def run(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m fastfrac ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "fastfrac", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=ENV, timeout=600,
    )


def error_line(stderr: str, command: str = "approximate") -> str:
    """The one error line of a failed run; every other stderr line must be plain progress.

    Without a terminal, --progress auto writes plain progress lines to stderr,
    so an error may follow one; the error itself is always a single line and
    never a traceback.
    """
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith(f"fastfrac {command}: error: ")]
    assert len(errors) == 1, stderr
    others = [line for line in lines if line not in errors]
    assert all(line.startswith(f"fastfrac {command}: ") for line in others), stderr
    return errors[0]


def ok(*args: object) -> subprocess.CompletedProcess[str]:
    out = run(*args)
    assert out.returncode == 0, out.stderr
    return out


def expected(x: np.ndarray, p: int, digits: object = "2p", mode: str = "decimal") -> np.ndarray:
    """What the command must store for x: the kernel's int64 fractions, rounded, cast back."""
    n = max(2 * p, 1) if digits == "2p" else None if digits == "exact" else int(digits)  # type: ignore[call-overload]
    num, den = fastfrac.approximate(x, p, mode=mode, dtype=np.int64)
    return fastfrac.to_float(num, den, n).astype(x.dtype)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def report_rows(path: Path) -> dict[str, dict]:
    return {row["name"]: row for row in json.loads(path.read_text())["tensors"]}


# -- Keras files, made by Keras in a subprocess ----------------------------------------

KERAS_SCRIPT = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np, keras

    class Counter(keras.layers.Layer):
        # A custom layer with an int32 weight; the command's process never imports it.
        def build(self, shape):
            self.steps = self.add_weight(shape=(3,), dtype="int32", initializer="zeros",
                                         trainable=False, name="steps")
            self.scale = self.add_weight(shape=(shape[-1],), initializer="ones", name="scale")

        def call(self, x):
            return x * self.scale

    inputs = keras.Input((6, 4))
    x = keras.layers.Conv1D(8, 1, activation="relu", name="conv1d")(inputs)
    x = keras.layers.BatchNormalization(name="batch_normalization")(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), name="bidirectional")(x)
    x = keras.layers.Dense(8, name="dense")(x)
    x = Counter(name="counter")(x)
    x = keras.layers.Dense(6, dtype="float16", name="half")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(4, name="dense_1")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(7)
    model.set_weights([
        rng.normal(0, 0.05, w.shape).astype(w.dtype) if w.dtype.kind == "f"
        else np.arange(w.size, dtype=w.dtype).reshape(w.shape) + 1
        for w in model.get_weights()
    ])
    model.compile("adam", "mse")  # optimizer state in the files
    model.optimizer.build(model.trainable_variables)
    model.save(sys.argv[1] + "/model.keras")
    model.save(sys.argv[1] + "/model.h5")
    model.save_weights(sys.argv[1] + "/model.weights.h5")
    """
)
# The p the test SPEC gives each layer (batch_normalization kept; half, a float16
# layer, approximated in float16 by the bare P).
KERAS_SPEC = SEED_SPEC + ",batch_*=-,3"
KERAS_P = {"conv1d": 4, "bidirectional": 2, "dense": 2, "dense_1": 4, "counter": 3, "half": 3}
# .keras keys a Functional model's layers by class name in model order, not by name.
KERAS_KEYS = {"conv1d": "conv1d", "batch_normalization": "batch_normalization",
              "bidirectional": "bidirectional", "dense": "dense", "counter": "counter",
              "dense_1": "half", "flatten": "flatten", "dense_2": "dense_1"}


@pytest.fixture(scope="session")
def keras_files(tmp_path_factory) -> Path:
    pytest.importorskip("keras")
    folder = tmp_path_factory.mktemp("keras")
    subprocess.run([sys.executable, "-c", KERAS_SCRIPT, str(folder)], check=True, env=ENV,
                   capture_output=True, timeout=600)
    return folder


def keras3_layer(path: str) -> str | None:
    """The layer of a dataset in the Keras 3 layout (.keras, .weights.h5) of the test model."""
    parts = path.split("/")
    return KERAS_KEYS.get(parts[1]) if parts[0] == "layers" and len(parts) > 2 else None


def legacy_layer(path: str) -> str | None:
    """The layer of a dataset in a legacy .h5 model file."""
    parts = path.split("/")
    return parts[1] if parts[0] == "model_weights" and len(parts) > 2 else None


def h5_objects(f: h5py.File) -> dict[str, tuple]:
    """path -> (kind, attributes, data bytes) for every group and dataset."""

    def attrs(obj) -> dict:
        return {k: (np.asarray(v).dtype.str, repr(np.asarray(v).tolist())) for k, v in obj.attrs.items()}

    out = {"/": ("group", attrs(f), None)}
    f.visititems(lambda name, obj: out.__setitem__(name, (
        "dataset" if isinstance(obj, h5py.Dataset) else "group",
        attrs(obj),
        (obj.dtype.str, obj.shape, obj[()].tobytes() if obj.shape else np.asarray(obj[()]).tobytes())
        if isinstance(obj, h5py.Dataset) else None,
    )))
    return out


def check_h5(before: h5py.File, after: h5py.File, layer_of, p_of: dict[str, int]) -> int:
    """Approximated datasets hold the kernel's values; everything else is identical."""
    old, new = h5_objects(before), h5_objects(after)
    assert old.keys() == new.keys()
    changed = 0
    for path, (kind, attrs, data) in old.items():
        assert new[path][:2] == (kind, attrs), path
        layer = layer_of(path)
        ds = before[path] if kind == "dataset" else None
        if ds is not None and layer in p_of and ds.dtype in (np.float16, np.float32, np.float64):
            assert same_bits(after[path][()], expected(ds[()], p_of[layer])), path
            changed += 1
        else:
            assert new[path][2] == data, path
    return changed


def test_keras_archive_round_trip(keras_files, tmp_path) -> None:
    src, out = keras_files / "model.keras", tmp_path / "small.keras"
    ok("approximate", src, "-o", out, "-p", KERAS_SPEC, "--json", tmp_path / "r.json")
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        assert [i.filename for i in a.infolist()] == [i.filename for i in b.infolist()]
        for info in a.infolist():
            assert b.getinfo(info.filename).date_time == info.date_time
            if info.filename != "model.weights.h5":
                assert a.read(info) == b.read(info.filename), info.filename
        a.extract("model.weights.h5", tmp_path / "a")
        b.extract("model.weights.h5", tmp_path / "b")
    with h5py.File(tmp_path / "a/model.weights.h5") as before, h5py.File(tmp_path / "b/model.weights.h5") as after:
        # conv1d 2 + bidirectional 6 + dense 2 + dense_1 2 + counter's float scale 1 + half 2
        assert check_h5(before, after, keras3_layer, KERAS_P) == 15
    rows = report_rows(tmp_path / "r.json")
    # Keras saves trainable variables first: the float scale, then the int32 steps.
    assert rows["layers/counter/vars/1"]["copied"] == "integer tensor"
    assert rows["layers/counter/vars/0"]["p"] == 3 and rows["layers/counter/vars/0"]["layer"] == "counter"
    # The float16 layer "half" is stored under the key "dense_1", and "dense_1" under "dense_2".
    assert rows["layers/dense_1/vars/0"] == {**rows["layers/dense_1/vars/0"], "layer": "half",
                                            "dtype": "float16", "p": 3}
    assert rows["layers/dense_2/vars/0"]["layer"] == "dense_1" and rows["layers/dense_2/vars/0"]["p"] == 4
    assert rows["layers/batch_normalization/vars/0"]["copied"] == "kept by SPEC"
    # Adam's step counter is an integer; its moments are float optimizer state.
    assert rows["optimizer/vars/0"]["copied"] == "integer tensor"
    assert rows["optimizer/vars/2"]["copied"] == "optimizer state (approximated only when SPEC names its path exactly)"
    assert rows["optimizer/vars/2"]["optimizer"] is True and rows["optimizer/vars/2"]["layer"] is None


def test_legacy_h5_round_trip(keras_files, tmp_path) -> None:
    src, out = keras_files / "model.h5", tmp_path / "small.h5"
    ok("approximate", src, "-o", out, "-p", KERAS_SPEC)
    with h5py.File(src) as before, h5py.File(out) as after:
        assert check_h5(before, after, legacy_layer, KERAS_P) == 15


def test_keras3_weights_file_round_trip(keras_files, tmp_path) -> None:
    # model.save_weights() writes the layout of the .keras archive's model.weights.h5.
    src, out = keras_files / "model.weights.h5", tmp_path / "small.weights.h5"
    ok("approximate", src, "-o", out, "-p", KERAS_SPEC)
    with h5py.File(src) as before, h5py.File(out) as after:
        assert check_h5(before, after, keras3_layer, KERAS_P) == 15


def test_keras_files_never_import_tensorflow(keras_files, tmp_path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from fastfrac.cli import main
        status = main(["approximate", {str(keras_files / "model.keras")!r}, "-o",
                       {str(tmp_path / "out.keras")!r}, "-p", "3", "-q"])
        heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
        print(status, heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.stdout.split("\n")[0] == "0 []", out.stderr


def test_unknown_layer_lists_the_layers(keras_files, tmp_path) -> None:
    out = run("approximate", keras_files / "model.keras", "-o", tmp_path / "o.keras", "-p", "lstm=2")
    assert out.returncode == 1
    assert "matches no layer; the layers are: " in out.stderr
    assert "conv1d" in out.stderr and "half" in out.stderr and "\n" not in out.stderr.strip()
    assert list(tmp_path.iterdir()) == []


def test_keras2_weights_file_in_chunks(tmp_path) -> None:
    # The Keras 2 weights-only layout, with a dataset of more than one chunk (2**20 values).
    src, out = tmp_path / "w.h5", tmp_path / "o.h5"
    big = np.random.default_rng(1).normal(0, 0.05, (1030, 1024)).astype(np.float32)
    with h5py.File(src, "w") as f:
        f.attrs["layer_names"] = [b"big", b"other"]
        g = f.create_group("big")
        g.attrs["weight_names"] = [b"big/kernel:0"]
        g.create_dataset("big/kernel:0", data=big, chunks=(100, 1024), compression="gzip")
        f.create_group("other").create_dataset("other/bias:0", data=np.float32([0.123, 0.5]))
    ok("approximate", src, "-o", out, "-p", "big=3", "--json", tmp_path / "r.json")
    with h5py.File(out) as f:
        assert same_bits(f["big/big/kernel:0"][()], expected(big, 3))
        assert f["big/big/kernel:0"].compression == "gzip"
        assert same_bits(f["other/other/bias:0"][()], np.float32([0.123, 0.5]))
    row = report_rows(tmp_path / "r.json")["other/other/bias:0"]
    assert row["layer"] == "other" and row["copied"] == "not chosen by SPEC"


# -- safetensors ----------------------------------------------------------------------

ST_SPEC = "layer.*=2,*.w=3,layer.0.b=5,hal[f]=4,1"  # a glob reaches the float16 tensor
# exact name > first matching glob (layer.* before *.w) > bare P; float16/int/bool copied.
ST_P = {"embed.weight": 1, "layer.0.w": 2, "layer.0.b": 5, "layer.1.w": 2, "head.w": 3, "half": 4}


@pytest.fixture()
def st_file(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    tensors = {
        "embed.weight": rng.normal(0, 0.05, (40, 8)).astype(np.float32),
        "layer.0.w": rng.normal(0, 0.05, (8, 8)),  # float64
        "layer.0.b": rng.normal(0, 0.05, 8).astype(np.float32),
        "layer.1.w": rng.normal(0, 1.0, (8, 3)).astype(np.float32),
        "head.w": np.float32([[0.1, -0.33333334, 0.0, 1e-9, 250.0]]),
        "half": rng.normal(0, 0.05, 6).astype(np.float16),
        "ids": np.arange(5, dtype=np.int64),
        "mask": np.array([True, False]),
    }
    path = tmp_path / "in.safetensors"
    safetensors_numpy.save_file(tensors, str(path), metadata={"format": "pt", "note": "kept"})
    return path, tensors


def test_safetensors_round_trip(st_file, tmp_path) -> None:
    src, tensors = st_file
    out = tmp_path / "out.safetensors"
    ok("approximate", src, "-o", out, "-p", ST_SPEC, "--json", tmp_path / "r.json")
    n = int.from_bytes(src.read_bytes()[:8], "little")
    assert out.read_bytes()[: 8 + n] == src.read_bytes()[: 8 + n]  # header and metadata
    assert out.stat().st_size == src.stat().st_size
    with safe_open(str(out), "np") as f:
        assert f.metadata() == {"format": "pt", "note": "kept"}
        assert list(f.keys()) == sorted(tensors)
    loaded = safetensors_numpy.load_file(str(out))
    for name, x in tensors.items():
        want = expected(x, ST_P[name]) if name in ST_P else x
        assert same_bits(loaded[name], want), name
    rows = report_rows(tmp_path / "r.json")
    assert {k: r.get("p") for k, r in rows.items() if "copied" not in r} == ST_P
    assert rows["half"]["dtype"] == "F16" and loaded["half"].dtype == np.float16
    assert rows["ids"]["copied"] == "integer tensor" and rows["mask"]["copied"] == "boolean tensor"
    row = rows["head.w"]
    assert row["shape"] == [1, 5] and row["dtype"] == "F32" and row["count"] == 5
    assert row["digits"] == 6 and row["seconds"] >= 0 and row["bits_per_value"] > 0
    assert row["max_abs_error"] == float(np.abs(want_of(tensors, "head.w") - tensors["head.w"]).max())


def want_of(tensors: dict[str, np.ndarray], name: str) -> np.ndarray:
    return expected(tensors[name], ST_P[name]).astype(np.float64)


def write_safetensors(path: Path, entries: list[tuple[str, str, list[int], bytes]]) -> None:
    """A safetensors file written by hand (dtypes NumPy lacks, such as BF16)."""
    header, offset, blobs = {}, 0, []
    for name, dtype, shape, blob in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def test_safetensors_bfloat16_is_approximated_in_bfloat16(tmp_path) -> None:
    import ml_dtypes

    w = np.float32([0.1, 0.2, 0.3])
    bf = np.array([0.1, -0.37, 3.5, 1e-3], dtype=ml_dtypes.bfloat16)
    write_safetensors(tmp_path / "in.safetensors",
                      [("bf", "BF16", [4], bf.tobytes()), ("w", "F32", [3], w.tobytes())])
    ok("approximate", tmp_path / "in.safetensors", "-o", tmp_path / "out.safetensors", "-p", "2",
       "--json", tmp_path / "r.json")
    data = (tmp_path / "out.safetensors").read_bytes()
    want = expected(bf, 2)
    assert want.dtype == bf.dtype and want.tobytes() in data and data.endswith(expected(w, 2).tobytes())
    row = report_rows(tmp_path / "r.json")["bf"]
    assert row["p"] == 2 and row["dtype"] == "BF16" and "copied" not in row


# -- npz ------------------------------------------------------------------------------


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_round_trip(save, tmp_path) -> None:
    rng = np.random.default_rng(5)
    arrays = {
        "w": rng.normal(0, 0.05, (30, 7)).astype(np.float32),
        "fortran": np.asfortranarray(rng.normal(0, 0.05, (6, 5))),
        "big_endian": rng.normal(0, 0.05, 9).astype(">f4"),
        "half": rng.normal(0, 0.05, 4).astype(np.float16),
        "steps": np.int64(12),
        "conv/kernel": rng.normal(0, 0.05, (1, 4, 3)).astype(np.float32),
        "objects": np.array([{"a": 1}, None], dtype=object),
    }
    src, out = tmp_path / "in.npz", tmp_path / "out.npz"
    save(src, **arrays)
    ok("approximate", src, "-o", out, "-p", "conv/*=4,3", "--mode", "exact", "--digits", "5")
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        assert [(i.filename, i.compress_type) for i in a.infolist()] == \
            [(i.filename, i.compress_type) for i in b.infolist()]
    loaded = np.load(out, allow_pickle=True)
    for name, x in arrays.items():
        got = loaded[name]
        if name == "objects":
            assert got.tolist() == x.tolist()
        elif x.dtype.kind == "f" and x.dtype.itemsize >= 4:
            want = expected(x, 4 if name.startswith("conv/") else 3, 5, "exact")
            assert same_bits(got, want.astype(x.dtype)) and got.flags.f_contiguous == x.flags.f_contiguous, name
        else:
            assert same_bits(got, x), name


def test_npz_tensor_larger_than_a_chunk(tmp_path) -> None:
    x = np.random.default_rng(2).normal(0, 0.05, 2**20 + 5).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    ok("approximate", tmp_path / "in.npz", "-o", tmp_path / "out.npz", "-p", "2", "-q")
    assert same_bits(np.load(tmp_path / "out.npz")["x"], expected(x, 2))


def test_fractions_container(tmp_path) -> None:
    rng = np.random.default_rng(4)
    arrays = {"a": rng.normal(0, 0.05, (5, 4)).astype(np.float32),
              "f": np.asfortranarray(rng.normal(0, 2.0, (3, 4))),
              "n": np.arange(3)}
    np.savez(tmp_path / "in.npz", **arrays)
    ok("approximate", tmp_path / "in.npz", "-o", tmp_path / "out.npz", "-p", "a=1,f=5",
       "--fractions", tmp_path / "fr.npz", "--digits", "exact")
    container = np.load(tmp_path / "fr.npz")
    assert sorted(container.files) == ["__fastfrac__", "a.den", "a.num", "f.den", "f.num"]
    assert container.zip.getinfo("a.num.npy").compress_type == zipfile.ZIP_DEFLATED
    meta = json.loads(str(container["__fastfrac__"]))
    assert (meta["format"], meta["version"], meta["mode"]) == ("fastfrac-fractions", 2, "decimal")
    assert meta["tensors"][0] == {"name": "a", "layer": None, "kind": "fractions", "shape": [5, 4],
                                  "dtype": "float32", "p": 1, "digits": None}
    assert meta["tensors"][1]["dtype"] == "float64"
    written = np.load(tmp_path / "out.npz")
    for name, p in (("a", 1), ("f", 5)):
        num, den = fastfrac.approximate(arrays[name], p, dtype=np.int64)
        got_num, got_den = container[f"{name}.num"], container[f"{name}.den"]
        assert np.array_equal(got_num, num) and np.array_equal(got_den, den)
        # The narrowest integer types: no smaller one holds the values.
        for got in (got_num, got_den):
            smaller = [t for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32)
                       if np.dtype(t).itemsize < got.dtype.itemsize]
            assert all(not (np.iinfo(t).min <= got.min() and got.max() <= np.iinfo(t).max) for t in smaller)
        decoded = fastfrac.to_float(got_num, got_den).astype(arrays[name].dtype)
        assert same_bits(decoded, written[name])


def test_cli_container_loads_with_load_fractions(tmp_path) -> None:
    """The command line's container is the Keras one: load_fractions gives OUT's weights."""
    from fastfrac.keras import load_fractions  # TensorFlow is not needed to read

    rng = np.random.default_rng(6)
    arrays = {"conv/kernel": rng.normal(0, 0.05, (3, 2, 4)).astype(np.float32),
              "f": np.asfortranarray(rng.normal(0, 2.0, (3, 4))),
              "big": rng.normal(0, 0.05, 2**20 + 3).astype(np.float32),  # two chunks
              "kept": rng.normal(0, 0.05, 4).astype(np.float32)}
    np.savez(tmp_path / "in.npz", **arrays)
    ok("approximate", tmp_path / "in.npz", "-o", tmp_path / "out.npz", "-p", "conv/*=4,kept=-,2",
       "--fractions", tmp_path / "fr.npz", "--mode", "exact", "-q")
    loaded = load_fractions(tmp_path / "fr.npz")
    assert loaded.mode == "exact"
    assert [t.name for t in loaded.tensors] == ["conv/kernel", "f", "big"]  # file order, kept left out
    written = np.load(tmp_path / "out.npz")
    for tensor in loaded.tensors:
        assert same_bits(tensor.values, written[tensor.name]), tensor.name
        assert tensor.layer is None and tensor.p == (4 if tensor.name == "conv/kernel" else 2)
        assert tensor.digits == 2 * tensor.p
    with np.load(tmp_path / "fr.npz") as data:
        assert data["f.num"].flags.f_contiguous  # stored in the file's order


def test_keras_file_container_loads_with_load_fractions(keras_files, tmp_path) -> None:
    from fastfrac.keras import load_fractions

    out = tmp_path / "small.weights.h5"
    ok("approximate", keras_files / "model.weights.h5", "-o", out, "-p", KERAS_SPEC,
       "--fractions", tmp_path / "fr.npz", "-q")
    loaded = load_fractions(tmp_path / "fr.npz")
    assert len(loaded.tensors) == 15  # the float16 layer "half" too, decoded in float16
    with h5py.File(out) as f:
        for tensor in loaded.tensors:
            assert same_bits(tensor.values, f[tensor.name][()]), tensor.name
            assert KERAS_P[keras3_layer(tensor.name)] == tensor.p


def test_container_memory_is_bounded(tmp_path) -> None:
    """A tensor far larger than the writer's memory budget, given in chunks, costs only the budget."""
    import tracemalloc

    from fastfrac._io.container import ContainerWriter, read

    n, chunk = 3 << 20, 1 << 16  # 48 MB of int64 numerators and denominators

    def fractions(start: int) -> fastfrac.Fractions:
        k = np.arange(start, start + chunk, dtype=np.int64)
        return fastfrac.Fractions(k % 1999 - 999, k % 257 + 1)

    path = tmp_path / "big.npz"
    tracemalloc.start()
    try:
        with ContainerWriter(path, mode="decimal", spill_bytes=1 << 20) as writer:
            sink = writer.fractions("big", (n,), np.float32, p=3, digits=None)
            for start in range(0, n, chunk):
                sink.add(fractions(start))
            sink.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak / 1e6:.1f} MB"
    got = read(path).tensors[0].fractions
    assert got is not None
    with np.load(path) as data:
        assert (data["big.num"].dtype, data["big.den"].dtype) == (np.int16, np.uint16)
    k = np.arange(n, dtype=np.int64)
    assert np.array_equal(got.num, k % 1999 - 999) and np.array_equal(got.den, k % 257 + 1)


def test_container_writer_refuses_an_incomplete_tensor(tmp_path) -> None:
    from fastfrac._io.container import ContainerWriter

    with ContainerWriter(tmp_path / "w.npz", mode="decimal") as writer:
        sink = writer.fractions("w", (2, 3), np.float32, p=2, digits=4)
        sink.add(fastfrac.Fractions(np.arange(4), np.ones(4, dtype=np.int64)))
        with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 values\) but 4 were added"):
            sink.close()
        writer.fractions("v", (1,), np.float32, p=2, digits=4)
        with pytest.raises(ValueError, match="'w' was never closed"):
            writer.close()


def test_no_tensorflow_nor_h5py_for_safetensors_and_npz(st_file, tmp_path) -> None:
    src, _ = st_file
    np.savez(tmp_path / "in.npz", w=np.float32([0.25]))
    code = textwrap.dedent(
        f"""
        import sys
        from fastfrac.cli import main
        a = main(["approximate", {str(src)!r}, "-o", {str(tmp_path / "o.safetensors")!r}, "-p", "2", "-q"])
        b = main(["approximate", {str(tmp_path / "in.npz")!r}, "-o", {str(tmp_path / "o.npz")!r}, "-p", "2", "-q"])
        print(a, b, sorted(m for m in ("tensorflow", "keras", "h5py") if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.stdout.strip() == "0 0 []", out.stderr


# -- SPEC precedence and summary ------------------------------------------------------


def test_spec_precedence_and_keep(tmp_path) -> None:
    names = ["dense", "dense_1", "dense_2", "conv1d", "norm"]
    np.savez(tmp_path / "in.npz", **{n: np.float32([0.3]) for n in names})
    out = ok("approximate", tmp_path / "in.npz", "-o", tmp_path / "out.npz",
             "-p", "dense_*=3,dense_1=5,d*=2,norm=-,1", "--json", tmp_path / "r.json")
    rows = report_rows(tmp_path / "r.json")
    assert {n: rows[n].get("p") for n in names} == \
        {"dense": 2, "dense_1": 5, "dense_2": 3, "conv1d": 1, "norm": None}
    assert rows["norm"]["copied"] == "kept by SPEC"
    assert "4 of 5 tensors approximated" in out.stdout and "conv1d" in out.stdout


# -- errors ---------------------------------------------------------------------------


def _st(path: Path) -> None:
    safetensors_numpy.save_file({"w": np.float32([0.5, 0.25]), "v": np.float32([1.0, 0.0])}, str(path))


ERRORS = {
    # name: (files to create, argv after "approximate", exit status, message fragment)
    "bad p": ("st", ["IN", "-o", "OUT", "-p", "w=x"], 2, "is not a precision"),
    "two bare p": ("st", ["IN", "-o", "OUT", "-p", "4,2"], 2, "more than one bare precision"),
    "p too large": ("st", ["IN", "-o", "OUT", "-p", "w=19"], 2, "must lie in 0..18"),
    "empty item": ("st", ["IN", "-o", "OUT", "-p", "w=2,,3"], 2, "empty item"),
    "bad digits": ("st", ["IN", "-o", "OUT", "-p", "2", "--digits", "0"], 2, "--digits"),
    "missing IN": (None, ["IN", "-o", "OUT", "-p", "2"], 1, "does not exist"),
    "unknown format": ("onnx", ["IN", "-o", "OUT", "-p", "2"], 1, "unknown format of IN"),
    "OUT format": ("st", ["IN", "-o", "DIR/out.npz", "-p", "2"], 1, "must be a safetensors file"),
    "unknown tensor": ("st", ["IN", "-o", "OUT", "-p", "w=2,nope*=3"], 1,
                       "SPEC name 'nope*' matches no tensor; the tensors are: v, w"),
    "OUT in a file": ("st", ["IN", "-o", "IN/out.safetensors", "-p", "2"], 1, "cannot write"),
    "OUT is a dir": ("outdir", ["IN", "-o", "DIR/d.safetensors", "-p", "2"], 1, "is a directory"),
    "not safetensors": ("junk", ["IN", "-o", "OUT", "-p", "2"], 1, "not a valid safetensors file"),
    "not a keras zip": ("keras", ["IN", "-o", "DIR/o.keras", "-p", "2"], 1, "not a valid .keras file"),
    "not a keras h5": ("h5", ["IN", "-o", "DIR/o.h5", "-p", "2"], 1, "has no Keras layer weights"),
    "NaN weight": ("nan", ["IN", "-o", "OUT", "-p", "2", "--fractions", "DIR/f.npz",
                           "--json", "DIR/r.json"], 1, "tensor 'v' has 1 non-finite value"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_one_line_and_leave_nothing(case, tmp_path) -> None:
    kind, argv, status, fragment = ERRORS[case]
    folder = tmp_path / "work"
    folder.mkdir()
    src = folder / {"onnx": "model.onnx", "keras": "model.keras", "h5": "data.h5"}.get(kind, "in.safetensors")
    if kind in ("st", "outdir"):
        _st(src)
    elif kind == "nan":
        safetensors_numpy.save_file({"w": np.float32([0.5]), "v": np.float32([1.0, np.nan])}, str(src))
    elif kind in ("onnx", "junk", "keras"):
        src.write_bytes(b"\x00" * 100)
    elif kind == "h5":
        with h5py.File(src, "w") as f:
            f["x"] = np.float32([0.5])
    if kind == "outdir":
        (folder / "d.safetensors").mkdir()
    out = folder / "out.safetensors"
    out.write_bytes(b"old")  # a failed run must not touch an existing OUT
    before = sorted(p.name for p in folder.iterdir())
    args = [a.replace("IN", str(src)).replace("OUT", str(out)).replace("DIR", str(folder)) for a in argv]
    result = run("approximate", *args)
    assert result.returncode == status, result.stderr
    assert fragment in error_line(result.stderr)
    assert result.stdout == ""
    assert sorted(p.name for p in folder.iterdir()) == before  # no partial output, no temp file
    assert out.read_bytes() == b"old"


def test_debug_shows_the_traceback(tmp_path) -> None:
    result = run("approximate", tmp_path / "none.npz", "-o", tmp_path / "o.npz", "-p", "2", "--debug")
    assert result.returncode == 1 and "Traceback" in result.stderr and "UserError" in result.stderr


def start_and_wait_for_temp(folder: Path) -> subprocess.Popen[bytes]:
    """A run on a 32 MB in.npz (made once) into folder/out.npz, once its temporary file exists."""
    src = folder / "in.npz"
    if not src.exists():
        np.savez(src, w=np.random.default_rng(0).normal(0, 0.05, 2**23).astype(np.float32))
    # SIGHUP back to its default in the child: under nohup (a CI runner may use
    # it) the child would inherit SIG_IGN, which the command rightly keeps.
    proc = subprocess.Popen([sys.executable, "-m", "fastfrac", "approximate", str(src),
                             "-o", str(folder / "out.npz"), "-p", "4", "-q"],
                            env=ENV, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.npz.") for p in folder.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    return proc


def test_sigterm_leaves_no_partial_output(tmp_path) -> None:
    proc = start_and_wait_for_temp(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz"]


# -- help, entry points, bench -----------------------------------------------------------


def test_help_answers_the_questions() -> None:
    text = ok("approximate", "--help").stdout
    for words in ("SPEC", "NAME=P", ".safetensors", ".keras", "glob", "--fractions", "examples:",
                  SEED_SPEC, "float16", "Exit status"):
        assert words in text
    assert "bench" in ok("--help").stdout and "quicktions" in ok("bench", "--help").stdout


def test_no_arguments_prints_help() -> None:
    out = ok()
    assert out.stdout.startswith("usage: fastfrac") and "approximate" in out.stdout


def test_console_script() -> None:
    script = Path(sys.executable).with_name("fastfrac")
    if not script.exists():
        pytest.skip("the fastfrac script is not beside this Python")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"fastfrac {fastfrac.__version__}"


def test_bench_is_short_and_checks_the_fractions() -> None:
    out = ok("bench", "--size", "20000", "--p", "2", "--sample", "300").stdout
    assert "fractions.Fraction (reference)" in out and "fastfrac kernel, decimal" in out
    assert "speed-up" in out and "NO" not in out


def test_bench_names_its_path_and_threads() -> None:
    out = ok("bench", "--size", "20000", "--p", "2", "--sample", "100", "--threads", "1").stdout
    assert f"kernel path {fastfrac.available_isas()[0]}, 1 thread:" in out.splitlines()[0]
    refused = run("bench", "--threads", "0")
    assert refused.returncode == 2 and "--threads: expected a positive integer" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr


# -- a large safetensors file ------------------------------------------------------------

MEASURE = textwrap.dedent(
    """
    import resource, subprocess, sys, time
    start = time.perf_counter()
    status = subprocess.run([sys.executable, "-m", "fastfrac", "approximate", *sys.argv[1:]]).returncode
    seconds = time.perf_counter() - start
    print(status, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    """
)


@pytest.mark.slow
def test_large_safetensors_memory_bound(tmp_path) -> None:
    # 10**8 float32 values (400 MB) in four tensors, plus an integer one.
    sizes = {f"block.{i}.weight": (5000, 5000) for i in range(4)}
    src = tmp_path / "big.safetensors"
    rng = np.random.default_rng(11)
    header, offset = {}, 0
    for name, shape in sizes.items():
        n = 4 * shape[0] * shape[1]
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["ids"] = {"dtype": "I64", "shape": [4], "data_offsets": [offset, offset + 32]}
    text = json.dumps(header).encode()
    with open(src, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for shape in sizes.values():
            (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)).tofile(f)
        np.arange(4, dtype=np.int64).tofile(f)
    size = src.stat().st_size
    out = tmp_path / "out.safetensors"
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE, str(src), "-o", str(out), "-p", "4", "-q"],
        capture_output=True, text=True, env=ENV, check=True,
    )
    status, seconds, peak_kb = measured.stdout.split()
    peak = int(peak_kb) * 1024
    print(f"\n{sum(a * b for a, b in sizes.values()):,} float32 values ({size / 1e6:.0f} MB): "
          f"{float(seconds):.1f} s, peak RSS {peak / 1e6:.0f} MB")
    assert status == "0", measured.stderr
    assert peak <= 1.5 * size + 400e6
    with safe_open(str(out), "np") as f, safe_open(str(src), "np") as g:
        for name in sizes:
            for part in (slice(0, 3), slice(2500, 2503), slice(4997, 5000)):
                x = g.get_slice(name)[part]
                assert same_bits(f.get_slice(name)[part], expected(x, 4)), name
        assert same_bits(f.get_tensor("ids"), np.arange(4))


# -- demo -------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, fragment", [
    (["--weights", "."], "--weights needs --data"),
    (["--data", ".", "--weights", ".", "--epochs", "3"], "--epochs trains the network here"),
    (["--data", "missing.csv", "--weights", "."], "--data missing.csv does not exist"),
])
def test_demo_refuses_what_it_cannot_do(argv, fragment, tmp_path) -> None:
    result = run("demo", *argv, "--json", tmp_path / "t.json", cwd=tmp_path)
    assert result.returncode == 1 and fragment in result.stderr
    assert result.stderr.count("\n") == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_demo_reproduces_the_seed_table(seed_dir, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    ok("demo", "--data", seed_dir / "data.csv", "--weights", seed_dir,
       "--json", tmp_path / "t.json", "--plot", tmp_path / "t.png")
    report = json.loads((tmp_path / "t.json").read_text())
    rows = {r["name"]: r for r in report["rows"]}
    # The seed's figures rebuilt with TF 2.21 / Keras 3.15 (../shared/seed/NOTES.md).
    assert rows["original"]["mae"] == pytest.approx(0.007296624095, rel=1e-5)
    assert rows["original"]["mse"] == pytest.approx(8.919899201e-05, rel=1e-5)
    assert rows["original"]["direction_accuracy"] == pytest.approx(98.724053, rel=1e-5)
    assert rows["fastfrac seed map"]["mae"] == pytest.approx(0.007296035022, rel=1e-5)
    assert rows["fastfrac seed map"]["mse"] == pytest.approx(8.918206241e-05, rel=1e-5)
    assert rows["fastfrac seed map"]["direction_accuracy"] == pytest.approx(98.724053, rel=1e-5)
    # No training on this path; the seed map's 93,124 values match the Fraction reference.
    assert report["model"]["weights"] == str(seed_dir) and "epochs" not in report["model"]
    assert report["reference"]["identical"] is True and report["reference"]["values"] == 93_124
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- a bad FASTFRAC_ISA ---------------------------------------------------------------


def run_with(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fastfrac", *map(str, args)],
                          capture_output=True, text=True, env={**ENV, **env}, timeout=600)


@pytest.mark.parametrize("argv", [["--help"], ["approximate", "--help"], ["bench", "--help"],
                                  ["demo", "--help"], ["--version"], []])
def test_bad_isa_setting_leaves_help_working(argv) -> None:
    out = run_with({"FASTFRAC_ISA": "neon"}, *argv)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert "usage: fastfrac" in out.stdout or out.stdout.startswith("fastfrac ")


@pytest.mark.parametrize("command", ["approximate", "bench", "demo"])
def test_bad_isa_setting_is_a_one_line_error(command, tmp_path) -> None:
    np.savez(tmp_path / "in.npz", w=np.float32([0.5, 0.25]))
    argv = {"approximate": ["approximate", tmp_path / "in.npz", "-o", tmp_path / "o.npz", "-p", "2",
                            "--progress", "none"],
            "bench": ["bench", "--size", "1000", "--sample", "10"],
            "demo": ["demo"]}[command]
    out = run_with({"FASTFRAC_ISA": "neon"}, *argv)
    assert out.returncode == 1
    assert out.stderr == (f"fastfrac {command}: error: FASTFRAC_ISA=neon: unknown instruction set "
                          "'neon'; choose from ['serial', 'avx2', 'avx512']\n")
    assert not (tmp_path / "o.npz").exists()


# -- a type fastfrac cannot approximate, named exactly ---------------------------------


@pytest.mark.parametrize("dtype, spelled, reason", [
    ("F8_E4M3", "half", "F8_E4M3 is not a float16, bfloat16, float32 or float64 type"),
    ("F8_E5M2", "half", "F8_E5M2 is not a float16, bfloat16, float32 or float64 type"),
    ("C64", "half", "C64 is not a float16, bfloat16, float32 or float64 type"),
])
def test_unsupported_type_named_exactly_is_an_error(tmp_path, dtype, spelled, reason) -> None:
    w = np.float32([0.1, 0.2])
    size = {"F8_E4M3": 1, "F8_E5M2": 1, "C64": 8}[dtype]
    write_safetensors(tmp_path / "in.safetensors",
                      [(spelled, dtype, [4], bytes(4 * size)), ("w", "F32", [2], w.tobytes())])
    out = run("approximate", tmp_path / "in.safetensors", "-o", tmp_path / "out.safetensors",
              "-p", f"{spelled}=3,2", "--progress", "none")
    assert out.returncode == 1
    assert out.stderr == (f"fastfrac approximate: error: SPEC names tensor {spelled} but "
                          f"{spelled} cannot be approximated: {reason}; write {spelled}=- to "
                          "copy it\n")
    assert not (tmp_path / "out.safetensors").exists()
    # Reached by a glob or the bare P only, it is copied and the report says why.
    for spec in ("h*=3,2", "2"):
        ok("approximate", tmp_path / "in.safetensors", "-o", tmp_path / "out.safetensors",
           "-p", spec, "--json", tmp_path / "r.json", "-q")
        assert report_rows(tmp_path / "r.json")[spelled]["copied"] == reason


def test_unsupported_layer_named_exactly_is_an_error(tmp_path) -> None:
    """A legacy .h5 whose layer "odd" holds 2-byte opaque values that no attribute names."""
    src = tmp_path / "model.h5"
    with h5py.File(src, "w") as f:
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [b"odd", b"dense"]
        group["odd/odd/kernel:0"] = np.zeros(4, dtype="V2")
        group["dense/dense/kernel:0"] = np.float32([0.1, 0.2])
    out = run("approximate", src, "-o", tmp_path / "o.h5", "-p", "odd=3", "--progress", "none")
    assert out.returncode == 1 and "SPEC names layer odd but odd (" in out.stderr
    assert "is an opaque 2-byte type" in out.stderr and "write odd=- to copy it" in out.stderr
    assert not (tmp_path / "o.h5").exists()


# -- optimizer state in Keras files ------------------------------------------------------


def test_optimizer_state_is_counted_apart_and_reached_only_by_its_exact_path(keras_files, tmp_path) -> None:
    src = keras_files / "model.keras"
    ok("approximate", src, "-o", tmp_path / "a.keras", "-p", "*=2", "--json", tmp_path / "a.json", "-q")
    rows = report_rows(tmp_path / "a.json")
    state = {name: row for name, row in rows.items() if row.get("optimizer")}
    assert state and all(name.startswith("optimizer/") for name in state)
    # A glob reaches every layer, never the optimizer.
    assert all("copied" in row for row in state.values())
    floats = [n for n, r in state.items() if r["copied"].startswith("optimizer state")]
    assert floats, "the Adam moments are float32 optimizer tensors"
    totals = json.loads((tmp_path / "a.json").read_text())["totals"]
    assert totals["optimizer_tensors"] == len(state) and totals["approximated_optimizer_tensors"] == 0
    summary = run("approximate", src, "-o", tmp_path / "b.keras", "-p", "*=2", "--progress", "none").stdout
    weights = totals["tensors"] - totals["optimizer_tensors"]
    assert (f"{totals['approximated_tensors']} of {weights} model weights approximated; "
            f"optimizer state: 0 of {len(state)} tensors approximated") in summary
    # Named exactly, one optimizer tensor is approximated.
    name = floats[0]
    ok("approximate", src, "-o", tmp_path / "c.keras", "-p", f"{name}=3,conv1d=2",
       "--json", tmp_path / "c.json", "-q")
    rows = report_rows(tmp_path / "c.json")
    assert rows[name]["p"] == 3 and "copied" not in rows[name]
    assert sum("copied" not in r for r in rows.values() if r.get("optimizer")) == 1


# -- fastfrac restore: approximate's OUT again, from the container and IN ------------------


def restore_round_trip(src: Path, tmp_path: Path, spec: str, suffix: str, *extra: object) -> None:
    """approximate IN -o OUT --fractions C, then restore C --like IN -o MODEL: MODEL == OUT, bytes."""
    out, model = tmp_path / f"out{suffix}", tmp_path / f"restored{suffix}"
    container = tmp_path / "fr.ffc"
    ok("approximate", src, "-o", out, "-p", spec, "--fractions", container, "-q", *extra)
    done = ok("restore", container, "--like", src, "-o", model)
    assert "tensors restored from" in done.stdout
    assert model.read_bytes() == out.read_bytes()
    # And from a version 2 container of the same run.
    ok("approximate", src, "-o", tmp_path / f"out2{suffix}", "-p", spec,
       "--fractions", tmp_path / "fr.npz", "-q", *extra)
    ok("restore", tmp_path / "fr.npz", "--like", src, "-o", tmp_path / f"restored2{suffix}")
    assert (tmp_path / f"restored2{suffix}").read_bytes() == out.read_bytes()


@pytest.mark.parametrize("name", ("model.keras", "model.h5"))
def test_restore_keras_files_bit_identical(keras_files, tmp_path, name) -> None:
    restore_round_trip(keras_files / name, tmp_path, KERAS_SPEC, Path(name).suffix)


def test_restore_safetensors_bit_identical(st_file, tmp_path) -> None:
    src, _ = st_file
    restore_round_trip(src, tmp_path, ST_SPEC, ".safetensors", "--mode", "exact")


def test_restore_npz_bit_identical(tmp_path) -> None:
    rng = np.random.default_rng(9)
    np.savez(tmp_path / "in.npz", a=rng.normal(0, 0.05, (300, 70)).astype(np.float32),
             f=np.asfortranarray(rng.normal(0, 2.0, (30, 40))), n=np.arange(3),
             big=rng.normal(0, 0.05, 2**20 + 7).astype(np.float32))  # two frames, two chunks
    restore_round_trip(tmp_path / "in.npz", tmp_path, "a=1,f=5,3", ".npz", "--digits", "exact")


def test_restore_refuses_another_file(tmp_path) -> None:
    rng = np.random.default_rng(10)
    np.savez(tmp_path / "in.npz", a=rng.normal(0, 0.05, 50).astype(np.float32))
    np.savez(tmp_path / "other.npz", a=rng.normal(0, 0.05, 50).astype(np.float32))
    np.savez(tmp_path / "shape.npz", a=rng.normal(0, 0.05, 51).astype(np.float32))
    np.savez(tmp_path / "name.npz", b=rng.normal(0, 0.05, 50).astype(np.float32))
    ok("approximate", tmp_path / "in.npz", "-o", tmp_path / "out.npz", "-p", "2",
       "--fractions", tmp_path / "fr.ffc", "-q")
    ok("approximate", tmp_path / "in.npz", "-o", tmp_path / "out2.npz", "-p", "2",
       "--fractions", tmp_path / "fr.npz", "-q")
    before = sorted(os.listdir(tmp_path))
    cases = [
        ("fr.ffc", "other.npz", "fr.ffc was made from: BLAKE3"),
        ("fr.npz", "shape.npz", "has shape [51] in"),
        ("fr.ffc", "name.npz", "holds tensor 'a', which"),
        ("in.npz", "in.npz", "is the same file as IN"),
        ("out.npz", "in.npz", "is not a fastfrac fractions container"),
    ]
    for container, like, message in cases:
        got = run("restore", tmp_path / container, "--like", tmp_path / like, "-o", tmp_path / "m.npz")
        assert got.returncode == 1
        assert message in error_line(got.stderr, "restore"), (container, like)
    got = run("restore", tmp_path / "fr.ffc", "--like", tmp_path / "in.npz", "-o", tmp_path / "m.h5")
    assert "must be a npz file like IN" in error_line(got.stderr, "restore")
    assert sorted(os.listdir(tmp_path)) == before  # nothing written, nothing left


def test_only_the_program_tunes_the_allocator(monkeypatch) -> None:
    """mallopt is process-wide: main(argv) called by another program leaves it alone."""
    import fastfrac.cli as cli

    calls: list[bool] = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True) or True)
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert calls == []
    monkeypatch.setattr(sys, "argv", ["fastfrac", "--help"])
    with pytest.raises(SystemExit):
        cli.main()
    assert calls == [True]
