"""fastfrac on Dask: the array functions against NumPy, and checkpoints on a LocalCluster.

The cluster tests run on two local worker processes of one thread each: a
4-shard checkpoint through ``--scheduler local:2`` (which starts its own
cluster) and through the address of a running one, against the one-machine
run byte for byte; a worker killed in the middle of a task; a NaN that fails
the run and leaves nothing.
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import dask
import dask.array as da
import ml_dtypes
import numpy as np
import pytest
from distributed import Client

import fastfrac
import fastfrac.dask as ffd
from fastfrac._io.atomic import AtomicOutputs
from fastfrac.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_checkpoints import write_safetensors  # noqa: E402

# -- arrays ------------------------------------------------------------------------------

CHUNKINGS = [((37,), (5,)), ((37,), (37,)), ((13, 7), (4, 3)), ((13, 7), ((1, 12), (7,))),
             ((3, 5, 4), (2, (2, 3), 3))]


def _values(shape: tuple[int, ...], dtype: object, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, shape) * 10.0 ** rng.integers(-4, 3, shape)
    x.reshape(-1)[:3] = [0.0, 0.5, -0.5]
    return x.astype(dtype)


@pytest.mark.parametrize("shape,chunks", CHUNKINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, ml_dtypes.bfloat16])
def test_approximate_matches_numpy_chunk_for_chunk(shape, chunks, dtype) -> None:
    x = _values(shape, dtype)
    dx = da.from_array(x, chunks=chunks)
    for kwargs in ({"p": 3}, {"p": 5, "mode": "exact", "dtype": np.int64}, {"p": 4, "max_num": 50}):
        num, den = ffd.approximate(dx, **kwargs)
        assert num.chunks == dx.chunks and den.chunks == dx.chunks
        got = dask.compute(num, den, scheduler="threads")
        want = fastfrac.approximate(x, **kwargs)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)


def test_one_kernel_call_per_chunk_and_none_on_dummy_data(monkeypatch) -> None:
    calls: list[tuple[int, ...]] = []
    real = fastfrac.approximate

    def counting(x, *args, **kwargs):
        calls.append(np.shape(x))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(fastfrac, "approximate", counting)
    x = _values((13, 7), np.float32)
    num, den = ffd.approximate(da.from_array(x, chunks=(4, 3)), 2)
    assert calls == [(0,)]  # the argument check, on an empty array; no dummy call by Dask
    calls.clear()
    got = dask.compute(num, den, scheduler="sync")
    assert sorted(calls) == sorted((a, b) for a in (4, 4, 4, 1) for b in (3, 3, 1))
    np.testing.assert_array_equal(got[0], real(x, 2).num)


def test_limit_denominator_with_scalar_and_array_bounds() -> None:
    x = _values((13, 7), np.float64)
    dx = da.from_array(x, chunks=(5, 2))
    bounds = np.arange(1, 14).reshape(13, 1) * 7  # broadcast along the columns
    for max_den, max_num in ((1000, None), (bounds, None), (bounds, 9),
                             (da.from_array(np.broadcast_to(bounds, x.shape), chunks=3), None)):
        got = dask.compute(*ffd.limit_denominator(dx, max_den, max_num=max_num))
        want = fastfrac.limit_denominator(x, np.asarray(max_den), max_num=max_num)
        np.testing.assert_array_equal(got[0], want.num)
        np.testing.assert_array_equal(got[1], want.den)
    assert ffd.limit_denominator(dx, 100).num.chunks == dx.chunks


@pytest.mark.parametrize("shape,chunks", CHUNKINGS[1:4])
def test_max_denominator_and_to_float_match_numpy(shape, chunks) -> None:
    x = _values(shape, np.float32)
    dx = da.from_array(x, chunks=chunks)
    bound = ffd.max_denominator(dx, 3, dtype=np.int64)
    assert bound.chunks == dx.chunks and bound.dtype == np.int64
    np.testing.assert_array_equal(bound.compute(), fastfrac.max_denominator(x, 3, dtype=np.int64))
    num, den = fastfrac.approximate(x, 3)
    dnum, dden = da.from_array(num, chunks=chunks), da.from_array(den, chunks=chunks)
    for digits, dtype in ((None, np.float64), (6, np.float32), (3, ml_dtypes.bfloat16)):
        got = ffd.to_float(dnum, dden, digits, dtype=dtype)
        assert got.chunks == dx.chunks and got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got.compute(), fastfrac.to_float(num, den, digits, dtype=dtype))


def test_arguments_checked_when_the_graph_is_built_values_when_computed() -> None:
    dx = da.from_array(np.float32([0.5, np.nan, 0.25]), chunks=2)
    with pytest.raises(ValueError, match="p must lie in 0..9"):
        ffd.approximate(dx, 12)
    with pytest.raises(TypeError):
        ffd.approximate(da.ones(3, dtype=np.int32, chunks=2), 2)
    with pytest.raises(TypeError, match="dtype must be one of"):
        ffd.to_float(da.ones(3, dtype=int, chunks=2), da.ones(3, dtype=int, chunks=2), dtype=int)
    num, den = ffd.approximate(dx, 2)  # lazy: the NaN is not seen yet
    with pytest.raises(ValueError, match="non-finite") as info:
        dask.compute(num, den)
    with pytest.raises(ValueError) as numpy_info:
        fastfrac.approximate(dx.compute(), 2)
    assert str(info.value) == str(numpy_info.value)  # in the first chunk: the same index
    later = da.from_array(np.float32([0.5, 0.25, 0.1, np.nan]), chunks=2)
    with pytest.raises(ValueError, match=r"at index \(1,\) \(in the chunk starting at index \(2,\)"):
        dask.compute(*ffd.approximate(later, 2))


# -- checkpoints on a cluster ------------------------------------------------------------

BIG = 6_000_000  # values of the last shard's big tensor: long enough to kill a worker in it


def _checkpoint(root: Path, nan: bool = False) -> None:
    """4 shards (the last one holding a 24 MB tensor), an index and a config file."""
    root.mkdir()
    rng = np.random.default_rng(1)
    weight_map = {}
    for i in range(4):
        shard = f"model-{i + 1:05d}-of-00004.safetensors"
        size = BIG if i == 3 else 4096
        tensors = {f"layers.{i}.weight": rng.normal(0, 0.05, size).astype(np.float32),
                   f"layers.{i}.norm": rng.normal(1, 0.05, 64).astype(np.float32),
                   f"layers.{i}.step": np.int64([i])}
        if nan and i == 1:
            tensors[f"layers.{i}.weight"][17] = np.nan
        write_safetensors(root / shard, tensors)
        weight_map.update(dict.fromkeys(tensors, shard))
    (root / "model.safetensors.index.json").write_text(
        '{"metadata": {}, "weight_map": %s}' % str(weight_map).replace("'", '"'))
    (root / "config.json").write_text('{"hidden_size": 64}')


def _same_tree(a: Path, b: Path) -> None:
    names_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*"))
    names_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*"))
    assert names_a == names_b
    for name in names_a:
        if (a / name).is_file():
            assert filecmp.cmp(a / name, b / name, shallow=False), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The checkpoint and its one-machine outputs, with and without --fractions."""
    root = tmp_path_factory.mktemp("reference")
    _checkpoint(root / "ck")
    for out, extra in (("out", []), ("out-f", ["--fractions", str(root / "fr")])):
        assert main(["approximate", str(root / "ck"), "-o", str(root / out), "-p", "2", "-q",
                     *extra]) == 0
    return root


@pytest.fixture(scope="module")
def cluster():
    with ffd.local_cluster(2, silence_logs=logging.CRITICAL) as c, Client(c) as client:
        yield c, client


def test_local_cluster_byte_identical_with_and_without_fractions(reference, tmp_path, capsys) -> None:
    ck = reference / "ck"
    assert main(["approximate", str(ck), "-o", str(tmp_path / "out"), "-p", "2",
                 "--scheduler", "local:2", "--progress", "plain",
                 "--json", str(tmp_path / "r.json")]) == 0
    captured = capsys.readouterr()
    assert "4 shard(s) rewritten" in captured.out and "1 threads" in captured.out
    assert "6 of 6 tasks" in captured.err  # progress from the futures
    # The big shard (over 4 times the median) was split: one task per tensor.
    assert json.loads((tmp_path / "r.json").read_text())["tasks"] == 3 + 3
    (tmp_path / "r.json").unlink()
    _same_tree(reference / "out", tmp_path / "out")
    assert main(["approximate", str(ck), "-o", str(tmp_path / "out-f"), "-p", "2", "-q",
                 "--scheduler", "local:2", "--fractions", str(tmp_path / "fr")]) == 0
    _same_tree(reference / "out-f", tmp_path / "out-f")
    _same_tree(reference / "fr", tmp_path / "fr")
    assert sorted(os.listdir(tmp_path)) == ["fr", "out", "out-f"]


def test_scheduler_address_report_gathered_from_the_tasks(reference, cluster, tmp_path) -> None:
    _, client = cluster
    address = client.scheduler.address
    report_path = tmp_path / "r.json"
    assert main(["approximate", str(reference / "ck"), "-o", str(tmp_path / "out"), "-p", "2",
                 "-q", "--scheduler", address, "--fractions", str(tmp_path / "fr"),
                 "--json", str(report_path)]) == 0
    _same_tree(reference / "out-f", tmp_path / "out")
    _same_tree(reference / "fr", tmp_path / "fr")
    report = json.loads(report_path.read_text())
    assert report["scheduler"] == address and report["kernel"]["threads"] == 1
    assert report["tasks"] == 4  # with --fractions no shard is split
    assert [s["file"] for s in report["shards"]] == [f"model-{i:05d}-of-00004.safetensors"
                                                    for i in range(1, 5)]
    assert report["totals"]["approximated_values"] == 3 * (4096 + 64) + BIG + 64


def test_worker_killed_mid_task_rerun_byte_identical(reference, cluster, tmp_path) -> None:
    _, client = cluster
    pids = client.run(os.getpid)
    status: list[int] = []
    argv = ["approximate", str(reference / "ck"), "-o", str(tmp_path / "out"), "-p", "2", "-q",
            "--scheduler", client.scheduler.address, "--fractions", str(tmp_path / "fr")]
    run = threading.Thread(target=lambda: status.append(main(argv)))
    run.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and run.is_alive():
        # The big shard's task has started writing: find its worker and kill it.
        parts = [p for p in tmp_path.glob(".out.*/.model-00004-*.part-*")]
        if parts:
            for worker, keys in client.processing().items():
                if any("model-00004" in str(k) for k in keys):
                    killed = worker
                    os.kill(pids[worker], signal.SIGKILL)
        time.sleep(0.005)
    run.join(120)
    assert killed is not None, "the big shard's task was never caught running"
    assert status == [0]
    _same_tree(reference / "out-f", tmp_path / "out")
    _same_tree(reference / "fr", tmp_path / "fr")
    assert sorted(os.listdir(tmp_path)) == ["fr", "out"]  # no temporary directory, no part file
    client.wait_for_workers(2, timeout=60)


def test_nan_in_a_task_fails_the_run_and_leaves_nothing(cluster, tmp_path, capsys) -> None:
    _, client = cluster
    _checkpoint(tmp_path / "ck", nan=True)
    assert main(["approximate", str(tmp_path / "ck"), "-o", str(tmp_path / "out"), "-p", "2",
                 "--scheduler", client.scheduler.address, "--fractions", str(tmp_path / "fr"),
                 "--progress", "none"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "layers.1.weight" in err[0] and "non-finite" in err[0], err
    assert sorted(os.listdir(tmp_path)) == ["ck"]


def test_checkpoint_of_one_shard_split_by_tensor(cluster, tmp_path) -> None:
    _, client = cluster
    (tmp_path / "ck").mkdir()
    write_safetensors(tmp_path / "ck" / "model.safetensors",
                      {f"t{i}": _values((1000 + i,), np.float32, i) for i in range(5)})
    argv = ["approximate", str(tmp_path / "ck"), "-p", "3", "-q"]
    assert main([*argv, "-o", str(tmp_path / "one")]) == 0
    assert main([*argv, "-o", str(tmp_path / "two"), "--scheduler", client.scheduler.address,
                 "--json", str(tmp_path / "r.json")]) == 0
    _same_tree(tmp_path / "one", tmp_path / "two")
    assert json.loads((tmp_path / "r.json").read_text())["tasks"] == 5


def test_single_file_refused_with_scheduler(tmp_path, capsys) -> None:
    write_safetensors(tmp_path / "m.safetensors", {"w": np.float32([0.5])})
    assert main(["approximate", str(tmp_path / "m.safetensors"), "-o", str(tmp_path / "o.safetensors"),
                 "-p", "2", "--scheduler", "local:2"]) == 1
    assert "single file" in capsys.readouterr().err


def test_second_directory_rename_failing_rolls_the_first_back(tmp_path) -> None:
    out, fr = tmp_path / "out", tmp_path / "fr"
    with pytest.raises(Exception, match="cannot write"):
        with AtomicOutputs() as outputs:
            (outputs.directory_for(out) / "a").write_text("x")
            (outputs.directory_for(fr) / "b").write_text("y")
            fr.mkdir()
            (fr / "someone else's").write_text("z")  # DIR filled meanwhile: its rename fails
    assert sorted(os.listdir(tmp_path)) == ["fr"] and os.listdir(fr) == ["someone else's"]
