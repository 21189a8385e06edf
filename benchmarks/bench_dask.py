"""``fastfrac approximate --scheduler``: one machine against 1 and 2 local Dask workers.

What is measured
----------------
Data: the synthetic Llama-shaped bfloat16 checkpoint of
benchmarks/bench_checkpoint.py (``--hidden``, ``--layers``, ``--vocab``;
shards of at most ``--shard-mb``), built afresh and read once so the page
cache is warm.  Then, in ``--rounds`` interleaved rounds:

one machine
    ``python -m fastfrac approximate IN -o OUT -p P -q`` with
    ``FASTFRAC_NUM_THREADS=2``: one process, its kernel on 2 threads.
1 worker, 2 workers
    the same command with ``--scheduler ADDRESS``, the address of a
    LocalCluster of 1 (or 2) worker processes of 1 thread each, started
    before the timing (its start-up is printed apart); every task's kernel
    runs on 1 thread.  OUT must be byte for byte the one-machine OUT.
local:2
    the same command with ``--scheduler local:2``: the cluster started and
    stopped by the command, all included.

Printed: the median wall seconds of each and values/s, the one-machine /
2-workers ratio, and the scheduler's overhead per task: the wall time of
``--tasks`` empty tasks submitted to the 2-worker cluster and gathered,
divided by their number (what each shard or tensor task costs beyond its
own work).

``python benchmarks/bench_dask.py [--hidden 1024] [--rounds 3] [--json FILE]``
runs it; plain ``pytest`` runs it once on a tiny checkpoint, untimed.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster

from fastfrac.dask import local_cluster

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_checkpoint import Shape, _environment, build, warm  # noqa: E402

RUNS = ("one machine", "1 worker", "2 workers", "local:2")


def _nothing(i: int) -> int:
    return i


def task_overhead(client: Client, tasks: int) -> float:
    """Seconds per empty task, submitted and gathered on ``client`` (after one warm-up round)."""
    client.gather(client.map(_nothing, range(8), pure=False))
    start = time.perf_counter()
    client.gather(client.map(_nothing, range(tasks), pure=False))
    return (time.perf_counter() - start) / tasks


def _run(src: Path, out: Path, p: int, scheduler: str | None) -> float:
    argv = [sys.executable, "-m", "fastfrac", "approximate", str(src), "-o", str(out),
            "-p", str(p), "-q"]
    env = _environment(2)
    if scheduler is not None:
        argv += ["--scheduler", scheduler]
        del env["FASTFRAC_NUM_THREADS"]  # 1 kernel thread per task, the command's default
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"fastfrac approximate failed ({done.returncode}): {done.stderr}")
    return seconds


def _same(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def _cluster(workers: int) -> tuple[LocalCluster, Client, float]:
    start = time.perf_counter()
    cluster = local_cluster(workers, env={"PYTHONPATH": _environment(1)["PYTHONPATH"]})
    client = Client(cluster)
    return cluster, client, time.perf_counter() - start


def bench(shape: Shape, work: Path, *, shard_bytes: int, p: int = 2, rounds: int = 3,
          tasks: int = 500) -> dict[str, Any]:
    """Build the checkpoint under ``work``, time the four runs, remove everything; the figures."""
    work.mkdir()
    try:
        src = work / "ck"
        shards = build(src, shape, shard_bytes)
        warm(src)
        clusters = {n: _cluster(n) for n in (1, 2)}
        try:
            seconds: dict[str, list[float]] = {name: [] for name in RUNS}
            identical = True
            for _ in range(rounds):
                reference = work / "one"
                seconds["one machine"].append(_run(src, reference, p, None))
                for name, scheduler in (("1 worker", clusters[1][1].scheduler.address),
                                        ("2 workers", clusters[2][1].scheduler.address),
                                        ("local:2", "local:2")):
                    out = work / "cluster"
                    seconds[name].append(_run(src, out, p, scheduler))
                    identical &= _same(reference, out)
                    shutil.rmtree(out)
                shutil.rmtree(reference)
            overhead = task_overhead(clusters[2][1], tasks)
            startup = {n: c[2] for n, c in clusters.items()}
        finally:
            for cluster, client, _ in clusters.values():
                client.close()
                cluster.close()
        medians = {name: statistics.median(s) for name, s in seconds.items()}
        return {
            "values": shape.values, "bytes": shape.values * 2, "shards": len(shards),
            "p": p, "rounds": rounds, "identical": identical,
            "median_seconds": medians,
            "values_per_s": {name: shape.values / s for name, s in medians.items()},
            "one_machine_over_2_workers": medians["one machine"] / medians["2 workers"],
            "cluster_start_seconds": startup,
            "task_overhead_seconds": overhead, "overhead_tasks": tasks,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(r: dict[str, Any]) -> None:
    print(f"checkpoint: {r['values']:,} bfloat16 values ({r['bytes'] / 1e6:.0f} MB) in "
          f"{r['shards']} shards, p = {r['p']}, median of {r['rounds']} rounds, page cache warm")
    for name in RUNS:
        print(f"  {name:12s} {r['median_seconds'][name]:7.2f} s  "
              f"{r['values_per_s'][name] / 1e6:7.1f} M values/s")
    print(f"2 workers of 1 thread run at {r['one_machine_over_2_workers']:.2f}x the speed of "
          f"one machine with 2 threads (its time over theirs)")
    print(f"outputs byte-identical to the one-machine run: {r['identical']}")
    starts = ", ".join(f"{n} worker(s) {s:.1f} s" for n, s in r["cluster_start_seconds"].items())
    print(f"LocalCluster start-up (not in the 1/2-worker times): {starts}")
    print(f"scheduler overhead: {r['task_overhead_seconds'] * 1e3:.2f} ms per task "
          f"({r['overhead_tasks']} empty tasks on 2 workers)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=1024, help="hidden width (default 1024)")
    parser.add_argument("--layers", type=int, default=16, help="blocks (default 16)")
    parser.add_argument("--vocab", type=int, default=32000, help="vocabulary (default 32000)")
    parser.add_argument("--shard-mb", type=float, default=100.0,
                        help="largest shard in MB (default 100)")
    parser.add_argument("-p", type=int, default=2, help="precision (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--tasks", type=int, default=500, help="empty tasks for the overhead")
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: tmp)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    shape = Shape.llama(args.hidden, vocab=args.vocab, layers=args.layers)
    work = Path(tempfile.mkdtemp(dir=args.dir)) / "bench-dask"
    result = bench(shape, work, shard_bytes=int(args.shard_mb * 1e6), p=args.p,
                   rounds=args.rounds, tasks=args.tasks)
    report(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    os.rmdir(work.parent)


def test_tiny_benchmark_identical_and_cleans_up(tmp_path: Path, capsys) -> None:
    result = bench(Shape.llama(64, vocab=96, layers=2), tmp_path / "work", shard_bytes=40_000,
                   rounds=1, tasks=20)
    assert result["identical"] and result["shards"] >= 2
    assert not (tmp_path / "work").exists()
    report(result)
    assert "per task" in capsys.readouterr().out


if __name__ == "__main__":
    main()
