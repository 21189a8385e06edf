"""Checkpoint directories through ``fastfrac approximate``: shards, index, other files, all or nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import blake3
import numpy as np
import pytest

import fastfrac.reference
from fastfrac._io.container import open_container
from fastfrac.cli import main

_TYPES = {"float32": "F32", "int64": "I64"}


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset, blobs = 0, []
    for name, array in tensors.items():
        data = array.tobytes()
        header[name] = {"dtype": _TYPES[array.dtype.name], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"".join(blobs))


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    codes = {"F32": "<f4", "I64": "<i8"}
    return {name: np.frombuffer(raw[8 + n + s["data_offsets"][0] : 8 + n + s["data_offsets"][1]],
                                codes[s["dtype"]]).reshape(s["shape"])
            for name, s in header.items() if name != "__metadata__"}


def make_checkpoint(root: Path, index: bool = True) -> dict[str, np.ndarray]:
    """3 shards + index + config + tokenizer + a subdirectory + a .bin file; the tensors."""
    root.mkdir()
    rng = np.random.default_rng(0)
    everything, weight_map = {}, {}
    for i in range(3):
        shard = f"model-{i + 1:05d}-of-00003.safetensors"
        tensors = {f"layers.{i}.weight": rng.normal(0, 0.05, (48, 16)).astype(np.float32),
                   f"layers.{i}.norm": rng.normal(1, 0.05, 16).astype(np.float32)}
        if i == 0:
            tensors["step"] = np.int64([7])
        write_safetensors(root / shard, tensors)
        everything.update(tensors)
        weight_map.update(dict.fromkeys(tensors, shard))
    if index:
        (root / "model.safetensors.index.json").write_text(json.dumps(
            {"metadata": {"total_size": 12345}, "weight_map": weight_map}))
    (root / "config.json").write_text('{"hidden_size": 16}')
    (root / "tokenizer.json").write_text('{"model": {}}')
    (root / "tokenizer_config.json").write_text("{}")
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    (root / "pytorch_model.bin").write_bytes(b"\x80\x02pickled weights")
    return everything


def others(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(".safetensors")
            and not p.name.endswith(".index.json")}


def test_checkpoint_sharded_approximated_against_reference_other_files_identical(tmp_path, capsys) -> None:
    tensors = make_checkpoint(tmp_path / "ck")
    out = tmp_path / "out"
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(out), "-p", "2,*.norm=-",
                 "--json", str(tmp_path / "r.json"), "--progress", "none"]) == 0
    assert "not approximated: pytorch_model.bin" in capsys.readouterr().out
    assert others(out) == others(tmp_path / "ck")
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert index == json.loads((tmp_path / "ck" / "model.safetensors.index.json").read_text())
    result = {}
    for shard in sorted(out.glob("*.safetensors")):
        result.update(read_safetensors(shard))
    for name, x in tensors.items():
        if name.endswith(".weight"):
            sample = x.ravel()[::7]
            num, den = fastfrac.reference.approximate(sample, 2)
            got = result[name].ravel()[::7]
            # The stored value is num/den to 4 (2p) significant digits, within float32 rounding.
            expect = np.array([float(f"{n / d:.4g}") for n, d in zip(num, den)], np.float32)
            np.testing.assert_array_equal(got, expect)
        else:
            np.testing.assert_array_equal(result[name], x)  # kept by SPEC, integer
    report = json.loads((tmp_path / "r.json").read_text())
    assert [s["file"] for s in report["shards"]] == sorted(p.name for p in out.glob("*.safetensors"))
    assert report["totals"]["approximated_tensors"] == 3
    assert {r["file"] for r in report["tensors"]} == {s["file"] for s in report["shards"]}
    assert report["not_approximated"] == ["pytorch_model.bin"]


def test_checkpoint_without_index_each_safetensors_rewritten(tmp_path) -> None:
    make_checkpoint(tmp_path / "ck", index=False)
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out"), "-p", "3",
                 "-q"]) == 0
    assert len(list((tmp_path / "out").glob("*.safetensors"))) == 3
    assert others(tmp_path / "out") == others(tmp_path / "ck")


def test_checkpoint_index_file_as_in(tmp_path) -> None:
    make_checkpoint(tmp_path / "ck")
    assert main(["approximate", str(tmp_path / "ck" / "model.safetensors.index.json"),
                 "-o", str(tmp_path / "out"), "-p", "3", "-q"]) == 0
    assert (tmp_path / "out" / "model.safetensors.index.json").exists()


def _break(kind: str, root: Path) -> None:
    index_path = root / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    if kind == "missing shard":
        (root / "model-00002-of-00003.safetensors").unlink()
    elif kind == "tensor missing from shard":
        index["weight_map"]["layers.9.weight"] = "model-00001-of-00003.safetensors"
    elif kind == "tensor missing from index":
        del index["weight_map"]["layers.1.norm"]
    elif kind == "shard outside":
        index["weight_map"]["layers.0.norm"] = "../elsewhere.safetensors"
    index_path.write_text(json.dumps(index))


@pytest.mark.parametrize("kind", ["missing shard", "tensor missing from shard",
                                  "tensor missing from index", "shard outside"])
def test_checkpoint_index_mismatch_is_an_error_before_anything_is_written(tmp_path, capsys, kind) -> None:
    make_checkpoint(tmp_path / "ck")
    _break(kind, tmp_path / "ck")
    before = sorted(os.listdir(tmp_path))
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out"), "-p", "2",
                 "-q"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nothing was written" in err
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("where", ["non-empty", "inside IN", "a file"])
def test_checkpoint_out_refused(tmp_path, capsys, where) -> None:
    make_checkpoint(tmp_path / "ck")
    out = {"non-empty": tmp_path / "full", "inside IN": tmp_path / "ck" / "out",
           "a file": tmp_path / "file"}[where]
    if where == "non-empty":
        out.mkdir()
        (out / "x").write_text("keep")
    elif where == "a file":
        out.write_text("keep")
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(out), "-p", "2", "-q"]) == 1
    assert "nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "ck" / "out").exists()


def test_checkpoint_empty_out_directory_accepted(tmp_path) -> None:
    make_checkpoint(tmp_path / "ck")
    (tmp_path / "out").mkdir()
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out"), "-p", "2",
                 "-q"]) == 0
    assert (tmp_path / "out" / "config.json").exists()


def test_checkpoint_failure_mid_way_leaves_no_out_and_no_temporary(tmp_path, capsys) -> None:
    make_checkpoint(tmp_path / "ck")
    # The third shard holds a NaN: found only when its data is read, after two shards are written.
    shard = tmp_path / "ck" / "model-00003-of-00003.safetensors"
    tensors = read_safetensors(shard)
    bad = tensors["layers.2.weight"].copy()
    bad[5, 5] = np.nan
    write_safetensors(shard, {"layers.2.weight": bad, "layers.2.norm": tensors["layers.2.norm"]})
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out"), "-p", "2",
                 "--fractions", str(tmp_path / "fr"), "-q"]) == 1
    assert "non-finite" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["ck"]


def test_checkpoint_sigterm_leaves_nothing(tmp_path) -> None:
    make_checkpoint(tmp_path / "ck")
    code = ("import os, signal, fastfrac._io.checkpoint_rewrite as c\n"
            "real = c.rewrite_model\n"
            "def stop(*a, **k):\n    os.kill(os.getpid(), signal.SIGTERM)\n    return real(*a, **k)\n"
            "c.rewrite_model = stop\n"
            "from fastfrac.cli import main\n"
            f"raise SystemExit(main(['approximate', {str(tmp_path / 'ck')!r}, '-o', "
            f"{str(tmp_path / 'out')!r}, '-p', '2', '-q']))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 128 + 15, run.stderr
    assert sorted(os.listdir(tmp_path)) == ["ck"]


def test_checkpoint_fractions_directory_one_container_per_shard(tmp_path) -> None:
    make_checkpoint(tmp_path / "ck")
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out"), "-p", "2",
                 "--fractions", str(tmp_path / "fr"), "-q"]) == 0
    index = json.loads((tmp_path / "fr" / "fractions.index.json").read_text())
    assert index["format"] == "fastfrac-fractions-index" and index["version"] == 1
    assert sorted(index["containers"].values()) == sorted(p.name for p in (tmp_path / "fr").glob("*.ffc"))
    assert index["containers"]["model-00001-of-00003.safetensors"] == "model-00001-of-00003.fractions.ffc"
    assert index["weight_map"]["layers.2.norm"] == "model-00003-of-00003.fractions.ffc"
    assert "step" not in index["weight_map"]  # integer: copied, only in OUT
    with open_container(tmp_path / "fr" / "model-00002-of-00003.fractions.ffc") as container:
        assert container.version == 3 and "layers.1.weight" in {t["name"] for t in container.tensors}
        shard = tmp_path / "ck" / "model-00002-of-00003.safetensors"
        assert container.source == {"file": shard.name, "bytes": shard.stat().st_size,
                                    "blake3": blake3.blake3(shard.read_bytes()).hexdigest()}


def test_checkpoint_spec_resolves_over_all_shards(tmp_path, capsys) -> None:
    make_checkpoint(tmp_path / "ck")
    # Names in different shards: each found; one unknown name is one error over all of them.
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out"),
                 "-p", "layers.0.weight=2,layers.2.*=3", "--json", "-", "-q"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["tensors"]}
    assert rows["layers.0.weight"]["p"] == 2 and rows["layers.2.norm"]["p"] == 3
    assert rows["layers.1.weight"]["copied"] == "not chosen by SPEC"
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out2"),
                 "-p", "nope=2", "-q"]) == 1
    err = capsys.readouterr().err
    assert "matches no tensor" in err and "layers.0.weight" in err and "layers.2.norm" in err
