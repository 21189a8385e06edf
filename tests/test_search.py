"""The precision search: groups, the cache, bits accounting, the greedy search and its front.

The unit tests run on synthetic named tensors with a NumPy metric (no
TensorFlow); the last test runs ``fastfrac search`` on the research's own
K-line model and data, small (two precisions, no TFLite), as CI does.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastfrac import search
from fastfrac._bits import fraction_bits
from fastfrac._io.spec import parse_spec
from fastfrac.reference import approximate as reference_approximate


def toy_weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "conv/kernel": rng.normal(0, 0.05, (4, 3)).astype(np.float32),
        "conv/bias": rng.normal(0, 0.01, 3).astype(np.float32),
        "dense/kernel": rng.normal(0, 0.2, (6, 2)).astype(np.float32),
        "norm/gamma": (1 + rng.normal(0, 0.1, 5)).astype(np.float32),
        "steps": np.arange(4, dtype=np.int64),  # not a float: never approximated
    }


GROUPS = {"conv": ["conv/*"], "dense": ["dense/*"], "norm": ["norm/*"]}


class Metric:
    """Mean absolute change against the original floats: lower is better; counts its calls."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.target = {k: v.astype(np.float64) for k, v in weights.items() if v.dtype.kind == "f"}
        self.calls = 0

    def __call__(self, arrays: dict[str, np.ndarray]) -> float:
        self.calls += 1
        total = sum(float(np.abs(arrays[k] - t).sum()) for k, t in self.target.items())
        return 1.0 + total  # offset so that relative tolerances mean something


# ---- groups ----------------------------------------------------------------------


def test_groups_exact_name_wins_then_first_glob() -> None:
    names = ["dense/kernel", "dense_1/kernel", "dense_1/bias"]
    groups = {"all dense": ["dense*"], "the output": ["dense_1/kernel"]}
    assert search.assign_groups(names, groups) == {
        "all dense": ["dense/kernel", "dense_1/bias"],
        "the output": ["dense_1/kernel"],
    }


@pytest.mark.parametrize("groups, message", [
    ({"x": ["nothing*"]}, "group 'x' (nothing*) matches no tensor"),
    ({}, "groups is empty"),
])
def test_groups_that_reach_nothing_are_errors(groups, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        search.assign_groups(["a", "b"], groups)


# ---- sensitivity, bits and the cache ------------------------------------------------


def test_sensitivity_rows_and_bits_over_all_parameters() -> None:
    weights = toy_weights()
    metric = Metric(weights)
    table = search.sensitivity(weights, metric, groups=GROUPS, ps=[1, 3])
    assert table.original == 1.0
    assert [(r["group"], r["p"]) for r in table.rows] == [
        (g, p) for g in GROUPS for p in (3, 1)
    ]
    total = sum(w.size for w in weights.values())
    for row in table.rows:
        # Bits by hand: the group's float tensors as fractions (int64 output, the
        # Fraction reference), every other tensor at its dtype's width.
        bits = 0
        for name, w in weights.items():
            if name.startswith(row["group"] + "/"):
                num, den = reference_approximate(w, row["p"], dtype=np.int64)
                bits += fraction_bits(num, den)
            else:
                bits += w.size * 8 * w.dtype.itemsize
        assert row["bits_per_weight"] == pytest.approx(bits / total, rel=1e-12)
        assert row["metric"] > 1.0  # approximating moves the weights


def test_search_never_approximates_a_tensor_twice(monkeypatch) -> None:
    calls: list[tuple[str, int]] = []
    real = search.approximate_tensor

    def counting(name, values, p, digits, mode="decimal", layer=None):
        calls.append((name, p))
        return real(name, values, p, digits, mode, layer)

    monkeypatch.setattr(search, "approximate_tensor", counting)
    weights = toy_weights()
    search.search_precision(weights, Metric(weights), groups=GROUPS, tolerance=0.05, ps=range(0, 5))
    assert calls and len(calls) == len(set(calls))


# ---- the search ----------------------------------------------------------------


@pytest.mark.parametrize("tolerance", [0.0, 0.001, 0.02, 0.5])
def test_best_is_within_the_budget_and_the_fewest_bits_evaluated(tolerance) -> None:
    weights = toy_weights()
    metric = Metric(weights)
    result = search.search_precision(weights, metric, groups=GROUPS, tolerance=tolerance,
                                     ps=range(0, 5))
    assert result.limit == pytest.approx(1.0 + tolerance)
    assert result.best.metric <= result.limit
    admissible = [e for e in result.evaluated if e.metric <= result.limit]
    assert result.best.bits_per_weight == min(e.bits_per_weight for e in admissible)
    # Every reported metric is what evaluate says of that map.
    for e in result.evaluated[:10]:
        assert e.metric == result.measure(e.precision).metric
    assert result.evaluations == metric.calls == len(result.evaluated)
    if tolerance == 0.0:  # only maps that change no weight at all qualify
        assert result.best.metric == result.original
    if tolerance == 0.5:
        assert all(o != "-" for o in result.best.precision.values())


def test_front_is_pareto_optimal() -> None:
    weights = toy_weights()
    result = search.search_precision(weights, Metric(weights), groups=GROUPS, tolerance=0.05,
                                     ps=range(0, 5))
    front = result.front
    assert front and result.best in result.evaluated
    for a, b in itertools.permutations(front, 2):
        assert not (a.bits_per_weight <= b.bits_per_weight and a.metric <= b.metric)
    for e in result.evaluated:
        if e not in front:
            assert any(f.bits_per_weight <= e.bits_per_weight and f.metric <= e.metric
                       for f in front)


def test_search_matches_exhaustive_search_on_a_small_problem() -> None:
    """Every map of 3 groups x 4 options: the greedy's best is admissible, and
    how far it is from the true optimum in bits is stated, not hidden."""
    weights = toy_weights()
    ps = [0, 2, 4]
    tolerance = 0.02
    result = search.search_precision(weights, Metric(weights), groups=GROUPS, tolerance=tolerance,
                                     ps=ps)
    options = ["-", *ps]
    everything = [result.measure(dict(zip(GROUPS, combo)))
                  for combo in itertools.product(options, repeat=len(GROUPS))]
    optimum = min(e.bits_per_weight for e in everything if e.metric <= result.limit)
    assert result.best.metric <= result.limit
    # On this problem the greedy finds the optimum itself.
    assert result.best.bits_per_weight == pytest.approx(optimum)


def test_higher_is_better_and_absolute_tolerance() -> None:
    weights = toy_weights()
    metric = Metric(weights)

    def score(arrays):
        return 10.0 - metric(arrays)  # 9.0 when nothing changes

    result = search.search_precision(weights, score, groups=GROUPS, tolerance=0.01,
                                     relative=False, higher_is_better=True, ps=range(0, 5))
    assert result.original == 9.0 and result.limit == pytest.approx(8.99)
    assert result.best.metric >= 8.99
    assert result.best.bits_per_weight < 32


def test_reuse_evaluates_no_map_twice() -> None:
    weights = toy_weights()
    metric = Metric(weights)
    first = search.search_precision(weights, metric, groups=GROUPS, tolerance=0.001, ps=range(0, 5))
    calls = metric.calls
    second = search.search_precision(weights, metric, groups=GROUPS, tolerance=0.05,
                                     ps=range(0, 5), reuse=first)
    assert metric.calls - calls == second.evaluations
    assert second.best.bits_per_weight <= first.best.bits_per_weight
    assert second.evaluations < first.evaluations


def test_best_spec_is_a_spec_that_selects_the_same_tensors() -> None:
    weights = toy_weights()
    result = search.search_precision(weights, Metric(weights), groups=GROUPS, tolerance=0.05,
                                     ps=range(0, 5))
    spec = parse_spec(result.best.spec())
    chosen = spec.resolve([n for n, w in weights.items() if w.dtype.kind == "f"])
    expected = {t: p for g, p in result.best.precision.items() if p != "-"
                for t in result.sensitivity.members[g]}
    assert chosen == expected


@pytest.mark.parametrize("kwargs, error", [
    ({"tolerance": -0.1}, "tolerance must be a number >= 0"),
    ({"tolerance": 0.1, "ps": [19]}, "must lie in 0..18"),
    ({"tolerance": 0.1, "ps": []}, "ps is empty"),
    ({"tolerance": 0.1, "mode": "binary"}, "mode must be"),
    ({"tolerance": 0.1, "digits": 0}, "digits must be"),
    ({"tolerance": 0.1, "groups": {"x": ["nope"]}}, "matches no tensor"),
])
def test_bad_arguments_are_one_clear_error(kwargs, error) -> None:
    weights = toy_weights()
    kwargs = {"groups": GROUPS, **kwargs}
    with pytest.raises(ValueError, match=error):
        search.search_precision(weights, Metric(weights), **kwargs)


def test_nan_metric_is_an_error() -> None:
    weights = toy_weights()
    with pytest.raises(ValueError, match="NaN"):
        search.search_precision(weights, lambda arrays: float("nan"), groups=GROUPS, tolerance=0.1)


def test_container_bytes_of_the_best_map(tmp_path: Path) -> None:
    from fastfrac._io.container import read

    weights = toy_weights()
    out = tmp_path / "best.npz"
    result = search.search_precision(weights, Metric(weights), groups=GROUPS, tolerance=0.05,
                                     ps=range(0, 5), container=out)
    assert result.container_bytes == out.stat().st_size
    stored = read(out)
    approximated = {t.name for t in stored.tensors if t.fractions is not None}
    assert approximated == {t for g, p in result.best.precision.items() if p != "-"
                            for t in result.sensitivity.members[g]}


# ---- the command, on the research's model and data ---------------------------------


def test_search_command_on_the_seed_model(seed_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("keras")
    report = tmp_path / "search.json"
    done = subprocess.run(
        [sys.executable, "-m", "fastfrac", "search", "--data", str(seed_dir / "data.csv"),
         "--weights", str(seed_dir / "weights_npy"), "--tolerance", "1%", "--p", "2", "4",
         "--no-tflite", "--json", str(report), "-q"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    rows = {r["name"]: r for r in data["rows"]}
    # The research's hand map on the research's test windows: NOTES.md's row.
    assert rows["research's hand map"]["test_mae"] == pytest.approx(0.007296035022, rel=1e-5)
    assert rows["original"]["test_mae"] == pytest.approx(0.007296624095, rel=1e-5)
    (found,) = data["searches"]
    assert found["best"]["metric"] <= found["limit"]
    assert found["limit"] == pytest.approx(1.01 * rows["original"]["val_mae"])
    assert found["evaluations"] == len(found["evaluated"])
    assert "search, 1 % budget" in rows and rows["search, 1 % budget"]["spec"] in done.stdout
    assert "sensitivity (one layer approximated at a time)" in done.stdout
