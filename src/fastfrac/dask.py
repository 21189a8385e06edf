"""fastfrac on Dask: the array functions on dask arrays, and checkpoints on a Dask cluster.

Arrays
------
:func:`approximate`, :func:`limit_denominator`, :func:`max_denominator` and
:func:`to_float` take dask arrays (anything else is wrapped with
``dask.array.asarray``) and return dask arrays with the input's chunks,
lazily: nothing runs until ``.compute()`` (or ``dask.compute``).  Each output
chunk comes from one call of the NumPy function of the same name on the
matching input chunk, so the results are exactly those of that function on
the computed array; :func:`approximate` and :func:`limit_denominator`
produce the numerator and denominator of a chunk in that one call (a block
of shape ``(2, *chunk)``, of which ``num`` and ``den`` are the two halves),
so compute them together: ``dask.compute(num, den)``.  ``dtype`` and
``meta`` are given to Dask, which therefore never calls a kernel on dummy
data.  Arguments are checked when the graph is built (the same one-line
errors as the NumPy functions); what only the values can tell (a NaN, a
numerator too large for int32) is raised by ``compute``.

``threads`` is 1 by default: Dask already runs one task per worker thread,
and a kernel of several threads in each would oversubscribe the cores.  Pass
``threads=N`` to give each chunk's kernel N threads, for example with a
cluster of one worker thread per process (``dask worker --nthreads 1``), or
``threads=None`` for fastfrac's own default (``FASTFRAC_NUM_THREADS``, else
every core).

>>> import dask.array as da, numpy as np, fastfrac.dask
>>> x = da.from_array(np.float32([0.1, 3.14159274, -0.5, 0.25, 0.333]), chunks=2)
>>> num, den = fastfrac.dask.approximate(x, 2)
>>> num.chunks, num.dtype
(((2, 2, 1),), dtype('int32'))
>>> import dask
>>> dask.compute(num, den)
(array([ 1, 22, -1,  1,  1], dtype=int32), array([10,  7,  2,  4,  3], dtype=int32))
>>> fastfrac.dask.to_float(num, den, digits=4).compute()
array([ 0.1   ,  3.143 , -0.5   ,  0.25  ,  0.3333])

Checkpoints
-----------
:func:`cluster_runner` runs the shards of ``fastfrac approximate IN -o OUT
--scheduler ADDRESS`` as Dask tasks (see the command's help and the README).
This is the only module of fastfrac that imports Dask.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dask.array as da
import numpy as np

import fastfrac
from fastfrac._errors import UserError
from fastfrac._io.checkpoint_rewrite import Runner, Task, run_task
from fastfrac._progress import Progress
from fastfrac._types import Fractions

__all__ = [
    "approximate",
    "cluster_runner",
    "limit_denominator",
    "local_cluster",
    "max_denominator",
    "open_cluster",
    "scheduler_runner",
    "to_float",
]

Mode = str


def _as_dask(x: Any) -> da.Array:
    return x if isinstance(x, da.Array) else da.asarray(x)


def _empty(dtype: Any, ndim: int) -> np.ndarray:
    """The ``meta`` of a result: an empty array of its type and number of dimensions."""
    return np.empty((0,) * ndim, dtype=dtype)


def _bound_arg(value: Any) -> tuple[Any, bool]:
    """(value, whether it is a dask array to align with x): scalars stay as they are."""
    if value is None or np.ndim(value) == 0 and not isinstance(value, da.Array):
        return value, False
    return _as_dask(value), True


def _aligned(x: da.Array, *others: Any) -> tuple[da.Array, list[Any], list[bool]]:
    """x and the array-valued others broadcast together, the others in x's chunks."""
    values, is_array = zip(*(_bound_arg(v) for v in others)) if others else ((), ())
    arrays = [v for v, a in zip(values, is_array) if a]
    if arrays:
        try:
            x, *arrays = da.broadcast_arrays(x, *arrays)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"bounds of shape {shapes} do not broadcast against x of shape "
                             f"{x.shape}") from None
        arrays = [a.rechunk(x.chunks) for a in arrays]
    it = iter(arrays)
    return x, [next(it) if a else v for v, a in zip(values, is_array)], list(is_array)


@contextlib.contextmanager
def _chunk_named(block_info: Any) -> Iterator[None]:
    """A ValueError of a chunk's kernel names the chunk: its indexes count from the chunk's start."""
    try:
        yield
    except ValueError as exc:
        where = (block_info or {}).get(0, {}).get("array-location")
        if not where or all(start == 0 for start, _ in where):
            raise
        start = tuple(int(s) for s, _ in where)
        raise ValueError(f"{exc} (in the chunk starting at index {start})") from None


def _pair_block(function: Callable[..., Fractions], x: np.ndarray, *args: Any) -> np.ndarray:
    """One kernel call on a chunk: its numerators and denominators stacked, shape (2, *chunk)."""
    num, den = function(x, *args)
    return np.stack([num, den])


def _pairs(function: Callable[..., Fractions], x: da.Array, others: Sequence[Any],
           is_array: Sequence[bool], dtype: np.dtype, token: str) -> Fractions:
    """Map ``function(x_chunk, *other_chunks)`` over the chunks; split its stacked result."""
    arrays = [o for o, a in zip(others, is_array) if a]

    def call(block: np.ndarray, *array_blocks: np.ndarray, block_info: Any = None) -> np.ndarray:
        it = iter(array_blocks)
        args = [next(it) if a else o for o, a in zip(others, is_array)]
        with _chunk_named(block_info):
            return _pair_block(function, block, *args)

    stacked = da.map_blocks(
        call, x, *arrays, new_axis=0, chunks=((2,), *x.chunks),
        dtype=dtype, meta=_empty(dtype, x.ndim + 1),
        token=token,
    )
    return Fractions(stacked[0], stacked[1])


def approximate(
    x: Any,
    p: int,
    *,
    mode: Mode = "decimal",
    dtype: Any = np.int32,
    threads: int | None = 1,
    max_num: Any = None,
) -> Fractions:
    """:func:`fastfrac.approximate` on a dask array: ``Fractions(num, den)`` of two dask arrays.

    Both have x's shape and chunks; one kernel call per chunk computes both
    (compute them together).  ``max_num``, if an array, is broadcast against
    x and rechunked like it.  ``threads`` is per chunk: 1 by default (see the
    module's docstring).

    >>> import dask, dask.array as da, numpy as np, fastfrac.dask
    >>> x = da.from_array(np.float32([[0.1, -0.5], [3.14159274, 0.0]]), chunks=(1, 2))
    >>> num, den = fastfrac.dask.approximate(x, 2)
    >>> [a.tolist() for a in dask.compute(num, den)]
    [[[1, -1], [22, 0]], [[10, 2], [7, 1]]]
    >>> fastfrac.dask.approximate(x, 10)
    Traceback (most recent call last):
    ...
    ValueError: p must lie in 0..9 for int32 output, not 10 (use dtype=numpy.int64 for up to 18)
    """
    x = _as_dask(x)
    fastfrac.approximate(np.empty(0, x.dtype), p, mode=mode, dtype=dtype, threads=threads,
                         max_num=max_num if np.ndim(max_num) == 0 else None)  # checks only
    x, others, is_array = _aligned(x, max_num)
    kernel = functools.partial(_approximate_chunk, p=p, mode=mode, dtype=dtype, threads=threads)
    return _pairs(kernel, x, others, is_array, np.dtype(dtype), "fastfrac-approximate")


def _approximate_chunk(x: np.ndarray, max_num: Any, *, p: int, mode: Mode, dtype: Any,
                       threads: int | None) -> Fractions:
    return fastfrac.approximate(x, p, mode=mode, dtype=dtype, threads=threads,  # type: ignore[arg-type]
                                max_num=max_num)


def _limit_chunk(x: np.ndarray, max_den: Any, max_num: Any, *, mode: Mode, dtype: Any,
                 threads: int | None) -> Fractions:
    return fastfrac.limit_denominator(x, max_den, mode=mode, dtype=dtype,  # type: ignore[arg-type]
                                      threads=threads, max_num=max_num)


def limit_denominator(
    x: Any,
    max_den: Any,
    *,
    mode: Mode = "decimal",
    dtype: Any = np.int32,
    threads: int | None = 1,
    max_num: Any = None,
) -> Fractions:
    """:func:`fastfrac.limit_denominator` on a dask array; bounds may be numbers or arrays.

    Array bounds are broadcast against x and rechunked like it (the result
    has the broadcast shape; x's chunks where x already has that shape).

    >>> import dask, dask.array as da, numpy as np, fastfrac.dask
    >>> x = da.from_array(np.array([3.141592653589793, 0.5, -0.5]), chunks=2)
    >>> [a.tolist() for a in dask.compute(*fastfrac.dask.limit_denominator(x, [113, 1, 1]))]
    [[355, 0, -1], [113, 1, 1]]
    """
    x = _as_dask(x)
    fastfrac.limit_denominator(np.empty(0, x.dtype), max_den if np.ndim(max_den) == 0 else 1,
                               mode=mode, dtype=dtype, threads=threads,  # type: ignore[arg-type]
                               max_num=max_num if np.ndim(max_num) == 0 else None)
    x, others, is_array = _aligned(x, max_den, max_num)
    kernel = functools.partial(_limit_chunk, mode=mode, dtype=dtype, threads=threads)
    return _pairs(kernel, x, others, is_array, np.dtype(dtype), "fastfrac-limit_denominator")


def max_denominator(x: Any, p: int, *, dtype: Any = np.int32) -> da.Array:
    """:func:`fastfrac.max_denominator` on a dask array: an int64 dask array of x's chunks.

    >>> import dask.array as da, numpy as np, fastfrac.dask
    >>> fastfrac.dask.max_denominator(da.from_array(np.float32([0.5, 0.0, 250.0]), chunks=2), 2).compute()
    array([200,   1,   1])
    """
    x = _as_dask(x)
    fastfrac.max_denominator(np.empty(0, x.dtype), p, dtype=dtype)  # checks only
    return x.map_blocks(functools.partial(fastfrac.max_denominator, p=p, dtype=dtype),
                        dtype=np.int64, meta=_empty(np.int64, x.ndim),
                        token="fastfrac-max_denominator")


def to_float(
    num: Any,
    den: Any,
    digits: int | None = None,
    *,
    dtype: Any = np.float64,
    threads: int | None = 1,
) -> da.Array:
    """:func:`fastfrac.to_float` on dask arrays: num and den broadcast, in num's chunks.

    >>> import dask.array as da, numpy as np, fastfrac.dask
    >>> num = da.from_array(np.array([22, 355, 1]), chunks=2)
    >>> fastfrac.dask.to_float(num, np.array([7, 113, 3]), digits=4).compute()
    array([3.143 , 3.142 , 0.3333])
    """
    a, b = _as_dask(num), _as_dask(den)
    out = fastfrac.to_float(np.empty(0, a.dtype), np.empty(0, b.dtype), digits, dtype=dtype,
                            threads=threads)  # checks the types, digits and dtype
    try:
        a, b = da.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(f"num of shape {a.shape} and den of shape {b.shape} do not "
                         "broadcast") from None
    b = b.rechunk(a.chunks)
    kernel = functools.partial(_to_float_chunk, digits=digits, dtype=dtype, threads=threads)
    return da.map_blocks(kernel, a, b, dtype=out.dtype, meta=_empty(out.dtype, a.ndim),
                         token="fastfrac-to_float")


def _to_float_chunk(num: np.ndarray, den: np.ndarray, *, digits: int | None, dtype: Any,
                    threads: int | None) -> np.ndarray:
    return fastfrac.to_float(num, den, digits, dtype=dtype, threads=threads)


# -- checkpoints on a cluster -------------------------------------------------------------

LOCAL = "local:"


def local_cluster(workers: int, **kwargs: Any) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` processes of one thread each, on loopback.

    No dashboard, and the scheduler's HTTP endpoint on a free loopback port
    (not 8787, which another cluster may hold); logs below ERROR are
    silenced.  ``kwargs`` go to LocalCluster.
    """
    from distributed import LocalCluster

    options: dict[str, Any] = {
        "n_workers": workers, "threads_per_worker": 1, "processes": True,
        "host": "127.0.0.1", "dashboard_address": None, "silence_logs": logging.ERROR,
        "scheduler_kwargs": {"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    }
    return LocalCluster(**{**options, **kwargs})


@contextlib.contextmanager
def open_cluster(scheduler: str) -> Iterator[Any]:
    """A ``distributed.Client`` of ``scheduler``: an address, or ``local:N`` for N local workers.

    ``local:N`` starts a LocalCluster of N worker processes of one thread
    each (no dashboard) and stops it on exit; an address connects to a
    running scheduler, which is left running.
    """
    from distributed import Client

    if scheduler.startswith(LOCAL):
        text = scheduler[len(LOCAL):]
        if not text.isdigit() or int(text) < 1:
            raise UserError(f"--scheduler {scheduler}: expected local:N with N a positive "
                            "integer (nothing was written)")
        with local_cluster(int(text)) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(f"cannot reach the Dask scheduler at {scheduler}: "
                        f"{' '.join(str(exc).split()) or type(exc).__name__} "
                        "(nothing was written)") from None
    with client:
        yield client


def _executing(keys: set[str], dask_worker: Any = None) -> int:
    """On a worker: how many of ``keys`` its threads still run (cancelled ones included)."""
    state = getattr(dask_worker, "state", None)
    running = getattr(state, "executing", ())
    return sum(1 for ts in running if ts.key in keys)


def _await_stopped(client: Any, keys: set[str], timeout: float = 120.0) -> None:
    """Until no worker runs one of ``keys`` (Dask cancels a future, not a running thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            counts = client.run(_executing, keys)
        except Exception:  # noqa: BLE001 -- a worker that died runs nothing
            return
        if not any(counts.values()):
            return
        time.sleep(0.05)


def cluster_runner(client: Any) -> Runner:
    """Run shard (or tensor) tasks as Dask futures on ``client``; the results in the tasks' order.

    Progress advances by each task's bytes as its future completes.  The
    first failure (a UserError of a task, say a NaN in a tensor) cancels the
    other futures and waits until no worker still runs one before it is
    raised, so that the caller can remove the temporary directories the
    tasks write into.  A task whose worker died is rerun by Dask.
    """

    def run(tasks: list[Task], show: Progress) -> list[Any]:
        from distributed import as_completed

        futures = [client.submit(run_task, task, key=f"fastfrac-{i}-{task.key}",
                                 pure=False, retries=0)
                   for i, task in enumerate(tasks)]
        order = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(tasks)
        try:
            for done, future in enumerate(as_completed(futures), 1):
                i = order[future.key]
                results[i] = future.result()  # a task's error is raised here
                show.rename(f"{done} of {len(tasks)} tasks ({tasks[i].key})")
                show.advance(tasks[i].data_bytes)
        except BaseException:
            client.cancel(futures)
            _await_stopped(client, set(order))
            raise
        return results

    return run



def scheduler_runner(scheduler: str) -> Runner:
    """:func:`cluster_runner` on :func:`open_cluster`'s client, opened only when the tasks run.

    So a command whose arguments are refused (OUT not empty, a SPEC naming
    nothing) never starts a LocalCluster nor connects to a scheduler.
    """

    def run(tasks: list[Task], show: Progress) -> list[Any]:
        with open_cluster(scheduler) as client:
            return cluster_runner(client)(tasks, show)

    return run
