"""What every fuzzed input must satisfy, and the valid files the fuzzer starts from.

:func:`check_one` runs ``fastfrac approximate`` in this process on one input
file (with ``--json`` and ``--fractions`` outputs, and an unrelated file
beside it) and raises :class:`InvariantBroken` unless:

- the command returned 0 or 1 (an exception escaping it is a traceback);
- a failure printed exactly one line, ``fastfrac approximate: error: ...``;
- a failure left the folder as it was (no partial output, no temporary file),
  and a success added only OUT, the report and the fractions container;
- IN and the unrelated file are byte for byte unchanged.

Memory is bounded by the fuzzer (``-rss_limit_mb``), time per input by
``-timeout``.  Used by ``fuzz_readers.py`` (atheris) and by
``tests/test_fuzz.py``, which also replays every kept regression input.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np

from fastfrac.cli import main

# A damaged HDF5 file may make the reader give up after this deadline (the
# command's own guard); it must be well inside the fuzzer's -timeout=20.
os.environ.setdefault("FASTFRAC_HDF5_DEADLINE", "5")

TARGETS = {"safetensors": ".safetensors", "npz": ".npz", "h5": ".h5", "keras": ".keras"}
VICTIM = b"an unrelated file that no run may change"


class InvariantBroken(AssertionError):
    """An input on which the command broke one of the invariants."""


def check_one(target: str, data: bytes, folder: Path) -> int:
    """Run the command on ``data`` as a ``target`` file in ``folder`` (emptied first); its status."""
    suffix = TARGETS[target]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    src, victim = folder / f"in{suffix}", folder / "victim.bin"
    src.write_bytes(data)
    victim.write_bytes(VICTIM)
    before = sorted(p.name for p in folder.iterdir())
    err = io.StringIO()
    argv = ["approximate", str(src), "-o", str(folder / f"out{suffix}"), "-p", "2", "-q",
            "--json", str(folder / "r.json"), "--fractions", str(folder / "f.npz")]
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = main(argv)
    after = sorted(p.name for p in folder.iterdir())
    text = err.getvalue()
    if status not in (0, 1):
        raise InvariantBroken(f"exit status {status}: {text!r}")
    if status == 1:
        if text.count("\n") != 1 or not text.startswith("fastfrac approximate: error: "):
            raise InvariantBroken(f"not a one-line error: {text!r}")
        if after != before:
            raise InvariantBroken(f"a failed run left {sorted(set(after) - set(before))}")
    elif not set(after) <= set(before) | {f"out{suffix}", "r.json", "f.npz"}:
        raise InvariantBroken(f"a run wrote {sorted(set(after) - set(before))}")
    if src.read_bytes() != data or victim.read_bytes() != VICTIM:
        raise InvariantBroken("IN or a file beside it was changed")
    return status


def seeds(target: str, folder: Path) -> list[Path]:
    """Write a few small valid files of ``target``'s format into ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    weights = {"dense/kernel": rng.normal(0, 0.05, (3, 4)).astype(np.float32),
               "dense/bias": np.float32([0.5, -0.25, 0.1, 0.0]),
               "steps": np.int64([7]), "half": np.float16([0.5, 0.25])}
    made = []
    if target == "safetensors":
        for i, names in enumerate((list(weights), ["dense/kernel"])):
            header, blobs, offset = {}, [], 0
            for name in names:
                raw = weights[name].tobytes()
                header[name] = {"dtype": {"float32": "F32", "int64": "I64", "float16": "F16"}[
                    weights[name].dtype.name], "shape": list(weights[name].shape),
                    "data_offsets": [offset, offset + len(raw)]}
                blobs.append(raw)
                offset += len(raw)
            header["__metadata__"] = {"format": "np"}
            text = json.dumps(header).encode()
            path = folder / f"seed{i}.safetensors"
            path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))
            made.append(path)
    elif target == "npz":
        flat = {k.replace("/", "_"): v for k, v in weights.items()}
        for i, save in enumerate((np.savez, np.savez_compressed)):
            save(folder / f"seed{i}.npz", **flat)
            made.append(folder / f"seed{i}.npz")
        made.append(folder / "seed2.npz")
        np.savez(made[-1], w=np.asfortranarray(weights["dense/kernel"]))
    else:
        import h5py

        h5 = folder / "seed0.h5"
        with h5py.File(h5, "w") as f:
            for i, (name, value) in enumerate(weights.items()):
                group = f.require_group(f"layers/{name.split('/')[0]}/vars")
                group.attrs["name"] = name.split("/")[0]
                group[str(i)] = value
            f["optimizer/vars/0"] = np.float32([1.0])
        with h5py.File(folder / "seed1.h5", "w") as f:  # the legacy layout
            f.attrs["layer_names"] = [b"dense"]
            f["dense/dense/kernel:0"] = weights["dense/kernel"]
        made += [h5, folder / "seed1.h5"]
        if target == "keras":
            for path in list(made):
                archive = path.with_suffix(".keras")
                with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                    z.writestr("config.json", "{}")
                    z.write(path, "model.weights.h5")
                path.unlink()
            made = sorted(folder.glob("*.keras"))
    return made
