"""``fastfrac inspect``: a model file's or checkpoint's tensors, and what a SPEC would do, from headers.

Nothing but headers is read (a safetensors header, the .npy headers of an
npz, the HDF5 metadata of a Keras file), so a 100 GB checkpoint inspects in a
fraction of a second; TensorFlow is never imported.  A .keras archive's
``model.weights.h5`` is first extracted to a temporary file (HDF5 needs a
file), which reads that member once.

The JSON (``--json``), a contract:

- ``path``: PATH as given; ``format``: ``Keras model``, ``Keras HDF5``,
  ``safetensors``, ``npz`` or ``safetensors checkpoint``;
- ``tensors``: one object per tensor in file order (shard by shard): ``name``,
  ``file`` (the file holding it, relative to a checkpoint directory), ``layer``
  (Keras files only), ``dtype`` (as the file spells it), ``shape``,
  ``count``, ``bytes``; with ``-p`` also ``p`` and ``digits`` (null when
  the tensor is left alone) and ``reason`` (null when it is approximated,
  else why not: ``not chosen by SPEC``, ``kept by SPEC``, ``integer
  tensor``, ``bfloat16 is not approximated yet``...);
- ``totals``: ``tensors``, ``count``, ``bytes``, ``by_dtype`` (``{dtype:
  {tensors, count, bytes}}``) and with ``-p`` ``approximated_tensors``,
  ``approximated_values``;
- for a checkpoint also ``files`` (``[{file, tensors, bytes}]`` per
  shard), ``other_files`` and ``not_approximated``; with ``-p``, ``precision``
  (``rules``, ``default``) and ``digits``.

Examples
--------
>>> import pathlib, tempfile, numpy as np
>>> from fastfrac._io.spec import parse_spec
>>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
>>> np.savez(path, w=np.float32([[0.5, 0.1]]), steps=np.int64(3))
>>> report = inspect_path(path, parse_spec("2"))
>>> [(t["name"], t["count"], t["bytes"], t["p"], t["reason"]) for t in report["tensors"]]
[('w', 2, 8, 2, None), ('steps', 1, 8, None, 'integer tensor')]
>>> report["totals"]["by_dtype"]["float32"]
{'tensors': 1, 'count': 2, 'bytes': 8}
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastfrac._io.checkpoint import is_checkpoint, open_checkpoint
from fastfrac._io.formats import TensorInfo, detect_format
from fastfrac._io.paths import check_readable
from fastfrac._io.rewrite import _damaged, _refuse_named_unsupported, choose_units, tensor_choice
from fastfrac._io.sizes import tensor_bytes
from fastfrac._io.spec import Spec
from fastfrac._precision import Digits, digits_for
from fastfrac._tables import format_table, format_value

__all__ = ["inspect_path", "inspect_text"]


def _rows(tensors: list[tuple[str, TensorInfo]], layers: bool, spec: Spec | None,
          digits: Digits) -> list[dict[str, Any]]:
    chosen: dict[str, int] = {}
    if spec is not None:
        infos = [t for _, t in tensors]
        # approximate's rules and errors (optimizer state only by its exact path)
        chosen = choose_units(infos, spec, "layer" if layers else "tensor")
        _refuse_named_unsupported(infos, spec, "layer" if layers else "tensor")
    rows = []
    for file, t in tensors:
        row: dict[str, Any] = {"name": t.name, "file": file}
        if layers:
            row["layer"] = t.unit
        row.update(dtype=t.dtype, shape=list(t.shape), count=t.size, bytes=tensor_bytes(t))
        if spec is not None:
            p, reason = tensor_choice(t, chosen, spec)
            row.update(p=p, digits=None if p is None else (digits_for(digits, p) or "exact"),
                       reason=reason)
        rows.append(row)
    return rows


def _totals(rows: list[dict[str, Any]], with_spec: bool) -> dict[str, Any]:
    by_dtype: dict[str, dict[str, int]] = {}
    for r in rows:
        d = by_dtype.setdefault(r["dtype"], {"tensors": 0, "count": 0, "bytes": 0})
        d["tensors"] += 1
        d["count"] += r["count"]
        d["bytes"] += r["bytes"]
    totals: dict[str, Any] = {
        "tensors": len(rows),
        "count": sum(r["count"] for r in rows),
        "bytes": sum(r["bytes"] for r in rows),
        "by_dtype": by_dtype,
    }
    if with_spec:
        done = [r for r in rows if r["reason"] is None]
        totals["approximated_tensors"] = len(done)
        totals["approximated_values"] = sum(r["count"] for r in done)
    return totals


def inspect_path(path: str | os.PathLike[str], spec: Spec | None = None, *,
                 digits: Digits = "2p") -> dict[str, Any]:
    """The tensors of a model file or checkpoint (and, with ``spec``, what each would get)."""
    path = Path(path)
    if not path.exists():
        from fastfrac._errors import UserError

        raise UserError(f"PATH {path} does not exist")
    extra: dict[str, Any] = {}
    if is_checkpoint(path):
        ckpt = open_checkpoint(path)
        tensors = [(s.path.name, t) for s, t in ckpt.tensors]
        fmt_name, layers = "safetensors checkpoint", False
        extra = {
            "files": [{"file": s.path.name, "tensors": len(s.tensors),
                       "bytes": s.path.stat().st_size} for s in ckpt.shards],
            "other_files": ckpt.others,
            "not_approximated": ckpt.not_approximated,
        }
    else:
        check_readable(path, "PATH")
        fmt = detect_format(path, "PATH")
        scratch_dir = Path(tempfile.mkdtemp(prefix="fastfrac-inspect-"))
        try:
            with _damaged(path):
                model = fmt.open(path, lambda suffix: scratch_dir / f"weights{suffix}")
        finally:
            shutil.rmtree(scratch_dir, ignore_errors=True)  # the tensor list is all we keep
        tensors = [(path.name, t) for t in model.tensors]
        fmt_name, layers = fmt.name, fmt.noun == "layer"
    rows = _rows(tensors, layers, spec, digits)
    report: dict[str, Any] = {"path": str(path), "format": fmt_name}
    if spec is not None:
        report["precision"] = {"rules": spec.rules, "default": spec.default}
        report["digits"] = digits
    report.update(tensors=rows, totals=_totals(rows, spec is not None), **extra)
    return report


def _size(n: int) -> str:
    for size, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= size:
            return f"{n / size:.2f} {name}"
    return f"{n} B"


def inspect_text(report: dict[str, Any], max_rows: int = 200) -> str:
    """What ``fastfrac inspect`` prints: the table of tensors and the totals.

    >>> print(inspect_text({"path": "w.npz", "format": "npz", "tensors": [
    ...     {"name": "w", "file": "w.npz", "dtype": "float32", "shape": [2], "count": 2, "bytes": 8}],
    ...     "totals": {"tensors": 1, "count": 2, "bytes": 8,
    ...                "by_dtype": {"float32": {"tensors": 1, "count": 2, "bytes": 8}}}}))
    ... # doctest: +NORMALIZE_WHITESPACE
    w.npz (npz): 1 tensors, 2 values, 8 B
      float32: 1 tensors, 2 values, 8 B
    <BLANKLINE>
    tensor  dtype    shape  values  bytes
    w       float32  [2]         2      8
    """
    t = report["totals"]
    lines = [f"{report['path']} ({report['format']}): {t['tensors']:,} tensors, "
             f"{t['count']:,} values, {_size(t['bytes'])}"]
    for dtype, d in t["by_dtype"].items():
        lines.append(f"  {dtype}: {d['tensors']:,} tensors, {d['count']:,} values, "
                     f"{_size(d['bytes'])}")
    if "approximated_tensors" in t:
        lines.append(f"SPEC approximates {t['approximated_tensors']:,} tensors "
                     f"({t['approximated_values']:,} values)")
    if report.get("not_approximated"):
        lines.append("other weight files (copied, not approximated): "
                     + ", ".join(report["not_approximated"]))
    rows = report["tensors"]
    columns: list[Any] = [("name", "tensor", format_value)]
    if "files" in report:
        columns.append(("file", "file", format_value))
    if rows and "layer" in rows[0]:
        columns.append(("layer", "layer", format_value))
    columns += [
        ("dtype", "dtype", format_value),
        ("shape", "shape", lambda v: "[" + ", ".join(map(str, v)) + "]"),
        ("count", "values", lambda v: format_value(v, ",d")),
        ("bytes", "bytes", lambda v: format_value(v, ",d")),
    ]
    if "approximated_tensors" in t:
        columns += [("p", "p", format_value), ("digits", "digits", format_value),
                    ("reason", "left alone because", lambda v: "" if v is None else str(v))]
    lines.append("")
    lines.append(format_table(rows[:max_rows], columns))
    if len(rows) > max_rows:
        lines.append(f"... {len(rows) - max_rows} more tensors: --json FILE lists every one")
    return "\n".join(lines)
