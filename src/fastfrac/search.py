"""Choose the precision map for the user: per-group sensitivity and a search under a budget.

Everything here works on *named tensors* -- a mapping from tensor names to
arrays -- and an ``evaluate`` callable that scores a mapping of (partly)
approximated arrays, so it serves Keras models (:func:`fastfrac.keras.search_precision`
wraps a model this way) and model files alike.  It imports no TensorFlow.

Groups
    ``groups`` maps a group name to glob patterns over the tensor names; a
    tensor belongs to the group of an exact name first, else to the first
    group (in order) with a matching pattern, else to none (never
    approximated).  A group that reaches no tensor is a ValueError.

A map
    Group name -> p, or ``"-"`` for "left alone".  Bits per weight are
    counted over *all* parameters: an approximated tensor by the reports'
    fraction-bit accounting (:func:`fastfrac._bits.fraction_bits`: bit length
    of |num| and of den plus a sign bit), an untouched one at its dtype's
    width.

The search (:func:`search_precision`)
    1. :func:`sensitivity`: each group alone at every p; the metric and bits.
    2. Each group's *floor*: the fewest-bits option whose metric, with that
       group alone approximated, stays within the tolerance (a group whose
       every option fails stays at ``"-"``).
    3. Greedy descent from the all-``"-"`` map: every group may step to its
       next option with fewer bits, down to its floor.  The step taken is the
       one with the most bits saved per unit of metric lost *alone* (from the
       sensitivity table); the combined map is then evaluated, and kept if it
       is within the tolerance; a rejected step freezes that group.  It ends
       when no group can step.
    4. ``best``: the evaluated map with the fewest bits per weight among those
       within the tolerance (every candidate was evaluated, so ``best`` is
       verified by evaluation, not predicted).

Approximated tensors are cached per (tensor, p, digits, mode): no search
approximates the same weights twice.

Examples
--------
>>> import numpy as np
>>> w = {"a/kernel": np.float32([0.1234, -0.5678]), "b/kernel": np.float32([2.5, 1.25])}
>>> target = {k: v.astype(np.float64) for k, v in w.items()}
>>> def error(arrays):  # largest absolute change: lower is better
...     return max(float(np.abs(arrays[k] - target[k]).max()) for k in arrays)
>>> result = search_precision(w, error, groups={"a": ["a/*"], "b": ["b/*"]},
...                           tolerance=1e-3, relative=False, ps=range(0, 4))
>>> result.best.precision, result.best.metric <= 1e-3
({'a': 2, 'b': 3}, True)
>>> print(result.best.spec())
a/*=2,b/*=3
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastfrac._bits import fraction_bits
from fastfrac._inputs import check_mode
from fastfrac._io.container import Tensor, approximate_tensor, write
from fastfrac._precision import Digits, check_precision, digits_for, list_names
from fastfrac._tables import Column, format_table, format_value
from fastfrac._types import approximable

__all__ = [
    "Evaluated",
    "SearchResult",
    "Sensitivity",
    "assign_groups",
    "search_precision",
    "sensitivity",
]

KEEP = "-"
Option = int | str  # a precision p, or KEEP


def assign_groups(names: Iterable[str], groups: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Group name -> its tensor names, in the order given.

    A tensor goes to the group listing its exact name, else to the first group
    with a matching glob; tensors no group reaches are left out.

    >>> assign_groups(["conv/k", "dense/k", "dense_1/k"], {"d1": ["dense_1/*"], "d": ["dense*"]})
    {'d1': ['dense_1/k'], 'd': ['dense/k']}
    >>> assign_groups(["a"], {"x": ["b*"]})
    Traceback (most recent call last):
    ...
    ValueError: group 'x' (b*) matches no tensor; the tensors are: a
    """
    names = list(names)
    if not groups:
        raise ValueError("groups is empty: give at least one group of glob patterns")
    patterns = {g: [ps] if isinstance(ps, str) else list(ps) for g, ps in groups.items()}
    out: dict[str, list[str]] = {g: [] for g in patterns}
    for name in names:
        exact = next((g for g, ps in patterns.items() if name in ps), None)
        glob = next(
            (g for g, ps in patterns.items() if any(fnmatch.fnmatchcase(name, p) for p in ps)),
            None,
        )
        group = exact if exact is not None else glob
        if group is not None:
            out[group].append(name)
    for g, members in out.items():
        if not members:
            raise ValueError(
                f"group {g!r} ({', '.join(patterns[g])}) matches no tensor; "
                f"the tensors are: {list_names(names)}"
            )
    return out


class _Approximations:
    """Approximated tensors cached per (tensor, p, digits, mode), with their bits."""

    def __init__(self, weights: Mapping[str, np.ndarray], digits: Digits, mode: str) -> None:
        self.weights = {k: np.asarray(v) for k, v in weights.items()}
        self.digits, self.mode = digits, mode
        self._cache: dict[tuple[str, int], Tensor] = {}
        self.kernel_seconds = 0.0
        self.calls = 0

    def tensor(self, name: str, p: int) -> Tensor:
        key = (name, p)
        if key not in self._cache:
            start = time.perf_counter()
            self._cache[key] = approximate_tensor(
                name, self.weights[name], p, digits_for(self.digits, p), self.mode
            )
            self.kernel_seconds += time.perf_counter() - start
            self.calls += 1
        return self._cache[key]

    def bits(self, name: str, option: Option) -> int:
        """Bits of one tensor under an option: its fractions', or its dtype's width if kept."""
        w = self.weights[name]
        if option == KEEP or not approximable(w.dtype):
            return int(w.size) * 8 * w.dtype.itemsize
        num, den = self.tensor(name, int(option)).fractions  # type: ignore[misc]
        return fraction_bits(num, den)

    def tensors(self, assignment: Mapping[str, Option]) -> list[Tensor]:
        """Every tensor: approximated where ``assignment`` (tensor -> option) says, else as given."""
        out = []
        for name, w in self.weights.items():
            option = assignment.get(name, KEEP)
            if option == KEEP or not approximable(w.dtype):
                out.append(Tensor(name, w))
            else:
                out.append(self.tensor(name, int(option)))
        return out

    def arrays(self, assignment: Mapping[str, Option]) -> dict[str, np.ndarray]:
        """The values of :meth:`tensors`, by name (what ``evaluate`` receives)."""
        return {t.name: t.values for t in self.tensors(assignment)}


@dataclass(frozen=True)
class Evaluated:
    """One map and what it scored.

    Attributes
    ----------
    precision : dict
        Group name -> p or ``"-"`` (left alone).
    metric : float
        What ``evaluate`` returned for it.
    bits_per_weight : float
        Over all parameters (untouched tensors at their dtype's width).
    """

    precision: dict[str, Option]
    metric: float
    bits_per_weight: float
    spec_keys: Mapping[str, Sequence[str]] = field(default_factory=dict, repr=False, compare=False)

    def spec(self) -> str:
        """The map as a SPEC that ``fastfrac approximate -p`` accepts.

        Each group's SPEC names (its patterns, unless the caller gave others:
        layer names for a Keras model) get its p; groups left alone are
        omitted, so the SPEC leaves them unchanged.
        """
        items = []
        for g, option in self.precision.items():
            if option == KEEP:
                continue
            for pattern in self.spec_keys.get(g, [g]):
                items.append(f"{pattern}={option}")
        return ",".join(items) if items else "*=-"

    def to_dict(self) -> dict[str, Any]:
        return {"precision": dict(self.precision), "metric": self.metric,
                "bits_per_weight": self.bits_per_weight, "spec": self.spec()}


def _ps(ps: Iterable[int]) -> list[int]:
    values = sorted({int(p) for p in ps}, reverse=True)
    if not values:
        raise ValueError("ps is empty: give at least one precision")
    for p in values:
        check_precision(p, f"precision {p}")
    return values


class _Problem:
    """What sensitivity and search share: the groups, the cache, the bookkeeping."""

    def __init__(self, weights: Mapping[str, np.ndarray], evaluate: Callable[[dict[str, np.ndarray]], float],
                 groups: Mapping[str, Sequence[str]], digits: Digits, mode: str,
                 progress: Callable[[str], Any] | None,
                 spec_keys: Mapping[str, Sequence[str]] | None = None) -> None:
        check_mode(mode)
        digits_for(digits, 1)  # reject a bad digits argument before any work
        if not weights:
            raise ValueError("weights is empty")
        self.cache = _Approximations(weights, digits, mode)
        self.members = assign_groups(self.cache.weights, groups)
        self.patterns = {g: [ps] if isinstance(ps, str) else list(ps) for g, ps in groups.items()}
        self.spec_keys = dict(spec_keys) if spec_keys is not None else self.patterns
        self.evaluate = evaluate
        self.total_values = sum(int(w.size) for w in self.cache.weights.values())
        self.evaluations = 0
        self.evaluate_seconds = 0.0
        self.say = progress or (lambda text: None)
        self._seen: dict[tuple[tuple[str, Option], ...], Evaluated] = {}
        self.evaluated: list[Evaluated] = []

    def assignment(self, precision: Mapping[str, Option]) -> dict[str, Option]:
        return {t: precision.get(g, KEEP) for g, ts in self.members.items() for t in ts}

    def bits_per_weight(self, precision: Mapping[str, Option]) -> float:
        assignment = self.assignment(precision)
        bits = sum(self.cache.bits(name, assignment.get(name, KEEP)) for name in self.cache.weights)
        return bits / self.total_values

    def score(self, precision: Mapping[str, Option], label: str = "", *,
              record: bool = True) -> Evaluated:
        """Evaluate a map once (maps seen before are not evaluated again)."""
        full = {g: precision.get(g, KEEP) for g in self.members}
        key = tuple(full.items())
        if key in self._seen:
            found = self._seen[key]
            if record and found not in self.evaluated:
                self.evaluated.append(found)
            return found
        self.say(label or ", ".join(f"{g}={o}" for g, o in full.items()))
        arrays = self.cache.arrays(self.assignment(full))
        start = time.perf_counter()
        metric = float(self.evaluate(arrays))
        self.evaluate_seconds += time.perf_counter() - start
        self.evaluations += 1
        if math.isnan(metric):
            raise ValueError(f"evaluate returned NaN for the map {full}")
        result = Evaluated(full, metric, self.bits_per_weight(full), self.spec_keys)
        self._seen[key] = result
        if record:
            self.evaluated.append(result)
        return result


_SENSITIVITY_COLUMNS: list[Column] = [
    ("group", "group", format_value),
    ("p", "p", format_value),
    ("metric", "metric", lambda v: format_value(v, ".6g")),
    ("change", "change %", lambda v: format_value(v, "+.3f")),
    ("bits_per_weight", "bits/weight", lambda v: format_value(v, ".2f")),
]


@dataclass
class Sensitivity:
    """Each group alone approximated at each p: the metric and the bits.

    Attributes
    ----------
    original : float
        The metric with nothing approximated.
    rows : list of dict
        ``group, p, metric, change`` (relative to ``original``, in percent)
        and ``bits_per_weight`` over all parameters.
    members : dict
        Group -> the tensor names in it.
    """

    original: float
    rows: list[dict[str, Any]]
    members: dict[str, list[str]]

    def metric(self, group: str, p: int) -> float:
        """The metric with only ``group`` approximated at ``p``."""
        return next(r["metric"] for r in self.rows if r["group"] == group and r["p"] == p)

    def to_dict(self) -> dict[str, Any]:
        return {"original": self.original, "rows": [dict(r) for r in self.rows],
                "groups": {g: list(m) for g, m in self.members.items()}}

    def to_json(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)

    def __str__(self) -> str:
        return f"original metric {self.original:.6g}\n" + format_table(self.rows, _SENSITIVITY_COLUMNS)


def _change(metric: float, original: float) -> float | None:
    return None if original == 0 else 100.0 * (metric - original) / abs(original)


def _sensitivity(problem: _Problem, ps: list[int]) -> Sensitivity:
    original = problem.score({}, "original").metric
    rows = []
    for g in problem.members:
        for p in ps:
            e = problem.score({g: p}, f"sensitivity: {g} at p={p}")
            rows.append({"group": g, "p": p, "metric": e.metric,
                         "change": _change(e.metric, original), "bits_per_weight": e.bits_per_weight})
    return Sensitivity(original, rows, {g: list(m) for g, m in problem.members.items()})


def sensitivity(
    weights: Mapping[str, np.ndarray],
    evaluate: Callable[[dict[str, np.ndarray]], float],
    *,
    groups: Mapping[str, Sequence[str]],
    ps: Iterable[int] = range(0, 7),
    digits: Digits = "2p",
    mode: str = "decimal",
    progress: Callable[[str], Any] | None = None,
) -> Sensitivity:
    """The metric with only one group approximated, for every group and every p.

    Parameters
    ----------
    weights : mapping of str to numpy.ndarray
        The tensors, by name.  Non-float tensors are never approximated.
    evaluate : callable
        Takes a mapping of every tensor name to its (possibly approximated)
        array and returns a float.
    groups : mapping of str to sequence of str
        Group name -> glob patterns over the tensor names (see the module docs).
    ps : iterable of int
        Precisions to try (0..18).
    digits, mode
        As for :func:`fastfrac.keras.approximate_model`.
    progress : callable, optional
        Told in a few words what is being evaluated.

    Returns
    -------
    Sensitivity
        ``str()`` is the table; ``to_dict()`` / ``to_json()`` for JSON.
    """
    problem = _Problem(weights, evaluate, groups, digits, mode, progress)
    return _sensitivity(problem, _ps(ps))


def pareto_front(points: Sequence[Evaluated], higher_is_better: bool = False) -> list[Evaluated]:
    """The maps no other map beats on both bits per weight and metric, by bits.

    >>> pts = [Evaluated({"a": 1}, 0.5, 10.0), Evaluated({"a": 2}, 0.2, 12.0),
    ...        Evaluated({"a": 3}, 0.6, 12.5)]
    >>> [e.precision["a"] for e in pareto_front(pts)]
    [1, 2]
    """
    sign = -1.0 if higher_is_better else 1.0
    front: list[Evaluated] = []
    best = math.inf
    for e in sorted(points, key=lambda e: (e.bits_per_weight, sign * e.metric)):
        if sign * e.metric < best:
            front.append(e)
            best = sign * e.metric
    return front


@dataclass
class SearchResult:
    """What :func:`search_precision` found.

    Attributes
    ----------
    best : Evaluated
        The evaluated map with the fewest bits per weight whose metric stays
        within the tolerance (the all-``"-"`` map when nothing else does).
    evaluated : list of Evaluated
        Every map evaluated, in order (the original first).
    front : list of Evaluated
        Their Pareto front: bits per weight against metric.
    sensitivity : Sensitivity
        The table the search started from.
    original : float
        The metric with nothing approximated.
    limit : float
        The metric's bound the tolerance gives.
    evaluations : int
        How many times ``evaluate`` ran.
    seconds : float
        Wall time of the whole search; ``kernel_seconds`` of it approximating.
    """

    best: Evaluated
    evaluated: list[Evaluated]
    front: list[Evaluated]
    sensitivity: Sensitivity
    original: float
    limit: float
    evaluations: int
    seconds: float
    kernel_seconds: float
    container_bytes: int | None = None
    _problem: Any = field(default=None, repr=False, compare=False)

    def measure(self, precision: Mapping[str, Option]) -> Evaluated:
        """Evaluate another map (a hand-made one, say) the way the search did.

        Same weights, cache, ``evaluate`` and bits accounting; the map is not
        added to ``evaluated``.  Groups not named are left alone.
        """
        problem = self._problem
        unknown = sorted(set(precision) - set(problem.members))
        if unknown:
            raise ValueError(f"unknown groups {unknown}; the groups are {list(problem.members)}")
        for g, option in precision.items():
            if option != KEEP:
                check_precision(option, f"precision for group {g!r}")
        return problem.score(dict(precision), record=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best.to_dict(),
            "original": self.original,
            "limit": self.limit,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "kernel_seconds": self.kernel_seconds,
            "container_bytes": self.container_bytes,
            "front": [e.to_dict() for e in self.front],
            "evaluated": [e.to_dict() for e in self.evaluated],
            "sensitivity": self.sensitivity.to_dict(),
        }

    def __str__(self) -> str:
        rows = [{"map": ", ".join(f"{g}={o}" for g, o in e.precision.items()),
                 "metric": e.metric, "bits_per_weight": e.bits_per_weight,
                 "best": "<- best" if e is self.best else ""} for e in self.front]
        columns: list[Column] = [
            ("map", "Pareto front: map", format_value),
            ("metric", "metric", lambda v: format_value(v, ".6g")),
            ("bits_per_weight", "bits/weight", lambda v: format_value(v, ".2f")),
            ("best", "", format_value),
        ]
        size = "" if self.container_bytes is None else f", fractions container {self.container_bytes:,} bytes"
        return "\n".join([
            format_table(rows, columns),
            f"best: {self.best.spec()}  (metric {self.best.metric:.6g}, limit {self.limit:.6g}, "
            f"{self.best.bits_per_weight:.2f} bits/weight{size})",
            f"{self.evaluations} evaluations in {self.seconds:.1f} s "
            f"(approximating {1e3 * self.kernel_seconds:.0f} ms)",
        ])


def search_precision(
    weights: Mapping[str, np.ndarray],
    evaluate: Callable[[dict[str, np.ndarray]], float],
    *,
    groups: Mapping[str, Sequence[str]],
    tolerance: float,
    relative: bool = True,
    higher_is_better: bool = False,
    ps: Iterable[int] = range(0, 7),
    digits: Digits = "2p",
    mode: str = "decimal",
    container: str | os.PathLike[str] | None = None,
    progress: Callable[[str], Any] | None = None,
    spec_keys: Mapping[str, Sequence[str]] | None = None,
    reuse: SearchResult | None = None,
) -> SearchResult:
    """The precision map with the fewest bits per weight whose metric stays within a tolerance.

    Parameters
    ----------
    weights, evaluate, groups, ps, digits, mode, progress
        As for :func:`sensitivity`.
    tolerance : float
        How far the metric may move from the original's, in the worse
        direction: a fraction of it when ``relative`` (0.01 = 1 %), else in
        the metric's own units.
    relative : bool
        See ``tolerance``.
    higher_is_better : bool
        False for errors (MAE), True for scores (accuracy, cosine similarity).
    container : path, optional
        Also write ``best``'s fractions container there and report its real
        size (``container_bytes``).
    spec_keys : mapping, optional
        Group -> the names ``best.spec()`` gives it (default: its patterns).
    reuse : SearchResult, optional
        An earlier search on the same weights, evaluate and groups (another
        tolerance, say): the maps it evaluated are not evaluated again.  Its
        ``weights``, ``groups``, ``digits`` and ``mode`` are used.

    Returns
    -------
    SearchResult
        ``best``, ``evaluated``, ``front`` and the bookkeeping; ``str()``
        prints the front and the best map as a SPEC.  The method is in the
        module's documentation.
    """
    started = time.perf_counter()
    if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or not tolerance >= 0:
        raise ValueError(f"tolerance must be a number >= 0, not {tolerance!r}")
    if reuse is not None:
        problem = reuse._problem
        problem.evaluated = []
        problem.say = progress or problem.say
        start_evaluations, start_kernel = problem.evaluations, problem.cache.kernel_seconds
    else:
        problem = _Problem(weights, evaluate, groups, digits, mode, progress, spec_keys)
        start_evaluations, start_kernel = 0, 0.0
    options = [KEEP, *_ps(ps)]  # most bits first (p descending); bits decide below
    table = _sensitivity(problem, options[1:])
    original = table.original
    slack = tolerance * abs(original) if relative else float(tolerance)
    limit = original - slack if higher_is_better else original + slack

    def within(metric: float) -> bool:
        return metric >= limit if higher_is_better else metric <= limit

    def loss(metric: float) -> float:  # how much worse than the original
        return (original - metric) if higher_is_better else (metric - original)

    # Each group's options ordered by bits (alone), and its floor: the
    # fewest-bits option that is within the tolerance alone.
    ladders: dict[str, list[Option]] = {}
    for g in problem.members:
        alone = {o: problem.score({g: o} if o != KEEP else {}) for o in options}
        ladder = sorted(options, key=lambda o: -alone[o].bits_per_weight)
        ok = [o for o in ladder if within(alone[o].metric)]
        floor = ok[-1] if ok else KEEP
        ladders[g] = ladder[: ladder.index(floor) + 1]

    current: dict[str, Option] = {g: KEEP for g in problem.members}
    position = {g: 0 for g in problem.members}
    frozen: set[str] = set()
    while True:
        moves = []
        for g, ladder in ladders.items():
            if g in frozen or position[g] + 1 >= len(ladder):
                continue
            here, there = ladder[position[g]], ladder[position[g] + 1]
            saved = (problem.score({g: here} if here != KEEP else {}).bits_per_weight
                     - problem.score({g: there}).bits_per_weight)
            lost = max(loss(problem.score({g: there}).metric), 0.0)
            moves.append((saved / (lost + 1e-12 * (abs(original) + 1.0)), g, there))
        if not moves:
            break
        _, g, there = max(moves, key=lambda m: m[0])
        trial = {**current, g: there}
        if within(problem.score(trial, f"search: {g}={there}").metric):
            current = trial
            position[g] += 1
        else:
            frozen.add(g)

    admissible = [e for e in problem.evaluated if within(e.metric)]
    best = min(admissible, key=lambda e: (e.bits_per_weight, loss(e.metric)))
    size = None
    if container is not None:
        size = write(problem.cache.tensors(problem.assignment(best.precision)), container,
                     mode=problem.cache.mode)
    return SearchResult(
        best=best,
        evaluated=list(problem.evaluated),
        front=pareto_front(problem.evaluated, higher_is_better),
        sensitivity=table,
        original=original,
        limit=limit,
        evaluations=problem.evaluations - start_evaluations,
        seconds=time.perf_counter() - started,
        kernel_seconds=problem.cache.kernel_seconds - start_kernel,
        container_bytes=size,
        _problem=problem,
    )
