"""Every docstring example of the installed package runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import fastfrac

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    """fastfrac and every module below it, subpackages (_io, _apps) included."""
    names = ["fastfrac"]
    for info in pkgutil.walk_packages(fastfrac.__path__, "fastfrac."):
        if info.name != "fastfrac.__main__":
            names.append(info.name)
    return names


def test_the_walk_reaches_the_subpackages() -> None:
    names = _modules()
    for expected in ("fastfrac._io", "fastfrac._io.spec", "fastfrac._apps.bench", "fastfrac.cli"):
        assert expected in names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    tests = [t for t in finder.find(module, name) if t.examples]
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_the_package_has_examples() -> None:
    finder = doctest.DocTestFinder()
    count = sum(len(t.examples) for t in finder.find(fastfrac.approximation))
    assert count >= 8
