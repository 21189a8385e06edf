"""``fastfrac inspect``: its JSON contract, every format, checkpoints, headers only."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from fastfrac.cli import main
from test_checkpoints import make_checkpoint

TENSOR_KEYS = {"name", "file", "dtype", "shape", "count", "bytes"}


def _inspect(capsys, *args: str) -> dict:
    assert main(["inspect", *args, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_json_keys_with_and_without_spec(tmp_path, capsys) -> None:
    np.savez(tmp_path / "w.npz", w=np.float32([[0.5, 0.1]]), steps=np.int64(3))
    plain = _inspect(capsys, str(tmp_path / "w.npz"))
    assert {"path", "format", "tensors", "totals"} <= plain.keys()
    assert all(set(t) == TENSOR_KEYS for t in plain["tensors"])
    planned = _inspect(capsys, str(tmp_path / "w.npz"), "-p", "3")
    assert all(set(t) == TENSOR_KEYS | {"p", "digits", "reason"} for t in planned["tensors"])
    w, steps = planned["tensors"]
    assert (w["p"], w["digits"], w["reason"], w["bytes"]) == (3, 6, None, 8)
    assert (steps["p"], steps["reason"]) == (None, "integer tensor")
    assert planned["totals"]["by_dtype"]["float32"] == {"tensors": 1, "count": 2, "bytes": 8}
    assert planned["totals"]["approximated_values"] == 2


def test_inspect_checkpoint_every_shard_and_spec_reasons(tmp_path, capsys) -> None:
    make_checkpoint(tmp_path / "ck")
    report = _inspect(capsys, str(tmp_path / "ck"), "-p", "2,*.norm=-")
    assert report["format"] == "safetensors checkpoint"
    assert len(report["files"]) == 3 and report["not_approximated"] == ["pytorch_model.bin"]
    reasons = {t["name"]: t["reason"] for t in report["tensors"]}
    assert reasons["layers.1.weight"] is None and reasons["layers.1.norm"] == "kept by SPEC"
    assert reasons["step"] == "integer tensor"
    assert main(["inspect", str(tmp_path / "ck"), "-p", "missing=2"]) == 1
    assert "matches no tensor" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # nothing written


def test_inspect_safetensors_file_and_keras_h5_layers(tmp_path, capsys) -> None:
    import h5py

    make_checkpoint(tmp_path / "ck")
    one = _inspect(capsys, str(tmp_path / "ck" / "model-00001-of-00003.safetensors"))
    assert one["format"] == "safetensors" and one["totals"]["tensors"] == 3
    with h5py.File(tmp_path / "w.weights.h5", "w") as f:  # Keras 3 weights layout
        f.create_dataset("layers/dense/vars/0", data=np.zeros((3, 2), np.float32))
        f.create_dataset("layers/dense/vars/1", data=np.zeros(2, np.float32))
    keras = _inspect(capsys, str(tmp_path / "w.weights.h5"), "-p", "dense=2")
    assert [t["layer"] for t in keras["tensors"]] == ["dense", "dense"]
    assert [t["p"] for t in keras["tensors"]] == [2, 2]


def test_inspect_reads_only_headers_huge_sparse_file(tmp_path) -> None:
    # 100 GB declared over a sparse file: only the header is on disk.
    count = 25 * 10**9
    header = json.dumps({"huge": {"dtype": "F32", "shape": [count // 5, 5],
                                  "data_offsets": [0, 4 * count]}}).encode()
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header)
        f.truncate(8 + len(header) + 4 * count)
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "fastfrac", "inspect", str(path), "-p", "2",
                          "--json", "-"], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["totals"]["bytes"] == 4 * count and report["tensors"][0]["p"] == 2
    assert elapsed < 5  # the process's start included; the listing itself is milliseconds
    assert "tensorflow" not in run.stderr.lower()


def test_inspect_never_imports_tensorflow(tmp_path) -> None:
    np.savez(tmp_path / "w.npz", w=np.float32([0.5]))
    code = ("import sys; from fastfrac.cli import main; "
            f"main(['inspect', {str(tmp_path / 'w.npz')!r}]); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
