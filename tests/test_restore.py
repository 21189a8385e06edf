"""fastfrac restore and the version 3 container: round trips, mismatches and hostile containers.

The round trips on .keras, .h5, .safetensors and .npz files are in
test_cli.py (beside the Keras files they need); the MiniLM checkpoint's in
test_minilm_checkpoint.py.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import fastfrac
from fastfrac._errors import UserError
from fastfrac._io import frames
from fastfrac._io.container import ContainerWriter, open_container, read
from fastfrac._io.restore import restore_checkpoint, restore_file
from fastfrac._io.rewrite import approximate_file
from fastfrac._io.spec import parse_spec
from fastfrac.cli import main

BF16 = np.dtype(ml_dtypes.bfloat16)


def write_bf16_checkpoint(root: Path, shards: int = 3) -> None:
    """A sharded bfloat16 checkpoint with an index, a config and an integer tensor."""
    root.mkdir()
    rng = np.random.default_rng(1)
    weight_map = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {f"layers.{i}.w": ("BF16", [64, 40], rng.normal(0, 0.05, (64, 40)).astype(BF16)),
                   f"layers.{i}.norm": ("BF16", [40], rng.normal(1, 0.05, 40).astype(BF16))}
        if i == 1:
            tensors["step"] = ("I64", [1], np.int64([3]))
        header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
        for key, (dtype, shape, values) in tensors.items():
            data = values.tobytes()
            header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
            offset += len(data)
            blobs.append(data)
            weight_map[key] = name
        raw = json.dumps(header).encode()
        (root / name).write_bytes(len(raw).to_bytes(8, "little") + raw + b"".join(blobs))
    (root / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (root / "config.json").write_text('{"hidden_size": 40}')


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_checkpoint_round_trip_bit_identical(tmp_path) -> None:
    write_bf16_checkpoint(tmp_path / "ck")
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out"), "-p", "2,*.norm=3",
                 "--fractions", str(tmp_path / "fr"), "-q"]) == 0
    report = restore_checkpoint(tmp_path / "fr", tmp_path / "ck", tmp_path / "back")
    assert tree(tmp_path / "back") == tree(tmp_path / "out")
    assert report["totals"]["restored_tensors"] == 6 and report["shards"] == 3


def test_checkpoint_restore_refuses_a_mismatch(tmp_path) -> None:
    write_bf16_checkpoint(tmp_path / "ck")
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out"), "-p", "2",
                 "--fractions", str(tmp_path / "fr"), "-q"]) == 0
    write_bf16_checkpoint(tmp_path / "two", shards=2)
    with pytest.raises(UserError, match="names shard model-00001-of-00003.safetensors"):
        restore_checkpoint(tmp_path / "fr", tmp_path / "two", tmp_path / "back")
    other = tmp_path / "other"
    write_bf16_checkpoint(other)
    shard = other / "model-00002-of-00003.safetensors"
    raw = bytearray(shard.read_bytes())
    raw[-3] ^= 0x40  # one weight changed: same names and shapes, another file
    shard.write_bytes(bytes(raw))
    with pytest.raises(UserError, match="model-00002-of-00003.safetensors is not the file"):
        restore_checkpoint(tmp_path / "fr", other, tmp_path / "back")
    assert not (tmp_path / "back").exists()
    for inside in (tmp_path / "ck" / "r.json", tmp_path / "fr" / "r.json"):
        with pytest.raises(UserError, match="lies inside"):
            restore_checkpoint(tmp_path / "fr", tmp_path / "ck", tmp_path / "back", json_path=inside)
        assert not inside.exists()
    assert sorted(os.listdir(tmp_path)) == ["ck", "fr", "other", "out", "two"]


@pytest.fixture
def made(tmp_path) -> Path:
    """in.npz, its approximation out.npz and container fr.ffc (two tensors, one of two frames)."""
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "in.npz", a=rng.normal(0, 0.05, (frames.FRAME + 9,)).astype(np.float32),
             b=rng.normal(0, 1.0, (7, 3)))
    approximate_file(tmp_path / "in.npz", tmp_path / "out.npz", parse_spec("2"),
                     fractions=tmp_path / "fr.ffc")
    return tmp_path


def test_version_3_holds_what_version_2_holds(made) -> None:
    approximate_file(made / "in.npz", made / "out2.npz", parse_spec("2"), fractions=made / "fr.npz")
    three, two = read(made / "fr.ffc"), read(made / "fr.npz")
    assert [t.name for t in three.tensors] == [t.name for t in two.tensors] == ["a", "b"]
    for x, y in zip(three.tensors, two.tensors):
        assert x.values.tobytes() == y.values.tobytes() and x.values.dtype == y.values.dtype
        assert np.array_equal(x.fractions.num, y.fractions.num)
        assert np.array_equal(x.fractions.den, y.fractions.den)
    assert (made / "fr.ffc").stat().st_size < (made / "fr.npz").stat().st_size
    with open_container(made / "fr.ffc") as c:
        entry = c.tensors[0]
        assert len(entry["num"]) == 2 and sum(f[3] for f in entry["num"]) == frames.FRAME + 9
        assert c.source["file"] == "in.npz" and len(c.source["blake3"]) == 64


def test_plain_tensors_of_every_kind_round_trip(tmp_path) -> None:
    values = {"f32": np.float32([0.1, -2.5]), "f64": np.float64([1e-300, 3.0]), "bf": np.ones(3, BF16),
              "i8": np.int8([-128, 127]), "u64": np.uint64([2**64 - 1]), "b": np.array([True, False]),
              "empty": np.zeros((0, 4), np.float32), "f16": np.float16([65504.0])}
    with ContainerWriter(tmp_path / "p.ffc", mode=None) as writer:
        for name, v in values.items():
            writer.plain(name, v)
    got = read(tmp_path / "p.ffc").arrays()
    for name, v in values.items():
        assert got[name].dtype == v.dtype and got[name].shape == v.shape and got[name].tobytes() == v.tobytes()


def damaged(path: Path, edit) -> Path:
    raw = bytearray(path.read_bytes())
    edit(raw)
    out = path.with_name("bad.ffc")
    out.write_bytes(bytes(raw))
    return out


def rewrite_metadata(raw: bytearray, change) -> None:
    tail = len(frames.MAGIC) + 8
    (length,) = struct.unpack("<Q", raw[-tail : -len(frames.MAGIC)])
    start = len(raw) - tail - length
    meta = json.loads(raw[start : start + length])
    change(meta)
    text = json.dumps(meta).encode()
    raw[start:] = text + struct.pack("<Q", len(text)) + frames.MAGIC


def frame_of(meta, index=0):
    return meta["tensors"][0]["num"][index]


HOSTILE = {
    "truncated": (lambda raw: raw.__delitem__(slice(len(raw) - 5, None)), "truncated or damaged"),
    "no magic": (lambda raw: raw.__setitem__(slice(0, 5), b"XXXXX"), "not a fastfrac fractions container"),
    "huge footer": (lambda raw: raw.__setitem__(slice(len(raw) - 16, len(raw) - 8),
                                                struct.pack("<Q", 2**62)), "metadata length"),
    "not json": (lambda raw: rewrite_metadata(raw, lambda m: None) or raw.__setitem__(
        slice(len(raw) - 17, len(raw) - 16), b"\xff"), "not JSON"),
    "frame outside": (lambda raw: rewrite_metadata(raw, lambda m: frame_of(m).__setitem__(0, 2**40)),
                      "lie outside the data"),
    "frame count": (lambda raw: rewrite_metadata(raw, lambda m: frame_of(m).__setitem__(3, 5)),
                    "frames hold"),
    "frame type": (lambda raw: rewrite_metadata(raw, lambda m: frame_of(m).__setitem__(2, "<f8")),
                   "is not an integer type"),
    "frame bytes": (lambda raw: rewrite_metadata(raw, lambda m: frame_of(m).__setitem__(1, 3)),
                    "frame"),
    "shape": (lambda raw: rewrite_metadata(raw, lambda m: m["tensors"][0].__setitem__("shape", [-1])),
              "shape"),
    "dtype": (lambda raw: rewrite_metadata(raw, lambda m: m["tensors"][0].__setitem__("dtype", "object")),
              "is not a float type"),
    "digits": (lambda raw: rewrite_metadata(raw, lambda m: m["tensors"][0].__setitem__("digits", -1)),
               "digits -1 is not an integer >= 1"),
    "twice": (lambda raw: rewrite_metadata(raw, lambda m: m["tensors"].append(m["tensors"][0])),
              "appears twice"),
    "version": (lambda raw: rewrite_metadata(raw, lambda m: m.__setitem__("version", 9)),
                "unsupported container format"),
    "no digest": (lambda raw: rewrite_metadata(raw, lambda m: m["source"].pop("blake3")),
                  "records no digest of 'in.npz'"),
    "digest": (lambda raw: rewrite_metadata(raw, lambda m: m["source"].__setitem__("blake3", "0" * 64)),
               "bad.ffc was made from: BLAKE3 [0-9a-f]{16}\\.\\.\\., the container names"),
    "source size": (lambda raw: rewrite_metadata(raw, lambda m: m["source"].__setitem__("bytes", 1)),
                    "the container names 'in.npz' with 1 bytes"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_container_is_one_line_and_nothing_is_written(made, case) -> None:
    edit, message = HOSTILE[case]
    bad = damaged(made / "fr.ffc", edit)
    before = sorted(os.listdir(made))
    with pytest.raises((ValueError, UserError), match=message) as info:
        restore_file(bad, made / "in.npz", made / "m.npz")
    assert "\n" not in str(info.value)
    assert sorted(os.listdir(made)) == before


def test_a_container_recording_sha256_still_restores_and_is_checked(made) -> None:
    """Containers written before BLAKE3 record IN's SHA-256: restore checks that instead."""
    import hashlib

    sha = hashlib.sha256((made / "in.npz").read_bytes()).hexdigest()

    def as_before(meta, digest=sha):
        meta["source"].pop("blake3")
        meta["source"]["sha256"] = digest

    old = damaged(made / "fr.ffc", lambda raw: rewrite_metadata(raw, as_before))
    restore_file(old, made / "in.npz", made / "back.npz")
    assert (made / "back.npz").read_bytes() == (made / "out.npz").read_bytes()
    wrong = damaged(made / "fr.ffc", lambda raw: rewrite_metadata(raw, lambda m: as_before(m, "f" * 64)))
    with pytest.raises(UserError, match=f"SHA-256 {sha[:16]}..., the container names 'in.npz'"):
        restore_file(wrong, made / "in.npz", made / "back2.npz")
    assert not (made / "back2.npz").exists()


def test_a_frame_declaring_a_huge_size_is_refused_before_allocation(made) -> None:
    # A 3 kB zstd frame whose header says 100 MB: refused from the header.
    import zstandard

    bomb = zstandard.ZstdCompressor().compress(bytes(100 << 20))
    with open_container(made / "fr.ffc") as c:
        offset = c.tensors[0]["num"][0][0]
    raw = bytearray((made / "fr.ffc").read_bytes())
    length = c.tensors[0]["num"][0][1]
    assert len(bomb) <= length
    raw[offset : offset + len(bomb)] = bomb
    bad = made / "bomb.ffc"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="a frame declares 104857600 bytes"):
        read(bad)


def test_restored_values_are_the_approximation(made) -> None:
    restore_file(made / "fr.ffc", made / "in.npz", made / "back.npz")
    with np.load(made / "in.npz") as x, np.load(made / "back.npz") as y:
        for name in ("a", "b"):
            num, den = fastfrac.approximate(x[name], 2, dtype=np.int64)
            want = fastfrac.to_float(num, den, 4).astype(x[name].dtype)
            assert want.tobytes() == y[name].tobytes()
