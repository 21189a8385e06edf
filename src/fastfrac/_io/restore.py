"""``fastfrac restore``: a model file rebuilt from its fractions container and the original's skeleton.

The container holds the approximated tensors only (as num/den); the original
model file IN holds everything else: the other tensors, the metadata, the
archive's other members.  :func:`restore_file` streams IN through the same
rewrite as ``fastfrac approximate``, with each approximated tensor's values
decoded from the container (:func:`fastfrac._io.container.decode`, the one
decoding the approximation itself uses) instead of computed, so MODEL is bit
for bit what ``fastfrac approximate IN -o MODEL`` wrote with the options the
container records.  :func:`restore_checkpoint` does the same for a checkpoint
directory and the container directory ``--fractions DIR`` wrote.

Everything that makes the pair inconsistent is one error before anything is
written: a container tensor IN lacks, or holds with another shape or type;
a tensor IN holds that the container's options would have approximated is
not checked (the container does not record SPEC), but IN's size and
digest, which a version 3 container records, are (BLAKE3, or SHA-256 in
containers written before: :func:`fastfrac._io.source.matches`).  A version 2 container
(``.npz``) records no checksum; names, shapes and types are still checked.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastfrac._errors import UserError
from fastfrac._io.atomic import AtomicOutputs
from fastfrac._io.checkpoint import open_checkpoint
from fastfrac._io.checkpoint_rewrite import (
    FRACTIONS_INDEX,
    check_json_outside,
    check_output_directory,
    copy_skeleton,
)
from fastfrac._io.container import ContainerFile, decode, open_container
from fastfrac._io.formats import ModelFile, TensorInfo, detect_format
from fastfrac._io.limits import check_json_depth
from fastfrac._io.paths import check_paths, check_readable
from fastfrac._io.rewrite import _damaged, report_json
from fastfrac._io.sizes import tensor_bytes
from fastfrac._io.source import matches
from fastfrac._progress import BYTES, Progress
from fastfrac._types import Fractions

__all__ = ["restore_checkpoint", "restore_file"]

_MAX_INDEX = 16 << 20  # an index naming 100,000 shards and tensors is about 6 MB


class _RestoreJob:
    """One approximated tensor's values, decoded from the container chunk by chunk.

    Stands where :class:`~fastfrac._io.tensor_job.TensorJob` stands in a
    rewrite: the reader hands it IN's values a chunk at a time and writes
    what :meth:`convert` returns.
    """

    def __init__(self, container: ContainerFile, entry: dict[str, Any], show: Progress) -> None:
        self.name = entry["name"]
        self._entry, self._show = entry, show
        self._num = container.stream(entry, "num")
        self._den = container.stream(entry, "den")
        self._count = 0
        self.row: dict[str, Any] | None = None

    def convert(self, values: np.ndarray) -> np.ndarray:
        n = int(np.size(values))
        num, den = self._num.take(n), self._den.take(n)
        if num.size != n or den.size != n:
            raise UserError(f"tensor {self.name!r}: the container holds fewer values than IN")
        if den.size and int(den.min()) < 1:
            raise UserError(f"tensor {self.name!r}: the container has a denominator below 1")
        out = decode(Fractions(num, den), self._entry["digits"], values.dtype)
        self._count += n
        self._show.advance(n * values.dtype.itemsize)
        return out.reshape(np.shape(values))

    def finish(self) -> dict[str, Any]:
        self.row = {"name": self.name, "count": self._count, "p": self._entry["p"],
                    "digits": "exact" if self._entry["digits"] is None else self._entry["digits"]}
        return self.row


def _check_pair(container: ContainerFile, model: ModelFile, like: Path) -> None:
    """One UserError if the container's tensors are not IN's (names, shapes, types, checksum)."""
    tensors = {t.name: t for t in model.tensors}
    for entry in container.tensors:
        name = entry["name"]
        if entry["kind"] != "fractions":
            raise UserError(f"{container.path}: tensor {name!r} is stored plain; only "
                            "containers of `fastfrac approximate --fractions` can be restored")
        tensor: TensorInfo | None = tensors.get(name)
        if tensor is None:
            raise UserError(f"{container.path} holds tensor {name!r}, which {like} does not: "
                            "the container comes from another model (nothing was written)")
        if list(tensor.shape) != entry["shape"]:
            raise UserError(f"tensor {name!r} has shape {list(tensor.shape)} in {like} but "
                            f"{entry['shape']} in {container.path} (nothing was written)")
        if tensor.float_type is None or tensor.float_type.name != entry["dtype"]:
            raise UserError(f"tensor {name!r} is {tensor.dtype} in {like} but {entry['dtype']} "
                            f"in {container.path} (nothing was written)")
    if container.source is not None:
        why = matches(like, container.source)
        if why is not None:
            raise UserError(f"{like} is not the file {container.path} was made from: {why} "
                            "(nothing was written)")


def _restore_model(container: ContainerFile, model: ModelFile, out: Path,
                   show: Progress) -> list[dict[str, Any]]:
    entries = {e["name"]: e for e in container.tensors}
    rows: list[Any] = []

    def start_job(tensor: TensorInfo) -> _RestoreJob | None:
        entry = entries.get(tensor.name)
        if entry is None:
            rows.append({"name": tensor.name, "count": tensor.size, "copied": "not in the container"})
            show.advance(tensor_bytes(tensor))
            return None
        job = _RestoreJob(container, entry, show)
        rows.append(job)
        return job

    model.rewrite(out, start_job)  # type: ignore[arg-type]
    return [r.row if isinstance(r, _RestoreJob) else r for r in rows]


def _open(container_path: Path) -> ContainerFile:
    check_readable(container_path, "CONTAINER")
    try:
        return open_container(container_path)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _report(container: Path, like: Path, out: Path, rows: list[dict[str, Any]],
            seconds: float, **extra: Any) -> dict[str, Any]:
    restored = [r for r in rows if "copied" not in r]
    return {
        "container": str(container), "like": str(like), "output": str(out), **extra,
        "tensors": rows,
        "totals": {"tensors": len(rows), "restored_tensors": len(restored),
                   "restored_values": sum(r["count"] for r in restored), "seconds": seconds},
    }


def restore_file(
    container: str | os.PathLike[str],
    like: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    json_path: str | os.PathLike[str] | None = None,
    progress: str = "none",
) -> dict[str, Any]:
    """Write ``out``: the model file ``like`` with the container's tensors decoded into it.

    Parameters
    ----------
    container : path
        A fractions container written by ``fastfrac approximate --fractions``
        (version 3, or version 2 ``.npz``).
    like : path
        The model file the container was made from (.keras, .h5/.hdf5,
        .safetensors, .npz).
    out : path
        The model file to write, of ``like``'s format.
    json_path : path, optional
        Also write the report there.
    progress : {"none", "auto", "bar", "plain"}
        Progress on stderr.

    Returns
    -------
    dict
        ``container``, ``like``, ``output``, ``format``, ``version``,
        ``tensors`` (one row per tensor of ``like``: restored ones with
        ``count``, ``p``, ``digits``; the others with ``copied``) and
        ``totals``.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np
    >>> from fastfrac._io.rewrite import approximate_file
    >>> from fastfrac._io.spec import parse_spec
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> np.savez(d / "w.npz", w=np.float32([3.14159274, -0.5]), steps=np.int64(7))
    >>> _ = approximate_file(d / "w.npz", d / "a.npz", parse_spec("2"), fractions=d / "w.ffc")
    >>> report = restore_file(d / "w.ffc", d / "w.npz", d / "b.npz")
    >>> (d / "a.npz").read_bytes() == (d / "b.npz").read_bytes(), report["totals"]["restored_tensors"]
    (True, 1)
    """
    container, like, out = Path(container), Path(like), Path(out)
    fmt = detect_format(like, "IN")
    if detect_format(out, "OUT") != fmt:
        raise UserError(f"OUT {out} must be a {fmt.name} file like IN ({' or '.join(fmt.suffixes)})")
    check_paths(like, [("CONTAINER", container), ("OUT", out), ("--json", json_path)])
    started = time.perf_counter()
    with _open(container) as frac, AtomicOutputs() as outputs:
        out_tmp = outputs.path_for(out)
        json_tmp = outputs.path_for(json_path) if json_path is not None else None
        with _damaged(like):
            model = fmt.open(like, lambda suffix: outputs.scratch(out, suffix))
        _check_pair(frac, model, like)
        total = sum(tensor_bytes(t) for t in model.tensors)
        show = Progress(progress if total else "none", prefix="fastfrac restore", transient=True)
        with show, _damaged(like):
            show.start("restoring", total=total, unit=BYTES)
            rows = _restore_model(frac, model, out_tmp, show)
        report = _report(container, like, out, rows, time.perf_counter() - started,
                         format=fmt.name, version=frac.version)
        if json_tmp is not None:
            json_tmp.write_text(report_json(report), encoding="utf-8")
    return report


def _fractions_index(directory: Path) -> dict[str, str]:
    """``{shard file name: container file name}`` from ``fractions.index.json``, checked."""
    path = directory / FRACTIONS_INDEX
    check_readable(path)
    if path.stat().st_size > _MAX_INDEX:
        raise UserError(f"{path} is larger than {_MAX_INDEX:,} bytes: not a fractions index")
    raw = path.read_bytes()
    check_json_depth(raw, str(path))
    try:
        index = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not JSON: {exc}") from None
    containers = index.get("containers") if isinstance(index, dict) else None
    if (not isinstance(index, dict) or index.get("format") != "fastfrac-fractions-index"
            or not isinstance(containers, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in containers.items())):
        raise UserError(f"{path} is not a fastfrac fractions index")
    for name in containers.values():
        if Path(name).name != name or name in ("", ".", ".."):
            raise UserError(f"{path} names container {name!r} outside its directory")
    return containers


def restore_checkpoint(
    fractions: str | os.PathLike[str],
    like: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    json_path: str | os.PathLike[str] | None = None,
    progress: str = "none",
) -> dict[str, Any]:
    """Write the directory ``out``: the checkpoint ``like`` with every shard restored from ``fractions``.

    ``fractions`` is the directory ``fastfrac approximate CKPT -o OUT
    --fractions DIR`` wrote (one container per shard and
    ``fractions.index.json``); the rest is :func:`restore_file`'s, shard by
    shard, with the index and every other file copied as the approximation
    did.  OUT appears at once or not at all.
    """
    fractions, like, out = Path(fractions), Path(like), Path(out)
    containers = _fractions_index(fractions)
    ckpt = open_checkpoint(like)
    check_output_directory(ckpt.root, out)
    check_json_outside(json_path, [("IN", ckpt.root), ("OUT", out), ("CONTAINER", fractions)])
    names = {s.path.name for s in ckpt.shards}
    for shard, name in containers.items():
        if shard not in names:
            raise UserError(f"{fractions / FRACTIONS_INDEX} names shard {shard}, which {like} "
                            "does not hold (nothing was written)")
    missing = sorted(names - set(containers))
    if missing:
        raise UserError(f"{like} holds shard {missing[0]}, which {fractions / FRACTIONS_INDEX} "
                        "does not name (nothing was written)")
    opened = {}
    try:
        # Every container opened and checked against its shard before anything is written.
        for shard in ckpt.shards:
            opened[shard.path.name] = _open(fractions / containers[shard.path.name])
            _check_pair(opened[shard.path.name], shard, shard.path)
        started = time.perf_counter()
        with AtomicOutputs() as outputs:
            out_tmp = outputs.directory_for(out)
            json_tmp = None if json_path is None else outputs.path_for(json_path)
            total = sum(tensor_bytes(t) for _, t in ckpt.tensors)
            show = Progress(progress if total else "none", prefix="fastfrac restore",
                            transient=True)
            rows: list[dict[str, Any]] = []
            with show:
                show.start("restoring", total=total, unit=BYTES)
                for shard in ckpt.shards:
                    name = shard.path.name
                    shard_rows = _restore_model(opened[name], shard, out_tmp / name, show)
                    rows += [{"file": name, **r} for r in shard_rows]
            copy_skeleton(ckpt, out_tmp)
            report = _report(fractions, like, out, rows, time.perf_counter() - started,
                             format="safetensors checkpoint", shards=len(ckpt.shards))
            if json_tmp is not None:
                json_tmp.write_text(report_json(report), encoding="utf-8")
    finally:
        for frac in opened.values():
            frac.close()
    return report
