"""``fastfrac approximate`` on a sharded Llama-shaped bfloat16 checkpoint: values/s and peak RSS.

What is measured
----------------
Data: a synthetic checkpoint laid out as Hugging Face ships Llama models,
built afresh for each size and deleted afterwards: ``model.embed_tokens``,
``--layers`` blocks (default 32) of ``self_attn.{q,k,v,o}_proj``,
``mlp.{gate,up,down}_proj``, ``input_layernorm`` and
``post_attention_layernorm``, then ``model.norm`` and ``lm_head``; bfloat16
``*.safetensors`` shards of at most ``--shard-gb`` each
(``model-00001-of-0000N.safetensors``), ``model.safetensors.index.json`` and
``config.json``.  The MLP width is Llama's rule, 8/3 of the hidden width
rounded up to a multiple of 256.  Values are N(0, 0.02) (the norms
N(1, 0.02)), each tensor drawn from its own ``numpy.random.default_rng((seed,
index))`` a slice at a time, so a size is the same bytes on every run and
building it never holds more than a slice in memory.  The default sizes are
hidden width 2304 (2.19 G values, 4.4 GB, 5 shards) and 1152 (0.58 G values,
1.2 GB, 2 shards): peak RSS at both shows whether memory grows with size.

Before any timing every file of the checkpoint is read once, so the page
cache is warm (the rate of that read is printed as evidence).  Then, in
``--rounds`` interleaved rounds (default 3):

end to end
    ``python -m fastfrac approximate IN -o OUT -p P -q --json REPORT`` with
    ``FASTFRAC_NUM_THREADS`` set to ``--threads`` (default 2), run under the
    launcher of tests/peak.py so that its peak RSS is that process's alone;
    values/s is the checkpoint's value count over the wall time, start-up
    included.  The report must say every value was approximated.  OUT is
    deleted and the file system synced (untimed) after each run, so one run's
    write-back does not slow the next.
with ``--fractions``
    the same command with ``--fractions DIR`` (DIR beside OUT), and its time
    over the plain run's.
fused pass
    :func:`fastfrac._fused.approximate_chunk` in this process, same p, the
    command line's default digits (2p), same threads, over every value of the
    checkpoint in slices of :data:`fastfrac._io.formats.CHUNK` values, as the
    file path hands them; each tensor is copied into memory first, untimed,
    so this is the in-memory throughput of the pass the command is built on.

Printed per size: median and best values/s of each, the end-to-end / fused
ratio (medians) and the largest peak RSS of the rounds; ``--json FILE``
writes the figures.  The targets it is judged on (2 threads, warm cache):
end to end >= 50 % of the fused pass and >= 40 M values/s, peak RSS <= 1 GB
at both sizes, ``--fractions`` <= 1.5x the plain run.

``python benchmarks/bench_checkpoint.py [--fractions] [--hidden 2304 1152]
[--dir DIR] [--json FILE]`` runs it (``--help`` for the rest); it needs about
2.1x the largest size free on the file system of ``--dir`` (3.2x with
``--fractions``) and checks that before it starts.
Plain ``pytest`` runs the whole pipeline untimed on a tiny checkpoint and
checks the output against :func:`fastfrac.approximate` and
:func:`fastfrac.to_float`; it has no timed case, so ``pytest --benchmark``
deselects it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import fastfrac
from fastfrac._fused import approximate_chunk
from fastfrac._io.formats import CHUNK
from fastfrac._precision import digits_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from peak import run_measured  # tests/peak.py: a command's own peak RSS

BF16 = np.dtype(ml_dtypes.bfloat16)
INDEX = "model.safetensors.index.json"
SLICE = 1 << 24  # values drawn and written at a time while building
READ_BYTES = 8 << 20  # per read while warming the page cache
TARGETS = {"end_to_end_values_per_s": 40e6, "ratio": 0.5, "peak_rss_mb": 1024,
           "fractions_ratio": 1.5}


@dataclass(frozen=True)
class Shape:
    """A Llama-like model's sizes; its tensors in the order the checkpoint stores them."""

    hidden: int
    intermediate: int
    vocab: int = 32000
    layers: int = 32

    @classmethod
    def llama(cls, hidden: int, *, vocab: int = 32000, layers: int = 32) -> Shape:
        """Llama's MLP width for ``hidden``: 8/3 of it, rounded up to a multiple of 256.

        >>> Shape.llama(4096).intermediate, Shape.llama(2304).intermediate
        (11008, 6144)
        """
        return cls(hidden, -(-(8 * hidden // 3) // 256) * 256, vocab, layers)

    def tensors(self) -> list[tuple[str, tuple[int, ...]]]:
        h, m = self.hidden, self.intermediate
        block = [
            ("input_layernorm", (h,)),
            ("self_attn.q_proj", (h, h)),
            ("self_attn.k_proj", (h, h)),
            ("self_attn.v_proj", (h, h)),
            ("self_attn.o_proj", (h, h)),
            ("post_attention_layernorm", (h,)),
            ("mlp.gate_proj", (m, h)),
            ("mlp.up_proj", (m, h)),
            ("mlp.down_proj", (h, m)),
        ]
        names = [("model.embed_tokens.weight", (self.vocab, h))]
        for i in range(self.layers):
            names += [(f"model.layers.{i}.{part}.weight", shape) for part, shape in block]
        return names + [("model.norm.weight", (h,)), ("lm_head.weight", (self.vocab, h))]

    @property
    def values(self) -> int:
        return sum(math.prod(shape) for _, shape in self.tensors())

    def config(self) -> dict[str, Any]:
        return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                "hidden_size": self.hidden, "intermediate_size": self.intermediate,
                "num_hidden_layers": self.layers, "num_attention_heads": self.hidden // 64,
                "vocab_size": self.vocab, "torch_dtype": "bfloat16"}


def draw(index: int, name: str, count: int, seed: int) -> Iterator[np.ndarray]:
    """Tensor ``index``'s values as bfloat16, SLICE at a time: N(0, 0.02), norms N(1, 0.02)."""
    rng = np.random.default_rng((seed, index))
    loc = 1.0 if name.endswith("norm.weight") else 0.0
    for start in range(0, count, SLICE):
        x = rng.standard_normal(min(SLICE, count - start), dtype=np.float32)
        x *= 0.02
        x += loc
        yield x.astype(BF16)


def shard_plan(shape: Shape, shard_bytes: int) -> list[list[tuple[int, str, tuple[int, ...]]]]:
    """Each shard's tensors as (index, name, shape), in order; a shard ends before shard_bytes."""
    shards: list[list[tuple[int, str, tuple[int, ...]]]] = [[]]
    size = 0
    for i, (name, dims) in enumerate(shape.tensors()):
        nbytes = math.prod(dims) * BF16.itemsize
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append((i, name, dims))
        size += nbytes
    return shards


def build(root: Path, shape: Shape, shard_bytes: int, seed: int = 0) -> list[Path]:
    """Write the checkpoint into the new directory root; its shards."""
    root.mkdir()
    plan = shard_plan(shape, shard_bytes)
    weight_map, paths = {}, []
    for k, members in enumerate(plan, 1):
        path = root / f"model-{k:05d}-of-{len(plan):05d}.safetensors"
        header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for _, name, dims in members:
            nbytes = math.prod(dims) * BF16.itemsize
            header[name] = {"dtype": "BF16", "shape": list(dims),
                            "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = path.name
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)  # data 8-byte aligned, as the safetensors library writes
        with open(path, "wb") as f:
            f.write(len(text).to_bytes(8, "little") + text)
            for i, name, dims in members:
                f.writelines(values.tobytes() for values in draw(i, name, math.prod(dims), seed))
        paths.append(path)
    total = shape.values * BF16.itemsize
    (root / INDEX).write_text(json.dumps({"metadata": {"total_size": total},
                                          "weight_map": weight_map}, indent=2) + "\n")
    (root / "config.json").write_text(json.dumps(shape.config(), indent=2) + "\n")
    return paths


def read_tensors(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """A shard's tensors as read-only memory maps, in file order."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    data = np.memmap(path, np.uint8, "r")
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        begin, end = spec["data_offsets"]
        yield name, data[8 + size + begin : 8 + size + end].view(BF16).reshape(spec["shape"])


def warm(root: Path) -> float:
    """Read every file under root once (the page cache then holds them); the rate in bytes/s."""
    buffer = bytearray(READ_BYTES)
    total, start = 0, time.perf_counter()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb", buffering=0) as f:
                while n := f.readinto(buffer):
                    total += n
    return total / (time.perf_counter() - start)


def fused_seconds(shards: list[Path], p: int, threads: int) -> float:
    """Seconds approximate_chunk takes over all the shards' values, CHUNK at a time, in memory."""
    digits = digits_for("2p", p)
    seconds = 0.0
    for path in shards:
        for _, tensor in read_tensors(path):
            values = np.array(tensor).reshape(-1)  # into memory, untimed
            start = time.perf_counter()
            for i in range(0, values.size, CHUNK):
                approximate_chunk(values[i : i + CHUNK], p, digits=digits, threads=threads)
            seconds += time.perf_counter() - start
    return seconds


def _environment(threads: int) -> dict[str, str]:
    """This process's environment, for a subprocess: the same fastfrac, on ``threads`` threads."""
    package_parent = str(Path(fastfrac.__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, (package_parent, os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PYTHONPATH": path, "FASTFRAC_NUM_THREADS": str(threads)}


def end_to_end(src: Path, out: Path, p: int, threads: int, values: int,
               fractions: Path | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of ``fastfrac approximate src -o out -p P``; OUT is kept."""
    report = out.with_name(out.name + ".report.json")
    argv = [sys.executable, "-m", "fastfrac", "approximate", str(src), "-o", str(out),
            "-p", str(p), "-q", "--json", str(report)]
    if fractions is not None:
        argv += ["--fractions", str(fractions)]
    start = time.perf_counter()
    done, peak_mb = run_measured(argv, env=_environment(threads))
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"fastfrac approximate failed ({done.returncode}): {done.stderr}")
    shards = json.loads(report.read_text())["shards"]
    report.unlink()
    approximated = sum(s["approximated_values"] for s in shards)
    if approximated != values:
        raise RuntimeError(f"the run approximated {approximated:,} of {values:,} values")
    return seconds, peak_mb


def _remove(*paths: Path) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
    os.sync()  # untimed: the deleted output's write-back is not the next run's cost


def _figures(seconds: list[float], values: int) -> dict[str, float]:
    return {"median_values_per_s": values / statistics.median(seconds),
            "best_values_per_s": values / min(seconds), "seconds": seconds}


def bench_size(shape: Shape, work: Path, *, shard_bytes: int, p: int = 2, threads: int = 2,
               rounds: int = 3, fractions: bool = False, seed: int = 0) -> dict[str, Any]:
    """Build the checkpoint of ``shape`` in the new directory work, measure it, delete work."""
    src, out, frac = work / "in", work / "out", work / "fractions"
    work.mkdir()
    try:
        shards = build(src, shape, shard_bytes, seed)
        values = shape.values
        warm_rate = warm(src)
        plain, with_fractions, fused, peaks = [], [], [], []
        for _ in range(rounds):
            seconds, peak = end_to_end(src, out, p, threads, values)
            plain.append(seconds)
            peaks.append(peak)
            _remove(out)
            if fractions:
                seconds, peak = end_to_end(src, out, p, threads, values, frac)
                with_fractions.append(seconds)
                peaks.append(peak)
                _remove(out, frac)
            fused.append(fused_seconds(shards, p, threads))
        result: dict[str, Any] = {
            "hidden": shape.hidden, "intermediate": shape.intermediate, "vocab": shape.vocab,
            "layers": shape.layers, "values": values, "bytes": values * BF16.itemsize,
            "shards": len(shards), "warm_read_bytes_per_s": warm_rate,
            "end_to_end": _figures(plain, values), "fused": _figures(fused, values),
            "ratio": statistics.median(fused) / statistics.median(plain),
            "peak_rss_mb": max(peaks),
        }
        if fractions:
            result["with_fractions"] = _figures(with_fractions, values)
            result["fractions_ratio"] = statistics.median(with_fractions) / statistics.median(plain)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _rate(figures: dict[str, float]) -> str:
    median, best = figures["median_values_per_s"] / 1e6, figures["best_values_per_s"] / 1e6
    return f"{median:7.1f} ({best:6.1f})"


def report(results: list[dict[str, Any]], p: int, threads: int, rounds: int) -> None:
    print(f"fastfrac approximate -p {p} on a Llama-shaped bfloat16 checkpoint, {threads} threads, "
          f"page cache warm (every file read once before timing), {rounds} rounds; "
          "M values/s: median (best)")
    fractions = "fractions_ratio" in results[0]
    head = (f"{'hidden':>6} {'G values':>8} {'GB':>5} {'shards':>6} {'warm GB/s':>9}  "
            f"{'end to end':>14}  {'fused pass':>14}  {'e2e/fused':>9}  {'peak RSS MB':>11}")
    if fractions:
        head += f"  {'with --fractions':>16}  {'time / plain':>12}"
    print(head)
    for r in results:
        line = (f"{r['hidden']:>6} {r['values'] / 1e9:8.3f} {r['bytes'] / 1e9:5.2f} "
                f"{r['shards']:>6} {r['warm_read_bytes_per_s'] / 1e9:9.2f}  "
                f"{_rate(r['end_to_end']):>14}  {_rate(r['fused']):>14}  {r['ratio']:9.2f}  "
                f"{r['peak_rss_mb']:11.0f}")
        if fractions:
            line += f"  {_rate(r['with_fractions']):>16}  {r['fractions_ratio']:12.2f}"
        print(line)
    t = TARGETS
    print(f"targets: end to end >= {t['end_to_end_values_per_s'] / 1e6:.0f} M values/s and "
          f">= {t['ratio']:.0%} of the fused pass, peak RSS <= {t['peak_rss_mb']} MB at every size"
          + (f", --fractions <= {t['fractions_ratio']}x the plain run" if fractions else ""))
    for r in results:
        checks = {
            "rate": r["end_to_end"]["median_values_per_s"] >= t["end_to_end_values_per_s"],
            "ratio": r["ratio"] >= t["ratio"],
            "rss": r["peak_rss_mb"] <= t["peak_rss_mb"],
        }
        if fractions:
            checks["fractions"] = r["fractions_ratio"] <= t["fractions_ratio"]
        met = ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in checks.items())
        print(f"  hidden {r['hidden']}: {met}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[2304, 1152],
                        help="hidden width of each size, run in turn (default: 2304 1152)")
    parser.add_argument("--layers", type=int, default=32, help="blocks (default: 32)")
    parser.add_argument("--vocab", type=int, default=32000, help="vocabulary (default: 32000)")
    parser.add_argument("--shard-gb", type=float, default=1.0,
                        help="largest shard in GB (default: 1.0)")
    parser.add_argument("-p", type=int, default=2, help="precision (default: 2)")
    parser.add_argument("--threads", type=int, default=2, help="threads (default: 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the values (default: 0)")
    parser.add_argument("--fractions", action="store_true",
                        help="also time each run with --fractions DIR: its time / the plain run's")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to build the checkpoints (default: the temporary directory)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.dir is not None and not args.dir.is_dir():
        parser.error(f"--dir {args.dir}: no such directory")
    shapes = [Shape.llama(h, vocab=args.vocab, layers=args.layers) for h in args.hidden]
    shard_bytes = int(args.shard_gb * 1e9)
    base = Path(tempfile.mkdtemp(prefix="bench-checkpoint-", dir=args.dir))
    try:
        need = max(s.values for s in shapes) * BF16.itemsize * (3.2 if args.fractions else 2.1)
        free = shutil.disk_usage(base).free
        if free < need:
            sys.exit(f"{base} has {free / 1e9:.1f} GB free, the run needs {need / 1e9:.1f} GB")
        results = []
        for k, shape in enumerate(shapes):
            print(f"hidden {shape.hidden}: {shape.values / 1e9:.3f} G values "
                  f"({shape.values * BF16.itemsize / 1e9:.2f} GB) ...", file=sys.stderr, flush=True)
            results.append(bench_size(shape, base / f"size-{k}", shard_bytes=shard_bytes, p=args.p,
                                      threads=args.threads, rounds=args.rounds,
                                      fractions=args.fractions, seed=args.seed))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(results, args.p, args.threads, args.rounds)
    if args.json is not None:
        config = {"p": args.p, "threads": args.threads, "rounds": args.rounds, "seed": args.seed,
                  "shard_bytes": shard_bytes, "cache": "warm", "chunk": CHUNK,
                  "isa": fastfrac.selected_isa()}
        args.json.write_text(json.dumps({"config": config, "sizes": results}, indent=2) + "\n")


# -- plain pytest: the whole pipeline, untimed, on a tiny checkpoint --------------------------

TINY = Shape.llama(64, vocab=96, layers=2)


def test_tiny_checkpoint_end_to_end_equals_approximate_and_to_float(tmp_path: Path) -> None:
    shard_bytes = 40_000  # several shards even at this size
    src = tmp_path / "in"
    shards = build(src, TINY, shard_bytes, seed=3)
    assert len(shards) >= 2
    again = build(tmp_path / "again", TINY, shard_bytes, seed=3)
    assert [a.read_bytes() for a in again] == [s.read_bytes() for s in shards]  # reproducible
    index = json.loads((src / INDEX).read_text())
    assert sorted(index["weight_map"]) == sorted(name for name, _ in TINY.tensors())
    assert index["metadata"]["total_size"] == 2 * TINY.values

    out, frac = tmp_path / "out", tmp_path / "fractions"
    seconds, peak_mb = end_to_end(src, out, 2, 2, TINY.values, frac)
    assert seconds > 0 and peak_mb > 0
    assert json.loads((out / INDEX).read_text()) == index
    assert (out / "config.json").read_bytes() == (src / "config.json").read_bytes()
    containers = json.loads((frac / "fractions.index.json").read_text())["containers"]
    assert set(containers) == {s.name for s in shards}
    assert all((frac / c).is_file() for c in containers.values())
    checked = changed = 0
    for shard in shards:
        got = dict(read_tensors(out / shard.name))
        for name, x in read_tensors(shard):
            f = fastfrac.approximate(x, 2, dtype=np.int64, threads=1)
            want = fastfrac.to_float(f.num, f.den, digits_for("2p", 2), dtype=BF16)
            assert got[name].view(np.uint16).tolist() == want.view(np.uint16).tolist(), name
            checked += x.size
            changed += int(np.count_nonzero(got[name] != x))
    assert checked == TINY.values
    # At p = 2 bfloat16 weights near 0.02 come back unchanged; the norms near 1 do not.
    assert changed > 0


def test_tiny_benchmark_runs_and_cleans_up(tmp_path: Path, capsys) -> None:
    result = bench_size(TINY, tmp_path / "work", shard_bytes=40_000, rounds=1, fractions=True)
    assert not (tmp_path / "work").exists()
    assert result["values"] == TINY.values and result["shards"] >= 2
    for key in ("end_to_end", "fused", "with_fractions"):
        assert result[key]["median_values_per_s"] > 0
    report([result], 2, 2, 1)
    assert "page cache warm" in capsys.readouterr().out


def test_a_missing_dir_is_one_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--dir", str(tmp_path / "nowhere"), "--hidden", "8"])
    assert stop.value.code == 2
    assert "--dir" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()


if __name__ == "__main__":
    main()
