"""Checkpoint directories as Hugging Face ships them: safetensors shards, an index, other files.

A checkpoint is a directory holding one or more ``*.safetensors`` files and
optionally a ``*.safetensors.index.json`` whose ``weight_map`` names, for
every tensor, the shard that holds it.  :func:`open_checkpoint` reads the
index and every shard's header (never the data) and checks them against each
other, so that a mismatch is an error before anything is written:

- a shard named in the index that is missing;
- a tensor named in the index that its shard does not hold;
- a tensor a shard holds that the index does not name (or names elsewhere);
- without an index, a tensor name held by two shards.

Every other file is listed so that the rewrite copies it byte for byte; those
in another weight format (``*.bin``, ``*.pt``, ``*.gguf``, ``onnx/``...) are
listed apart, as copied but not approximated.

Examples
--------
>>> import json, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> def shard(name, tensors):
...     header = json.dumps({t: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
...                          for i, t in enumerate(tensors)}).encode()
...     _ = (folder / name).write_bytes(len(header).to_bytes(8, "little") + header + bytes(4 * len(tensors)))
>>> shard("a.safetensors", ["x", "y"]); shard("b.safetensors", ["z"])
>>> _ = (folder / "config.json").write_text("{}")
>>> _ = (folder / "pytorch_model.bin").write_bytes(b"pickle")
>>> ckpt = open_checkpoint(folder)
>>> [s.path.name for s in ckpt.shards], ckpt.others, ckpt.not_approximated
(['a.safetensors', 'b.safetensors'], ['config.json', 'pytorch_model.bin'], ['pytorch_model.bin'])
>>> _ = (folder / "model.safetensors.index.json").write_text(json.dumps(
...     {"metadata": {}, "weight_map": {"x": "a.safetensors", "z": "b.safetensors"}}))
>>> open_checkpoint(folder)
Traceback (most recent call last):
...
fastfrac._errors.UserError: .../model.safetensors.index.json: shard a.safetensors holds tensor 'y', which the index's weight_map does not name (nothing was written)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from fastfrac._errors import UserError
from fastfrac._io.limits import check_json_depth
from fastfrac._io.safetensors import SafetensorsFile

__all__ = ["INDEX_SUFFIX", "OTHER_WEIGHTS", "Checkpoint", "is_checkpoint", "open_checkpoint"]

INDEX_SUFFIX = ".safetensors.index.json"
# Weight files of other formats: copied unchanged and named in the summary.
OTHER_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt", ".gguf", ".ggml", ".h5", ".hdf5", ".keras",
                 ".msgpack", ".onnx", ".npz", ".npy", ".tflite", ".pb", ".ot", ".mlmodel")
_MAX_INDEX = 100 << 20  # an index of a million tensors is about 60 MB


@dataclass
class Checkpoint:
    """A checkpoint directory, read and checked.

    Attributes
    ----------
    root : Path
        The directory.
    index : Path or None
        The ``*.safetensors.index.json`` file, if any.
    index_data : dict or None
        Its parsed JSON (``metadata``, ``weight_map`` and anything else).
    shards : list of SafetensorsFile
        In file-name order; each one's ``.path`` lies in ``root``.
    others : list of str
        Every other file, as a path relative to ``root`` with ``/``
        separators, sorted: copied byte for byte.
    not_approximated : list of str
        Those of ``others`` that hold weights in another format.
    """

    root: Path
    index: Path | None
    index_data: dict[str, Any] | None
    shards: list[SafetensorsFile] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    not_approximated: list[str] = field(default_factory=list)

    @property
    def tensors(self) -> list[tuple[SafetensorsFile, Any]]:
        """(shard, TensorInfo) of every tensor, shard by shard in data order."""
        return [(s, t) for s in self.shards for t in s.tensors]


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is given as a checkpoint: a directory or a safetensors index.

    >>> is_checkpoint("model.safetensors.index.json"), is_checkpoint("model.safetensors")
    (True, False)
    """
    return os.path.isdir(path) or os.fspath(path).lower().endswith(INDEX_SUFFIX)


def _bad(index: Path, why: str) -> UserError:
    return UserError(f"{index}: {why} (nothing was written)")


def _read_index(index: Path) -> dict[str, Any]:
    size = index.stat().st_size
    if size > _MAX_INDEX:
        raise _bad(index, f"the index is {size} bytes, over the limit of {_MAX_INDEX}")
    raw = index.read_bytes()
    check_json_depth(raw, index)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(index, f"not JSON ({' '.join(str(exc).split())})") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
    ):
        raise _bad(index, "no weight_map object of tensor name -> shard file name")
    for shard in set(weight_map.values()):
        # A shard elsewhere (../x, /etc/x, sub/x) would be read from, and written, outside OUT.
        if PurePosixPath(shard).name != shard or shard in ("", ".", ".."):
            raise _bad(index, f"weight_map names shard {shard!r}, not a file name in the directory")
    return data


def _walk(root: Path) -> list[str]:
    """Every file under ``root``, relative, sorted; symlinks to directories are not followed."""
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        rel = Path(directory).relative_to(root)
        for name in subdirs:
            if os.path.islink(Path(directory) / name):
                found.append((rel / name).as_posix())  # copied as the link it is
        for name in files:
            found.append((rel / name).as_posix())
    return sorted(found)


def _resolve_root(path: Path) -> tuple[Path, Path | None]:
    """(the directory, its index) from IN, a directory or an index file."""
    if path.is_dir():
        indexes = sorted(p for p in path.iterdir() if p.name.lower().endswith(INDEX_SUFFIX))
        if len(indexes) > 1:
            names = ", ".join(p.name for p in indexes)
            raise UserError(f"{path} holds {len(indexes)} safetensors indexes ({names}): give IN "
                            "as the one to use")
        return path, indexes[0] if indexes else None
    if not path.is_file():
        raise UserError(f"IN {path} does not exist")
    return path.parent, path


def open_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and check the checkpoint at ``path`` (a directory or its index file); headers only."""
    root, index = _resolve_root(Path(path))
    files = _walk(root)
    data = _read_index(index) if index is not None else None
    if data is not None:
        assert index is not None
        shard_names = sorted(set(data["weight_map"].values()))
        for name in shard_names:
            if not (root / name).is_file():
                tensor = next(t for t, s in data["weight_map"].items() if s == name)
                raise _bad(index, f"shard {name} (of tensor {tensor!r}) is missing")
    else:
        shard_names = [f for f in files if "/" not in f and f.lower().endswith(".safetensors")]
        if not shard_names:
            raise UserError(f"{root} holds no *.safetensors file and no {INDEX_SUFFIX}: "
                            "not a checkpoint fastfrac can rewrite")
    ckpt = Checkpoint(root, index, data)
    ckpt.shards = [SafetensorsFile(root / name) for name in shard_names]
    _check_tensors(ckpt)
    skip = set(shard_names) | ({index.name} if index is not None else set())
    ckpt.others = [f for f in files if f not in skip]
    ckpt.not_approximated = [
        f for f in ckpt.others
        if Path(f).suffix.lower() in OTHER_WEIGHTS or f.lower().startswith("onnx/")
    ]
    return ckpt


def _check_tensors(ckpt: Checkpoint) -> None:
    where: dict[str, str] = {}
    for shard in ckpt.shards:
        for tensor in shard.tensors:
            other = where.setdefault(tensor.name, shard.path.name)
            if other != shard.path.name:
                raise UserError(f"{ckpt.root}: tensor {tensor.name!r} is in both {other} and "
                                f"{shard.path.name} (nothing was written)")
    if ckpt.index_data is None:
        return
    assert ckpt.index is not None
    weight_map: dict[str, str] = ckpt.index_data["weight_map"]
    for name, shard_name in weight_map.items():
        if name not in where:
            raise _bad(ckpt.index, f"tensor {name!r} is named in the index but shard "
                                   f"{shard_name} does not hold it")
        if where[name] != shard_name:
            raise _bad(ckpt.index, f"tensor {name!r} is in {where[name]}, not in {shard_name} "
                                   "as the index says")
    for name, shard_name in where.items():
        if name not in weight_map:
            raise _bad(ckpt.index, f"shard {shard_name} holds tensor {name!r}, which the "
                                   "index's weight_map does not name")
