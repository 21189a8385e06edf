"""The package's rooms and the one direction its imports point in.

array core  <-  model files and container (_io)  <-  Keras/TFLite/task  <-  command line and apps

A module may import from its own room or from rooms to its left, never to
its right; and the file path never loads TensorFlow, Keras or h5py for
formats that do not need them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastfrac

PACKAGE = Path(fastfrac.__file__).resolve().parent

# Rooms, left (core) to right (apps); a module's room is the first that names it.
ROOMS = [
    ("core", {"fastfrac", "fastfrac.approximation", "fastfrac.reference", "fastfrac._core",
              "fastfrac._types", "fastfrac._inputs", "fastfrac._bits", "fastfrac._tables",
              "fastfrac._errors", "fastfrac._precision", "fastfrac._isa", "fastfrac._progress",
              "fastfrac._fused"}),
    ("files", {"fastfrac._io"}),
    ("models", {"fastfrac.keras", "fastfrac.tflite", "fastfrac.kline", "fastfrac.search",
                "fastfrac.transformer", "fastfrac.dask"}),
    ("apps", {"fastfrac.cli", "fastfrac.__main__", "fastfrac._apps", "fastfrac._allocator"}),
]


def room_of(module: str) -> int:
    for rank, (_, members) in enumerate(ROOMS):
        for member in members:
            if module == member or (member != "fastfrac" and module.startswith(member + ".")):
                return rank
    raise AssertionError(f"{module} is in no room: add it to ROOMS")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def fastfrac_imports(path: Path) -> set[str]:
    """Every fastfrac module ``path`` imports, at the top or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("fastfrac"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fastfrac"):
            found.add(node.module)
            # "from fastfrac import keras" imports the module fastfrac.keras.
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                    PACKAGE.parent / Path(*candidate.split(".")) / "__init__.py"
                ).exists():
                    found.add(candidate)
    return found


def sources() -> list[Path]:
    # _core.pyx is Cython, which ast cannot read; it cimports only its .pxd.
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_room() -> None:
    for path in sources():
        room_of(module_name(path))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_toward_the_core(path: Path) -> None:
    here = module_name(path)
    wrong = sorted(m for m in fastfrac_imports(path) if room_of(m) > room_of(here))
    assert not wrong, f"{here} ({ROOMS[room_of(here)][0]}) imports {wrong} from rooms above it"


def test_the_room_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from fastfrac.keras import approximate_model\n")
    assert "fastfrac.keras" in fastfrac_imports(bad)
    assert room_of("fastfrac.keras") > room_of("fastfrac._io.rewrite")


HEAVY = ("tensorflow", "keras", "h5py")

_RUN_AND_LIST = """
import json, sys
from fastfrac.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "loaded": sorted(m for m in sys.modules
                  if m.split(".")[0] in %r)}))
""" % (HEAVY,)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_file_path_never_imports_tensorflow_keras_or_h5py(tmp_path: Path, suffix: str) -> None:
    weights = {"w": np.float32([0.1, -0.25, 3.14159274]), "b": np.float32([0.5])}
    src = tmp_path / f"in{suffix}"
    if suffix == ".npz":
        np.savez(src, **weights)
    else:
        safetensors_numpy = pytest.importorskip("safetensors.numpy")
        safetensors_numpy.save_file(weights, str(src))
    out = tmp_path / f"out{suffix}"
    argv = ["approximate", str(src), "-o", str(out), "-p", "2", "-q", "--json", str(tmp_path / "r.json")]
    done = subprocess.run([sys.executable, "-c", _RUN_AND_LIST, *argv],
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 0 and out.exists()
    assert result["loaded"] == [], f"the {suffix} path imported {result['loaded']}"
