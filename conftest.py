"""Repository-wide pytest configuration: the ``--benchmark`` switch.

``pytest`` (plain)
    Runs everything, the files in benchmarks/ only as quick correctness
    checks: small sizes, pytest-benchmark disabled (``--benchmark-disable``
    semantics: each benchmarked call runs once, untimed).
``pytest --benchmark``
    Runs only the tests that use the ``benchmark`` fixture, timed at full
    size, then prints every kernel's speed-up over the pure-Python reference
    measured in the same run.

The benchmark tests report their timings through the ``speedup_log`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BASELINE = "reference"


@dataclass(frozen=True)
class Timing:
    """One benchmark's median time, scaled to the full size it stands for."""

    group: str  # timings of one group are compared with each other
    role: str  # BASELINE or the peer / kernel being compared with it
    seconds: float


_TIMINGS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--benchmark",
        action="store_true",
        default=False,
        dest="ff_benchmark",
        help="run the benchmark suite timed, at full size, and print speed-ups "
        "over the reference (without it benchmarks/ runs as quick untimed checks)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Set pytest-benchmark's switches before the plugin reads them."""
    config.stash[_TIMINGS] = []
    option = config.option
    if not hasattr(option, "benchmark_disable"):
        return  # pytest-benchmark is not installed; the benchmark tests will error
    if config.getoption("ff_benchmark"):
        option.benchmark_disable = False
        option.benchmark_enable = True
    elif not (option.benchmark_enable or option.benchmark_only):
        option.benchmark_disable = True


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under --benchmark, import no module but bench_*.py (or one named on the command line)."""
    if not config.getoption("ff_benchmark"):
        return None
    if collection_path.suffix != ".py" or collection_path.name.startswith("bench_"):
        return None
    named = {
        Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        for arg in config.args
    }
    return None if collection_path.resolve() in named else True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the exhaustive sweeps unless ``-m`` names them; under --benchmark, every
    test that does not use the benchmark fixture."""
    if "exhaustive" not in (config.getoption("markexpr") or ""):
        # Plain pytest and CI: the 2**32 sweeps are run by hand (``-m exhaustive``).
        sweeps = [item for item in items if item.get_closest_marker("exhaustive")]
        if sweeps:
            config.hook.pytest_deselected(items=sweeps)
            items[:] = [item for item in items if not item.get_closest_marker("exhaustive")]
    if not config.getoption("ff_benchmark"):
        return
    keep = [item for item in items if "benchmark" in getattr(item, "fixturenames", ())]
    dropped = [item for item in items if "benchmark" not in getattr(item, "fixturenames", ())]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class SpeedupLog:
    """Collects median times of timed benchmarks for the speed-up summary."""

    def __init__(self, timings: list[Timing]) -> None:
        self._timings = timings

    def __call__(self, benchmark: Any, *, group: str, role: str, scale: float = 1.0) -> None:
        """Record benchmark's median time times scale (nothing when benchmarks are disabled)."""
        stats = getattr(benchmark, "stats", None)
        if not stats:
            return
        self._timings.append(Timing(group, role, float(stats["median"]) * scale))


@pytest.fixture
def speedup_log(request: pytest.FixtureRequest) -> SpeedupLog:
    return SpeedupLog(request.config.stash[_TIMINGS])


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One block per benchmark group: each role's median time and speed-up over the baseline."""
    timings: list[Timing] = config.stash.get(_TIMINGS, [])
    if not timings:
        return
    groups: dict[str, dict[str, float]] = {}
    for t in timings:
        groups.setdefault(t.group, {})[t.role] = t.seconds
    tr = terminalreporter
    tr.write_sep("=", f"speed-up over the {BASELINE} (median time for the full n, same data)")
    width = max(len(role) for row in groups.values() for role in row)
    for group, row in groups.items():
        tr.write_line(group)
        base = row.get(BASELINE)
        order = sorted(row, key=lambda role: role != BASELINE)  # baseline first, then as run
        for role in order:
            seconds = row[role]
            if base is None:
                ratio = "(no baseline)"
            elif role == BASELINE:
                ratio = "baseline"
            else:
                ratio = f"{base / seconds:10.1f}x" if seconds > 0 else "-"
            tr.write_line(f"    {role:<{width}}  {seconds:12.6f} s  {ratio:>12}")


@pytest.fixture(params=("avx512", "avx2", "serial"))
def isa(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each kernel path this CPU runs, forced for the test and restored after it.

    Shared by tests/ and benchmarks/; paths the CPU lacks are skipped (CI's
    qemu run of the C driver covers AVX2-only CPUs).
    """
    import fastfrac
    from fastfrac._isa import core

    name = request.param
    if name not in fastfrac.available_isas():
        pytest.skip(f"this CPU cannot run {name}")
    before = core.selected_isa()
    core._force_isa(name)
    try:
        yield name
    finally:
        core._force_isa(before)
