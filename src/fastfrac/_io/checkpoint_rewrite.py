"""Rewriting a checkpoint directory: every shard approximated, every other file copied.

:func:`approximate_checkpoint` is :func:`fastfrac._io.rewrite.approximate_file`
for a directory.  The whole OUT directory is built beside OUT under a
temporary name (``.OUT.fastfrac-PID-XXXXXXXX.tmpdir``) and renamed when
everything succeeded, so it appears at once or not at all (an error,
Ctrl-C, SIGTERM or SIGHUP remove it; a run killed by SIGKILL leaves it, and
the next run names it).

``--fractions DIR`` writes DIR the same way: one fractions container per
shard, ``<shard stem>.fractions.ffc`` (:mod:`fastfrac._io.container`, version 3), and
``fractions.index.json``, whose keys are:

- ``format``: ``"fastfrac-fractions-index"``; ``version``: 1;
- ``mode``: the ``--mode`` of the fractions;
- ``containers``: ``{shard file name: container file name}``, every shard;
- ``weight_map``: ``{tensor name: container file name}`` for each
  approximated tensor (copied tensors are only in OUT).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastfrac._bits import combine_rows
from fastfrac._errors import UserError
from fastfrac._inputs import thread_count
from fastfrac._io.atomic import AtomicOutputs
from fastfrac._io.checkpoint import Checkpoint, open_checkpoint
from fastfrac._io.container import SUFFIX, VERSION, ContainerWriter
from fastfrac._io.rewrite import _refuse_named_unsupported, report_json, rewrite_model, size_totals
from fastfrac._io.safetensors import SafetensorsFile
from fastfrac._io.sizes import tensor_bytes
from fastfrac._io.source import SourceDigest
from fastfrac._io.spec import Spec
from fastfrac._precision import Digits
from fastfrac._progress import BYTES, Progress
from fastfrac.approximation import openmp_enabled, selected_isa

__all__ = [
    "FRACTIONS_INDEX",
    "Runner",
    "Settings",
    "ShardResult",
    "ShardTask",
    "approximate_checkpoint",
    "check_output_directory",
    "copy_skeleton",
    "remove_parts",
    "rewrite_shard",
    "run_locally",
    "run_task",
    "shards_to_split",
    "TensorTask",
]

FRACTIONS_INDEX = "fractions.index.json"


def _inside(a: Path, b: Path) -> bool:
    """Whether ``a`` is ``b`` or lies under it (both resolved)."""
    return a == b or b in a.parents


def check_output_directory(root: Path, out: Path, role: str = "OUT") -> None:
    """Refuse an output directory that exists with files, or lies inside IN (or IN inside it).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_output_directory(folder, folder / "out")
    Traceback (most recent call last):
    ...
    fastfrac._errors.UserError: OUT .../out lies inside IN ...: give a directory outside it (nothing was written)
    """
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise UserError(f"{role} {out} exists and is not a directory: a checkpoint is written "
                            "as a directory (nothing was written)")
        if any(out.iterdir()):
            raise UserError(f"{role} {out} exists and is not empty: give a new or empty directory "
                            "(nothing was written)")
    real_in, real_out = Path(os.path.realpath(root)), Path(os.path.realpath(out))
    if _inside(real_out, real_in):
        raise UserError(f"{role} {out} lies inside IN {root}: give a directory outside it "
                        "(nothing was written)")
    if _inside(real_in, real_out):
        raise UserError(f"IN {root} lies inside {role} {out} (nothing was written)")


def _copy_other(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink() and src.is_dir():
        os.symlink(os.readlink(src), dst)  # a linked directory stays a link, never walked into
        return
    shutil.copyfile(src, dst)  # follows file symlinks: Hugging Face caches link to blobs
    shutil.copymode(src, dst)


def check_json_outside(json_path: str | os.PathLike[str] | None,
                       directories: list[tuple[str, Path | None]]) -> None:
    """UserError if the --json file lies inside one of the (role, directory) pairs."""
    if json_path is None:
        return
    real_json = Path(os.path.realpath(json_path))
    for role, directory in directories:
        if directory is not None and _inside(real_json, Path(os.path.realpath(directory))):
            raise UserError(f"--json {json_path} lies inside {role} {directory}: give a file "
                            "outside it (nothing was written)")


def copy_skeleton(ckpt: Checkpoint, out: Path) -> None:
    """Into ``out``: the checkpoint's index (if any) and every file that is not a shard."""
    if ckpt.index is not None:
        assert ckpt.index_data is not None
        # The same weight_map and metadata: shards keep their names and tensors.
        (out / ckpt.index.name).write_text(
            json.dumps(ckpt.index_data, indent=2) + "\n", encoding="utf-8")
    for rel in ckpt.others:
        _copy_other(ckpt.root / rel, out / rel)


@dataclass(frozen=True)
class Settings:
    """What every task of a run shares: SPEC's choice, digits, mode and kernel threads."""

    chosen: dict[str, int]
    spec: Spec
    digits: Digits
    mode: str
    threads: int | None  # of the kernel; None: fastfrac's default

    def rewrite(self, model: Any, out: Path, writer: ContainerWriter | None,
                show: Progress) -> list[dict[str, Any]]:
        """:func:`rewrite_model` with these settings."""
        return rewrite_model(model, out, self.chosen, self.spec, digits=self.digits,
                             mode=self.mode, writer=writer, show=show, threads=self.threads)


@dataclass(frozen=True)
class ShardTask:
    """One shard's whole job, in paths and plain values: what a Dask task is given.

    ``out_dir`` and ``frac_dir`` are the temporary directories OUT and
    ``--fractions`` DIR are built in.  ``data_bytes`` counts the shard's
    tensor bytes (the progress unit) and ``key`` names it.
    """

    src: str
    out_dir: str
    frac_dir: str | None
    settings: Settings
    data_bytes: int

    @property
    def key(self) -> str:
        return Path(self.src).name

    def run(self, show: Progress) -> ShardResult:
        return rewrite_shard(self, show)


@dataclass(frozen=True)
class TensorTask:
    """One tensor of a split shard: written by pwrite into ``out``, which was preallocated."""

    src: str
    out: str
    tensor: str
    settings: Settings
    data_bytes: int

    @property
    def key(self) -> str:
        return f"{Path(self.src).name}:{self.tensor}"

    def run(self, show: Progress) -> list[dict[str, Any]]:
        """The tensor's report row (a list of one), after writing its bytes."""
        return self.settings.rewrite(_OneTensor(SafetensorsFile(self.src), self.tensor),
                                     Path(self.out), None, show)


class _OneTensor:
    """One tensor of a shard, as :func:`rewrite_model` takes a model file."""

    def __init__(self, shard: SafetensorsFile, name: str) -> None:
        self._shard, self._name = shard, name
        self.tensors = [t for t in shard.tensors if t.name == name]

    def rewrite(self, out: Path, start_job: Any) -> None:
        self._shard.rewrite_tensor(out, self._name, start_job)


@dataclass(frozen=True)
class ShardResult:
    """What a shard task hands back: its report rows and its container, if any."""

    name: str
    rows: list[dict[str, Any]]
    shard_row: dict[str, Any]
    container: str | None


Task = ShardTask | TensorTask
Runner = Callable[[list[Task], Progress], list[Any]]
SPLIT_FACTOR = 4  # a shard more than this many times the median shard's size is split by tensor


def _part(directory: Path, name: str) -> Path:
    """A task's private file for ``name`` in ``directory``: a rerun of the task never shares it."""
    return directory / f".{name}.part-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def _is_part(name: str) -> bool:
    return name.startswith(".") and ".part-" in name


def rewrite_shard(task: ShardTask, show: Progress) -> ShardResult:
    """Rewrite one shard into ``task.out_dir`` (and its container into ``task.frac_dir``).

    Each file is written under a private name and renamed when complete, so
    a task run twice (Dask reruns the task of a worker that died) leaves one
    whole file, whichever run finished last, byte for byte the same.
    """
    shard = SafetensorsFile(task.src)
    name = shard.path.name
    out_dir = Path(task.out_dir)
    frac_dir = None if task.frac_dir is None else Path(task.frac_dir)
    container_name = f"{Path(name).stem}.fractions{SUFFIX}"
    out_part = _part(out_dir, name)
    frac_part = None if frac_dir is None else _part(frac_dir, container_name)
    try:
        writer = (ContainerWriter(frac_part, mode=task.settings.mode, version=VERSION)
                  if frac_part is not None else contextlib.nullcontext())
        digest = SourceDigest(shard.path) if frac_part is not None else None
        with writer as w:
            rows = task.settings.rewrite(shard, out_part, w, show)
            if w is not None and digest is not None:
                w.source = digest.result()
        if frac_part is not None and frac_dir is not None:
            os.replace(frac_part, frac_dir / container_name)
        os.replace(out_part, out_dir / name)
    finally:
        for part in (out_part, frac_part):
            if part is not None:
                part.unlink(missing_ok=True)
    return ShardResult(name, rows, _shard_row(name, rows, shard.path, out_dir / name),
                       None if frac_dir is None else container_name)


def run_task(task: Task) -> Any:
    """``task.run`` with no progress display: the function a Dask worker runs."""
    return task.run(Progress("none"))


def run_locally(tasks: list[Task], show: Progress) -> list[Any]:
    """The one-machine runner: the tasks one after the other in this process."""
    return [task.run(show) for task in tasks]


def shards_to_split(ckpt: Checkpoint) -> set[str]:
    """The shards more than :data:`SPLIT_FACTOR` times the median shard's size (file names).

    A checkpoint of one shard has that shard split: it is the single-file case.

    >>> import types
    >>> shard = lambda name, size: types.SimpleNamespace(path=types.SimpleNamespace(
    ...     name=name, stat=lambda: types.SimpleNamespace(st_size=size)))
    >>> shards_to_split(types.SimpleNamespace(shards=[shard("a", 10), shard("b", 12), shard("c", 50)]))
    {'c'}
    """
    sizes = {s.path.name: s.path.stat().st_size for s in ckpt.shards}
    if len(sizes) == 1:
        return set(sizes)
    median = statistics.median(sizes.values())
    return {name for name, size in sizes.items() if size > SPLIT_FACTOR * median}


def remove_parts(*directories: Path | None) -> None:
    """Delete what tasks that died mid-write left in the temporary directories."""
    for directory in directories:
        if directory is not None:
            for path in directory.iterdir():
                if _is_part(path.name):
                    path.unlink(missing_ok=True)


def approximate_checkpoint(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    spec: Spec,
    *,
    digits: Digits = "2p",
    mode: str = "decimal",
    fractions: str | os.PathLike[str] | None = None,
    json_path: str | os.PathLike[str] | None = None,
    progress: str = "none",
    runner: Runner = run_locally,
    threads: int | None = None,
    scheduler: str | None = None,
    split: bool = False,
) -> dict[str, Any]:
    """Write the directory ``dst``: the checkpoint ``src`` with the weights SPEC chooses approximated.

    ``src`` is a checkpoint directory or its ``*.safetensors.index.json``;
    the other parameters are :func:`~fastfrac._io.rewrite.approximate_file`'s,
    ``fractions`` being a directory here.  SPEC resolves over the tensor
    names of all shards together.  ``runner`` runs the shard tasks
    (:func:`run_locally`, or :func:`fastfrac.dask.cluster_runner` on a Dask
    cluster, which then needs ``src``, ``dst`` and ``fractions`` on storage
    every worker sees), each with ``threads`` kernel threads; ``scheduler``
    is recorded in the report.  With ``split`` (and no ``fractions``: a
    container is written in one stream), a shard more than
    :data:`SPLIT_FACTOR` times the median shard's size is one task per
    tensor, each writing its bytes by pwrite into the shard's output, which
    this process preallocated with the input's header (same offsets, so the
    same bytes).

    Returns the report: ``kernel``, ``input``, ``output``, ``format``
    (``"safetensors checkpoint"``), ``mode``, ``digits``, ``precision``,
    ``fractions``, ``shards`` (per shard: ``file``, ``tensors``,
    ``approximated_tensors``, ``values``, ``approximated_values``,
    ``input_bytes``, ``output_bytes``), ``tensors`` (every tensor's row, with
    its ``file``), ``copied_files`` and ``not_approximated`` (other weight
    files, copied unchanged) and ``totals``; with ``scheduler``, also
    ``scheduler`` and ``tasks`` (how many: shards, plus tensors of split ones).
    """
    src, dst = Path(src), Path(dst)
    fractions_dir = None if fractions is None else Path(fractions)
    ckpt = open_checkpoint(src)  # reads and checks every header before anything is written
    check_output_directory(ckpt.root, dst)
    if fractions_dir is not None:
        check_output_directory(ckpt.root, fractions_dir, "--fractions")
        if os.path.abspath(fractions_dir) == os.path.abspath(dst):
            raise UserError("--fractions must be another directory than OUT (nothing was written)")
    check_json_outside(json_path, [("IN", ckpt.root), ("OUT", dst), ("--fractions", fractions_dir)])
    all_tensors = [t for _, t in ckpt.tensors]
    chosen = spec.resolve([t.name for t in all_tensors], "tensor")  # one error over all shards
    _refuse_named_unsupported(all_tensors, spec, "tensor")
    started = time.perf_counter()
    with AtomicOutputs() as outputs:
        out_tmp = outputs.directory_for(dst)
        frac_tmp = None if fractions_dir is None else outputs.directory_for(fractions_dir)
        json_tmp = None if json_path is None else outputs.path_for(json_path)
        total = sum(tensor_bytes(t) for t in all_tensors)
        show = Progress(progress if total else "none", prefix="fastfrac approximate",
                        transient=True)
        settings = Settings(chosen, spec, digits, mode, threads)
        split_names = shards_to_split(ckpt) if split and frac_tmp is None else set()
        tasks: list[Task] = []
        spans = []  # per shard: its tasks' [begin, end) in tasks
        for shard in ckpt.shards:
            begin = len(tasks)
            if shard.path.name in split_names:
                out = out_tmp / shard.path.name
                shard.preallocate(out)
                tasks += [TensorTask(str(shard.path), str(out), t.name, settings, tensor_bytes(t))
                          for t in shard.tensors]
            else:
                tasks.append(ShardTask(str(shard.path), str(out_tmp),
                                       None if frac_tmp is None else str(frac_tmp), settings,
                                       sum(tensor_bytes(t) for t in shard.tensors)))
            spans.append((shard, begin, len(tasks)))
        with show:
            show.start("approximating", total=total, unit=BYTES)
            done = runner(tasks, show)
        remove_parts(out_tmp, frac_tmp)
        results = [done[begin] if isinstance(tasks[begin], ShardTask)
                   else _split_result(shard, [row for rows in done[begin:end] for row in rows],
                                      out_tmp)
                   for shard, begin, end in spans]
        rows = [{"name": r["name"], "file": res.name, **r} for res in results for r in res.rows]
        copy_skeleton(ckpt, out_tmp)
        containers = {res.name: res.container for res in results if res.container is not None}
        if frac_tmp is not None:
            frac_map = {r["name"]: res.container for res in results for r in res.rows
                        if "copied" not in r}
            (frac_tmp / FRACTIONS_INDEX).write_text(json.dumps({
                "format": "fastfrac-fractions-index", "version": 1, "mode": mode,
                "containers": containers, "weight_map": frac_map,
            }, indent=2) + "\n", encoding="utf-8")
        report = _report(ckpt, src, dst, spec, digits, mode, fractions_dir, rows,
                         [res.shard_row for res in results], time.perf_counter() - started,
                         threads)
        if scheduler is not None:
            report["scheduler"] = scheduler
            report["tasks"] = len(tasks)
        containers_written = [] if frac_tmp is None else [frac_tmp / n for n in containers.values()]
        report["totals"].update(size_totals(all_tensors, containers_written))
        if json_tmp is not None:
            json_tmp.write_text(report_json(report), encoding="utf-8")
    return report


def _split_result(shard: SafetensorsFile, rows: list[dict[str, Any]], out_dir: Path) -> ShardResult:
    name = shard.path.name
    return ShardResult(name, rows, _shard_row(name, rows, shard.path, out_dir / name), None)


def _shard_row(name: str, rows: list[dict[str, Any]], src: Path, out: Path) -> dict[str, Any]:
    done = [r for r in rows if "copied" not in r]
    return {
        "file": name,
        "tensors": len(rows),
        "approximated_tensors": len(done),
        "values": sum(r["count"] for r in rows),
        "approximated_values": sum(r["count"] for r in done),
        "input_bytes": src.stat().st_size,
        "output_bytes": out.stat().st_size,
    }


def _report(ckpt: Checkpoint, src: Path, dst: Path, spec: Spec, digits: Digits, mode: str,
            fractions: Path | None, rows: list[dict[str, Any]], shard_rows: list[dict[str, Any]],
            seconds: float, threads: int | None) -> dict[str, Any]:
    done = [r for r in rows if "copied" not in r]
    quality = combine_rows(done)
    count = quality.pop("count")
    return {
        "kernel": {"isa": selected_isa(),
                   "threads": thread_count(threads) if openmp_enabled() else 1},
        "input": str(src),
        "output": str(dst),
        "format": "safetensors checkpoint",
        "mode": mode,
        "digits": digits,
        "precision": {"rules": spec.rules, "default": spec.default},
        "fractions": None if fractions is None else str(fractions),
        "index": None if ckpt.index is None else ckpt.index.name,
        "shards": shard_rows,
        "tensors": rows,
        "copied_files": ckpt.others,
        "not_approximated": ckpt.not_approximated,
        "totals": {
            "shards": len(shard_rows),
            "tensors": len(rows),
            "approximated_tensors": len(done),
            "values": sum(r["count"] for r in rows),
            "approximated_values": count,
            **quality,
            "seconds": seconds,
            "values_per_second": count / seconds if seconds > 0 else None,
            "input_bytes": sum(s["input_bytes"] for s in shard_rows),
            "output_bytes": sum(s["output_bytes"] for s in shard_rows),
        },
    }
