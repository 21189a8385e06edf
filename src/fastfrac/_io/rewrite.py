"""Rewriting one model file: ``fastfrac approximate``'s whole job for one IN and one OUT.

:func:`approximate_file` ties the pieces together: the format's reader lists
the tensors, the SPEC decides each one's precision, the reader streams the
chosen ones through :class:`~fastfrac._io.tensor_job.TensorJob` into a temporary
OUT, and :class:`~fastfrac._io.atomic.AtomicOutputs` renames OUT, the fractions
container and the JSON report into place only when all of them are complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np  # noqa: F401 -- the docstring examples use it

from fastfrac._bits import combine_rows
from fastfrac._errors import UserError
from fastfrac._inputs import thread_count
from fastfrac._io.atomic import AtomicOutputs
from fastfrac._io.container import ContainerWriter, version_for
from fastfrac._io.formats import OPTIMIZER_COPIED, ModelFile, TensorInfo, detect_format
from fastfrac._io.sizes import tensor_bytes
from fastfrac._io.paths import check_paths
from fastfrac._io.source import SourceDigest
from fastfrac._io.spec import Spec, parse_spec  # noqa: F401 -- parse_spec: the examples
from fastfrac._io.tensor_job import TensorJob
from fastfrac._precision import Digits, digits_for
from fastfrac._progress import BYTES, Progress
from fastfrac._tables import (
    QUALITY_COLUMNS,
    Column,
    format_quality,
    format_table,
    format_value,
)
from fastfrac.approximation import openmp_enabled, selected_isa

__all__ = [
    "approximate_file",
    "choose_units",
    "report_json",
    "rewrite_model",
    "size_totals",
    "summary",
    "tensor_choice",
]

_TABLE_ROWS = 40  # longer reports are summarised; --json has every row


# Copied exactly, as they should be: not a type waiting for support.
_EXACT_COPIES = ("integer tensor", "boolean tensor")


def _refuse_named_unsupported(tensors: list[TensorInfo], spec: Spec, noun: str) -> None:
    """UserError when SPEC names a tensor (or layer) exactly that holds a type fastfrac cannot approximate.

    A glob or the bare P reaching such a tensor only copies it (the report
    says why); an exact name asked for it, so skipping it would be a lie.
    """
    for tensor in tensors:
        if (tensor.reason is not None and tensor.reason not in _EXACT_COPIES
                and tensor.unit is not None and spec.rules.get(str(tensor.unit)) is not None):
            what = tensor.name if noun == "tensor" else f"{tensor.unit} ({tensor.name})"
            raise UserError(
                f"SPEC names {noun} {tensor.unit} but {what} cannot be approximated: "
                f"{tensor.reason}; write {tensor.unit}=- to copy it"
            )


@contextlib.contextmanager
def _damaged(src: Path) -> Iterator[None]:
    """Turn what zipfile raises on a damaged archive into one line naming the file.

    Bad CRCs and records (BadZipFile), cut-short or corrupt compressed data
    (zlib.error, EOFError, LZMAError), a version or feature zipfile lacks
    (NotImplementedError), a member name that is not UTF-8.
    """
    import zipfile
    import zlib

    try:
        import lzma

        lzma_error: type[Exception] = lzma.LZMAError
    except ImportError:  # Python built without lzma
        lzma_error = zipfile.BadZipFile
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, lzma_error, NotImplementedError,
            UnicodeDecodeError) as exc:
        raise UserError(f"{src} is damaged: {' '.join(str(exc).split()) or type(exc).__name__}") from None


def choose_units(tensors: list[TensorInfo], spec: Spec, noun: str) -> dict[str, int]:
    """``{unit: p}``: SPEC over the layers/tensors, plus optimizer state it names exactly.

    Optimizer tensors are left out of the globs, the bare P and the "matches
    nothing" check; an item naming one's path exactly approximates it.
    """
    exact_only = {str(t.unit) for t in tensors if t.optimizer}
    units = list(dict.fromkeys(
        t.unit for t in tensors if t.unit is not None and str(t.unit) not in exact_only
    ))
    layers_only = Spec({k: v for k, v in spec.rules.items() if k not in exact_only}, spec.default)
    chosen = layers_only.resolve(units, noun) if layers_only.rules or layers_only.default is not None else {}
    chosen.update({u: p for u in exact_only if (p := spec.rules.get(u)) is not None})
    return chosen


def _copied_row(tensor: TensorInfo, reason: str) -> dict[str, Any]:
    return {
        "name": tensor.name,
        "shape": list(tensor.shape),
        "dtype": tensor.dtype,
        "count": tensor.size,
        "copied": reason,
    }


def tensor_choice(tensor: TensorInfo, chosen: dict[str, int], spec: Spec) -> tuple[int | None, str | None]:
    """(p, None) for a tensor to approximate, else (None, why it is copied).

    ``chosen`` is :func:`choose_units`'s map over the units.

    >>> spec = parse_spec("norm=-,dense=3")
    >>> w = TensorInfo("dense", "dense", (2,), "F32", np.dtype("float32"))
    >>> tensor_choice(w, {"dense": 3}, spec), tensor_choice(w, {}, parse_spec("x=2"))
    ((3, None), (None, 'not chosen by SPEC'))
    """
    if tensor.reason is not None:
        return None, tensor.reason
    if tensor.unit in chosen:
        return chosen[tensor.unit], None
    if tensor.optimizer and str(tensor.unit) not in spec.rules:
        return None, OPTIMIZER_COPIED
    # A float tensor SPEC covers but did not choose was kept by a NAME=- item.
    return None, "kept by SPEC" if spec.covers(str(tensor.unit)) else "not chosen by SPEC"


def rewrite_model(
    model: ModelFile,
    out: Path,
    chosen: dict[str, int],
    spec: Spec,
    *,
    digits: Digits,
    mode: str,
    writer: ContainerWriter | None,
    show: Progress,
    layers: bool = False,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Write ``model`` to ``out`` with the tensors ``chosen`` approximated; their report rows.

    The part of a run that is the same for a model file and each shard of a
    checkpoint.  ``show`` advances by the bytes of every tensor, approximated
    or copied, so that its rate and time left hold over a whole checkpoint;
    ``layers`` adds each row's layer (Keras files); ``threads`` is the
    kernel's (None: ``FASTFRAC_NUM_THREADS``, else every core).
    """
    rows: list[dict[str, Any] | TensorJob] = []

    def start_job(tensor: TensorInfo) -> TensorJob | None:
        p, reason = tensor_choice(tensor, chosen, spec)
        if p is None:
            rows.append(_copied_row(tensor, str(reason)))
            show.advance(tensor_bytes(tensor))  # copied next, at disk speed
            return None
        n_digits = digits_for(digits, p)
        assert tensor.float_type is not None  # only float tensors are chosen
        sink = None
        if writer is not None:
            sink = writer.fractions(
                tensor.name, tensor.shape, tensor.float_type,
                p=p, digits=n_digits, fortran_order=tensor.fortran_order,
            )
        show.rename(tensor.name if len(tensor.name) <= 40 else "…" + tensor.name[-39:])
        itemsize = tensor.float_type.itemsize
        job = TensorJob(
            tensor.name, tensor.shape, tensor.dtype,
            p=p, digits=n_digits, mode=mode, sink=sink,
            advance=lambda n: show.advance(n * itemsize), threads=threads,
        )
        rows.append(job)
        return job

    model.rewrite(out, start_job)
    units = {t.name: t.unit for t in model.tensors} if layers else {}
    optimizer = {t.name for t in model.tensors if t.optimizer}
    tensor_rows = []
    for row in rows:
        row = row.row if isinstance(row, TensorJob) else row
        assert row is not None  # every job was finished by rewrite()
        if layers:
            # Optimizer state has no layer; its row says what it is instead.
            layer = None if row["name"] in optimizer else units[row["name"]]
            row = {"name": row["name"], "layer": layer, **row}
        if row["name"] in optimizer:
            row["optimizer"] = True
        tensor_rows.append(row)
    return tensor_rows


def approximate_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    spec: Spec,
    *,
    digits: Digits = "2p",
    mode: str = "decimal",
    fractions: str | os.PathLike[str] | None = None,
    json_path: str | os.PathLike[str] | None = None,
    progress: str = "none",
) -> dict[str, Any]:
    """Write ``dst``, a copy of the model file ``src`` with the weights SPEC chooses approximated.

    Parameters
    ----------
    src, dst : path
        Model files of the same format (.keras, .h5/.hdf5, .safetensors, .npz).
    spec : Spec
        The precision map (:func:`fastfrac._io.spec.parse_spec`).
    digits : {"2p", "exact"} or int
        Significant digits of the stored values.
    mode : {"decimal", "exact"}
        Passed to :func:`fastfrac.approximate`.
    fractions, json_path : path, optional
        Also write the fractions container (:mod:`fastfrac._io.container`: the
        approximated tensors only, under their names in the file) / the JSON
        report there.
    progress : {"none", "auto", "bar", "plain"}
        How to show progress on stderr (:class:`fastfrac._progress.Progress`).

    Returns
    -------
    dict
        The report: ``kernel`` (``isa``: the kernel path, ``threads``),
        ``input``, ``output``, ``format``, ``mode``, ``digits``,
        ``precision``, ``fractions``, ``tensors`` (one row per tensor in file
        order) and ``totals``.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np
    >>> from fastfrac._io.spec import parse_spec
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.savez(folder / "w.npz", w=np.float32([3.14159274, -0.5]), steps=np.int64(7))
    >>> report = approximate_file(folder / "w.npz", folder / "out.npz", parse_spec("2"))
    >>> np.load(folder / "out.npz")["w"], report["tensors"][1]["copied"]
    (array([ 3.143, -0.5  ], dtype=float32), 'integer tensor')
    """
    src, dst = Path(src), Path(dst)
    fmt = detect_format(src, "IN")
    if detect_format(dst, "OUT") != fmt:
        raise UserError(
            f"OUT {dst} must be a {fmt.name} file like IN ({' or '.join(fmt.suffixes)})"
        )
    # Before anything is created: no output may name IN or another output.
    check_paths(src, [("OUT", dst), ("--fractions", fractions), ("--json", json_path)])
    started = time.perf_counter()
    with AtomicOutputs() as outputs:
        out_tmp = outputs.path_for(dst)
        fractions_tmp = outputs.path_for(fractions) if fractions is not None else None
        json_tmp = outputs.path_for(json_path) if json_path is not None else None
        with _damaged(src):
            model = fmt.open(src, lambda suffix: outputs.scratch(dst, suffix))

        chosen = choose_units(model.tensors, spec, fmt.noun)
        _refuse_named_unsupported(model.tensors, spec, fmt.noun)
        total = sum(tensor_bytes(t) for t in model.tensors)
        container = (
            ContainerWriter(fractions_tmp, mode=mode, version=version_for(fractions))
            if fractions_tmp is not None
            else contextlib.nullcontext()
        )
        show = Progress(progress if total else "none", prefix="fastfrac approximate",
                        transient=True)
        digest = SourceDigest(src) if fractions_tmp is not None else None
        with container as writer, show:
            show.start("approximating", total=total, unit=BYTES)
            with _damaged(src):
                tensor_rows = rewrite_model(
                    model, out_tmp, chosen, spec, digits=digits, mode=mode, writer=writer,
                    show=show, layers=fmt.noun == "layer",
                )
            if writer is not None and digest is not None:
                writer.source = digest.result()
        report = {
            "kernel": {
                "isa": selected_isa(),
                "threads": thread_count(None) if openmp_enabled() else 1,
            },
            "input": str(src),
            "output": str(dst),
            "format": fmt.name,
            "mode": mode,
            "digits": digits,
            "precision": {"rules": spec.rules, "default": spec.default},
            "fractions": None if fractions is None else str(fractions),
            "tensors": tensor_rows,
            "totals": _totals(tensor_rows, src, out_tmp, time.perf_counter() - started),
        }
        report["totals"].update(size_totals(model.tensors, [fractions_tmp]))
        if json_tmp is not None:
            json_tmp.write_text(report_json(report), encoding="utf-8")
    return report


def size_totals(tensors: list[TensorInfo], containers: list[Path | None]) -> dict[str, Any]:
    """What a container's size means: bytes, bits per parameter, and a 16-bit copy's bytes.

    ``parameters`` counts every tensor's values; ``half_copy_bytes`` is the
    tensor data of the same file with every float tensor in 2 bytes a value
    (float16 or bfloat16) and the others as they are: arithmetic, the
    baseline a user would otherwise pick.  ``fractions_bytes`` and
    ``fractions_bits_per_parameter`` are None without a container.
    """
    parameters = sum(t.size for t in tensors)
    half = sum(2 * t.size if t.float_type is not None else tensor_bytes(t) for t in tensors)
    given = [c for c in containers if c is not None]
    size = sum(c.stat().st_size for c in given) if given else None
    return {
        "parameters": parameters,
        "half_copy_bytes": half,
        "fractions_bytes": size,
        "fractions_bits_per_parameter": (8 * size / parameters
                                         if size is not None and parameters else None),
    }


def report_json(report: dict[str, Any]) -> str:
    """The report as --json writes it (to a file or to standard output)."""
    return json.dumps(report, indent=2) + "\n"


def _totals(rows: list[dict[str, Any]], src: Path, out: Path, seconds: float) -> dict[str, Any]:
    done = [r for r in rows if "copied" not in r]
    quality = combine_rows(done)
    count = quality.pop("count")
    state = [r for r in rows if r.get("optimizer")]
    return {
        "tensors": len(rows),
        "approximated_tensors": len(done),
        # Keras files: model weights and optimizer state counted apart.
        "optimizer_tensors": len(state),
        "approximated_optimizer_tensors": sum("copied" not in r for r in state),
        "values": sum(r["count"] for r in rows),
        "approximated_values": count,
        **quality,
        "seconds": seconds,
        "values_per_second": count / seconds if seconds > 0 else None,
        "input_bytes": src.stat().st_size,
        "output_bytes": out.stat().st_size,
    }


_COLUMNS: list[Column] = [
    ("name", "tensor", format_value),
    ("dtype", "dtype", format_value),
    ("count", "values", lambda v: format_value(v, ",d")),
    *QUALITY_COLUMNS,
    ("copied", "copied because", lambda v: "" if v is None else str(v)),
]


def summary(report: dict[str, Any]) -> str:
    """The few lines ``fastfrac approximate`` prints: totals and, if short, the table."""
    t = report["totals"]
    # Keras files count optimizer state apart (checkpoints have none).
    state_total, state_done = t.get("optimizer_tensors", 0), t.get("approximated_optimizer_tensors", 0)
    weights = t["tensors"] - state_total
    done = t["approximated_tensors"] - state_done
    noun = "model weights" if state_total else "tensors"
    state = (f"; optimizer state: {state_done} of {state_total} tensors approximated"
             if state_total else "")
    lines = [
        f"{report['output']}: {done} of {weights} {noun} approximated{state} "
        f"({t['approximated_values']:,} of {t['values']:,} values) in {t['seconds']:.2f} s "
        f"({report['kernel']['isa']} kernel, {report['kernel']['threads']} threads)",
        f"{format_quality(t)}; {t['input_bytes']:,} -> {t['output_bytes']:,} bytes",
    ]
    if t.get("fractions_bytes") is not None:
        lines.append(
            f"fractions container: {t['fractions_bytes']:,} bytes, "
            f"{t['fractions_bits_per_parameter']:.2f} bits per parameter over all "
            f"{t['parameters']:,}; beside IN's {t['input_bytes']:,} bytes and a float16/bfloat16 "
            f"copy's {t['half_copy_bytes']:,} (tensor data)"
        )
    if "shards" in report:  # a checkpoint directory
        lines.append(f"{t['shards']} shard(s) rewritten; {len(report['copied_files'])} other "
                     f"file(s) copied byte for byte")
        if report["not_approximated"]:
            lines.append("other weight files copied, not approximated: "
                         + ", ".join(report["not_approximated"]))
    rows = report["tensors"]
    if len(rows) <= _TABLE_ROWS:
        lines += ["", format_table(rows, _COLUMNS)]
    else:
        lines.append(f"({len(rows)} tensors: --json FILE writes the table)")
    return "\n".join(lines)
