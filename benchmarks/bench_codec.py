"""Encodings of the fractions container's num/den streams: size, write and read speed.

The container (fastfrac._io.container, version 2) stores each approximated
tensor as two integer arrays, numerators and denominators, in the narrowest
integer type, as deflated ``.npy`` members of a ZIP file.  This script
measures what other encodings of the same arrays would cost and save, to
choose the codec of container version 3.

Corpora (each approximated as the container gets it: ``approximate_tensor``,
int64 fractions; the rounding to ``2p`` digits is metadata, not stored):

- ``seed``: the seed model's weights (../shared/seed/weights_npy beside the
  repository) at the research's map (``fastfrac.kline.SEED_PRECISION``; the
  BatchNormalization layers are not approximated, so not counted);
- ``minilm f32 p=P`` / ``minilm bf16 p=P``: every float tensor of
  all-MiniLM-L6-v2 (``fastfrac.transformer.model_directory()``, by default
  ~/.cache/fastfrac/minilm), as stored (float32) and cast to bfloat16, P = 1, 2;
- ``normal p=P``: 2 * 10**6 float32 values from N(0, 0.05), P = 1 ... 4.

Candidates: the real version-2 and version-3 files (``container.write`` to
``.npz`` and ``.ffc``, framing and metadata included) and encodings of the
two streams of every tensor separately, each a transform (narrowest type, at least 32 bits, zigzag on
the numerators, zigzag delta on the denominators) and a codec (zlib, zstd
through ``zstandard``, blosc2).  Their sizes count the compressed payload
only: a container adds a few hundred bytes per tensor.

Units: size in bits per weight (bytes * 8 / weights); speed in M weights/s,
a weight being one num/den pair, from the int64 fractions the writer gets
to the compressed bytes (the cast to the stored type included) and back to
int64.  The reference speed is the fused pass of a plain ``fastfrac
approximate`` run (``approximate_chunk`` without fractions) on the same
values, on as many threads as the codecs (every core by default).  Every
candidate's decoded streams are checked equal to the originals.

``python benchmarks/bench_codec.py [--rounds N] [--json FILE] [--markdown FILE]``
(``--corpus NAME ...`` for a subset) prints one table per corpus (medians of
N interleaved rounds: each round times every corpus and candidate once, the
candidates in a rotated order, so a shared machine's drift hits all alike),
then bits per weight and speeds across corpora, and the default the choice
rule picks (:func:`choose`: within 3 % of the smallest on every corpus,
encoding at least as fast as the fused pass on the large corpora; of those,
the fastest).  Plain ``pytest`` runs :func:`test_round_trip`, every candidate
on a few small tensors, untimed, and renders a report of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fastfrac._fused import approximate_chunk
from fastfrac._inputs import thread_count
from fastfrac._io import container
from fastfrac._precision import digits_for
from fastfrac._types import Fractions

try:  # the candidates needing a missing library are skipped
    import zstandard
except ImportError:  # pragma: no cover
    zstandard = None
try:
    import blosc2
except ImportError:  # pragma: no cover
    blosc2 = None

REPO = Path(__file__).resolve().parent.parent
SEED_WEIGHTS = REPO.parent / "shared" / "seed" / "weights_npy"
NORMAL_SIZE = 2 * 10**6
NORMAL_P = (1, 2, 3, 4)
MINILM_P = (1, 2)
BLOSC_CHUNK = 1 << 22  # elements per blosc2 chunk (a v3 writer compresses a chunk at a time)
ROOM = 0.03  # "within a few percent of the smallest"
TIMED_WEIGHTS = 10**6  # the speed rule looks at corpora this large (the seed's take milliseconds)


# ---- transforms: int64 stream -> stored integers, and back ------------------------


def narrowest(values: np.ndarray) -> np.ndarray:
    """The stream in the narrowest integer type, as version 2 stores it."""
    return values.astype(container.smallest_int_dtype(values))


def at_least_32(values: np.ndarray) -> np.ndarray:
    """The narrowest type of 32 bits or more (fixed int32 where the values allow)."""
    kind = container.smallest_int_dtype(values)
    if kind.itemsize < 4:
        kind = np.dtype(np.uint32 if kind.kind == "u" else np.int32)
    return values.astype(kind)


def zigzag(values: np.ndarray) -> np.ndarray:
    """0, -1, 1, -2 ... -> 0, 1, 2, 3 ...: small magnitudes get small codes of either sign."""
    return narrowest(((values << 1) ^ (values >> 63)).view(np.uint64))


def unzigzag(codes: np.ndarray) -> np.ndarray:
    u = codes.astype(np.uint64)
    return (u >> np.uint64(1)).view(np.int64) ^ -(u & np.uint64(1)).view(np.int64)


def delta(values: np.ndarray) -> np.ndarray:
    """Differences of neighbours (the first value as it is), zigzag coded."""
    return zigzag(np.diff(values, prepend=np.int64(0)))


def undelta(codes: np.ndarray) -> np.ndarray:
    return np.cumsum(unzigzag(codes))


def as_int64(values: np.ndarray) -> np.ndarray:
    return values.astype(np.int64)


@dataclass(frozen=True)
class Transform:
    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]


NARROWEST = Transform("narrowest", narrowest, as_int64)
WIDE = Transform("int32+", at_least_32, as_int64)
ZIGZAG = Transform("zigzag", zigzag, unzigzag)
DELTA = Transform("delta", delta, undelta)


# ---- codecs: one stored array -> compressed frames, and back ----------------------


class Codec:
    """Compresses one contiguous integer array into frames (bytes objects)."""

    library = ""  # the module it needs, "" for the standard library

    def compress(self, data: np.ndarray) -> list[bytes]:
        raise NotImplementedError

    def decompress(self, frames: list[bytes], dtype: np.dtype, count: int) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Zlib(Codec):
    level: int

    def compress(self, data: np.ndarray) -> list[bytes]:
        return [zlib.compress(data, self.level)]

    def decompress(self, frames: list[bytes], dtype: np.dtype, count: int) -> np.ndarray:
        raw = zlib.decompress(frames[0], bufsize=max(count * dtype.itemsize, 1))
        return np.frombuffer(raw, dtype)


@dataclass(frozen=True)
class Zstd(Codec):
    """zstandard's one-shot frame; threads > 1 is zstd's multi-threaded compression."""

    level: int
    threads: int = 1
    byte_shuffle: bool = False  # the stream's bytes grouped by significance before zstd
    library = "zstandard"

    def compress(self, data: np.ndarray) -> list[bytes]:
        if self.byte_shuffle:
            data = data.view(np.uint8).reshape(-1, data.itemsize).T.copy()
        threads = self.threads if self.threads > 1 else 0
        return [zstandard.ZstdCompressor(level=self.level, threads=threads).compress(data)]

    def decompress(self, frames: list[bytes], dtype: np.dtype, count: int) -> np.ndarray:
        size = count * dtype.itemsize
        raw = zstandard.ZstdDecompressor().decompress(frames[0], max_output_size=size)
        if not self.byte_shuffle:
            return np.frombuffer(raw, dtype)
        planes = np.frombuffer(raw, np.uint8).reshape(dtype.itemsize, count)
        return planes.T.copy().view(dtype).ravel()


@dataclass(frozen=True)
class Blosc2(Codec):
    """blosc2 chunks of BLOSC_CHUNK elements, typesize the stored type's size, automatic blocks.

    A stream of fewer than ``serial_below`` values uses one thread: blosc2 threads share
    out blocks of 32 Ki values, and waking a second one for a few blocks costs more than
    it saves.
    """

    codec: str  # a blosc2.Codec name
    level: int
    shuffle: str  # a blosc2.Filter name
    threads: int
    serial_below: int = 0
    library = "blosc2"

    def _threads(self, count: int) -> int:
        return 1 if count < self.serial_below else self.threads

    def compress(self, data: np.ndarray) -> list[bytes]:
        params = blosc2.CParams(
            codec=blosc2.Codec[self.codec], clevel=self.level, typesize=data.itemsize,
            filters=[blosc2.Filter[self.shuffle]], filters_meta=[0],
            nthreads=self._threads(data.size),
        )
        return [blosc2.compress2(data[i : i + BLOSC_CHUNK], cparams=params)
                for i in range(0, data.size, BLOSC_CHUNK)]

    def decompress(self, frames: list[bytes], dtype: np.dtype, count: int) -> np.ndarray:
        out = np.empty(count, dtype)
        params = blosc2.DParams(nthreads=self._threads(count))
        for i, frame in zip(range(0, count, BLOSC_CHUNK), frames):
            blosc2.decompress2(frame, dst=out[i : i + BLOSC_CHUNK], dparams=params)
        return out


# ---- candidates --------------------------------------------------------------------


@dataclass
class Encoded:
    """A corpus encoded by one candidate: its bytes and what decoding needs beside them."""

    size: int  # bytes counted as the candidate's size
    parts: Any


class Candidate:
    """One way to store a corpus's fractions; ``name`` and ``library`` are set by each kind."""

    name: str
    library: str

    def encode(self, tensors: Sequence[container.Tensor], scratch: Path) -> Encoded:
        raise NotImplementedError

    def decode(self, encoded: Encoded) -> list[Fractions]:
        raise NotImplementedError


@dataclass(frozen=True)
class Streams(Candidate):
    """Each tensor's num and den as two streams, each transformed, then compressed."""

    name: str
    codec: Codec
    num: Transform = NARROWEST
    den: Transform = NARROWEST

    @property
    def library(self) -> str:  # type: ignore[override]
        return self.codec.library

    def _pack(self, values: np.ndarray, transform: Transform) -> tuple[list[bytes], np.dtype]:
        stored = transform.forward(values.ravel())
        return self.codec.compress(stored), stored.dtype

    def _unpack(
        self, packed: tuple[list[bytes], np.dtype], count: int, transform: Transform
    ) -> np.ndarray:
        frames, dtype = packed
        return transform.inverse(self.codec.decompress(frames, dtype, count))

    def encode(self, tensors: Sequence[container.Tensor], scratch: Path) -> Encoded:
        parts = []
        for t in tensors:
            num, den = t.fractions  # type: ignore[misc]
            parts.append((num.shape, self._pack(num, self.num), self._pack(den, self.den)))
        size = sum(len(f) for _, a, b in parts for f in a[0] + b[0])
        return Encoded(size, parts)

    def decode(self, encoded: Encoded) -> list[Fractions]:
        out = []
        for shape, num, den in encoded.parts:
            count = int(np.prod(shape, dtype=np.int64))
            out.append(Fractions(self._unpack(num, count, self.num).reshape(shape),
                                 self._unpack(den, count, self.den).reshape(shape)))
        return out


class ContainerV2(Candidate):
    """The real version-2 file, as ``fastfrac approximate --fractions`` writes it."""

    name = "v2 container (zip deflate 6)"
    library = ""

    def encode(self, tensors: Sequence[container.Tensor], scratch: Path) -> Encoded:
        path = scratch / "v2.npz"
        size = container.write(tensors, path, mode="decimal")
        return Encoded(size, (path, [t.name for t in tensors]))

    def decode(self, encoded: Encoded) -> list[Fractions]:
        path, names = encoded.parts
        with np.load(path, allow_pickle=False) as data:
            return [Fractions(data[f"{n}.num"].astype(np.int64), data[f"{n}.den"].astype(np.int64))
                    for n in names]


class ContainerV3(Candidate):
    """The real version-3 file as ``fastfrac approximate --fractions FILE.ffc`` writes it.

    Frames of 2**20 values in their own narrowest types, byte planes in C,
    zstd level 1 on the writer's two worker threads (src/fastfrac/_io/frames.py);
    the size is the whole file, metadata included.
    """

    name = "v3 container (.ffc as written)"
    library = ""

    def encode(self, tensors: Sequence[container.Tensor], scratch: Path) -> Encoded:
        path = scratch / "v3.ffc"
        size = container.write(tensors, path, mode="decimal")
        return Encoded(size, path)

    def decode(self, encoded: Encoded) -> list[Fractions]:
        return [t.fractions for t in container.read(encoded.parts).tensors]  # type: ignore[misc]


def candidates(threads: int) -> list[Candidate]:
    """The measured encodings, the version-2 file first."""
    def blosc(codec: str, level: int, shuffle: str, num: Transform = NARROWEST,
              den: Transform = NARROWEST, note: str = "", serial_below: int = 0) -> Streams:
        name = f"blosc2 {codec.lower()}-{level} {shuffle.lower()}{note}"
        return Streams(name, Blosc2(codec, level, shuffle, threads, serial_below), num, den)

    return [
        ContainerV2(),
        ContainerV3(),
        Streams("zlib-6", Zlib(6)),
        Streams("zlib-1", Zlib(1)),
        Streams("zstd-1", Zstd(1)),
        Streams("zstd-3", Zstd(3)),
        Streams("zstd-9", Zstd(9)),
        Streams(f"zstd-3 threads={threads}", Zstd(3, threads)),
        Streams(f"byte shuffle + zstd-1 threads={threads}", Zstd(1, threads, byte_shuffle=True)),
        blosc("ZSTD", 1, "SHUFFLE"),
        blosc("ZSTD", 1, "SHUFFLE", note=", 1 thread below 256 Ki", serial_below=1 << 18),
        blosc("ZSTD", 5, "SHUFFLE"),
        blosc("ZSTD", 1, "BITSHUFFLE"),
        blosc("LZ4", 5, "SHUFFLE"),
        blosc("LZ4", 9, "BITSHUFFLE"),
        blosc("ZSTD", 1, "SHUFFLE", num=ZIGZAG, note=", zigzag num"),
        blosc("ZSTD", 1, "SHUFFLE", den=DELTA, note=", delta den"),
        blosc("ZSTD", 1, "SHUFFLE", WIDE, WIDE, note=", int32+"),
    ]


def available(candidate: Candidate) -> bool:
    modules = {"": True, "zstandard": zstandard is not None, "blosc2": blosc2 is not None}
    return modules[candidate.library]


# ---- corpora -----------------------------------------------------------------------


@dataclass
class Corpus:
    name: str
    tensors: list[container.Tensor]
    sources: list[tuple[np.ndarray, int]]  # the float arrays and their p, for the fused pass

    @property
    def weights(self) -> int:
        return sum(t.values.size for t in self.tensors)


def approximated(name: str, named: Sequence[tuple[str, np.ndarray, int]]) -> Corpus:
    """The tensors as the container gets them: int64 fractions, digits "2p" as metadata."""
    tensors = [container.approximate_tensor(n, x, p, digits_for("2p", p)) for n, x, p in named]
    return Corpus(name, tensors, [(x, p) for _, x, p in named])


def seed_corpus(folder: Path = SEED_WEIGHTS) -> Corpus:
    from fastfrac.kline import SEED_PRECISION

    named = []
    for path in sorted(folder.glob("layer-*-weight-*.npy")):
        match = re.fullmatch(r"layer-(\d+)-(.+)-weight-(\d+)\.npy", path.name)
        _, layer, k = match.groups()  # type: ignore[union-attr]
        if layer in SEED_PRECISION:  # BatchNormalization stays float32, outside the streams
            named.append((f"{layer}/weight-{k}", np.load(path), SEED_PRECISION[layer]))
    return approximated("seed", named)


def minilm_floats() -> list[tuple[str, np.ndarray]]:
    from safetensors.numpy import load_file

    from fastfrac.transformer import model_directory

    tensors = load_file(str(model_directory() / "model.safetensors"))
    return [(name, x) for name, x in tensors.items() if x.dtype.kind == "f"]


def normal_weights(n: int) -> np.ndarray:
    return np.random.default_rng(0).normal(0.0, 0.05, n).astype(np.float32)


def corpus_builders() -> dict[str, Callable[[], Corpus]]:
    """Corpus name -> a function that builds it (MiniLM's file is read once, when first needed)."""
    import ml_dtypes

    floats: list[list[tuple[str, np.ndarray]]] = []

    def minilm(label: str, kind: Any, p: int) -> Corpus:
        if not floats:
            floats.append(minilm_floats())
        return approximated(f"minilm {label} p={p}", [(n, x.astype(kind), p) for n, x in floats[0]])

    builders: dict[str, Callable[[], Corpus]] = {"seed": seed_corpus}
    for label, kind in (("f32", np.float32), ("bf16", ml_dtypes.bfloat16)):
        for p in MINILM_P:
            builders[f"minilm {label} p={p}"] = lambda a=(label, kind, p): minilm(*a)
    for p in NORMAL_P:
        builders[f"normal p={p}"] = lambda p=p: approximated(
            f"normal p={p}", [("w", normal_weights(NORMAL_SIZE), p)])
    return builders


# ---- measures ----------------------------------------------------------------------


def entropy_bits(values: np.ndarray) -> float:
    """Order-0 entropy of the values, in bits for all of them together."""
    _, counts = np.unique(values, return_counts=True)
    return float(-(counts * np.log2(counts / values.size)).sum()) if values.size else 0.0


def floors(corpus: Corpus) -> dict[str, float]:
    """Bits per weight: order-0 entropy of num and den (per tensor), and the narrowest raw size."""
    n = corpus.weights
    fr = [t.fractions for t in corpus.tensors]
    num = sum(entropy_bits(f.num) for f in fr) / n  # type: ignore[union-attr]
    den = sum(entropy_bits(f.den) for f in fr) / n  # type: ignore[union-attr]
    raw = sum(narrowest(a).nbytes for f in fr for a in f) * 8 / n  # type: ignore[union-attr]
    return {"entropy_num": num, "entropy_den": den, "entropy": num + den, "raw": raw}


def fused_seconds(corpus: Corpus, threads: int) -> float:
    """The plain run's fused pass over the corpus (no fractions kept)."""
    start = time.perf_counter()
    for x, p in corpus.sources:
        approximate_chunk(x, p, digits=digits_for("2p", p), threads=threads)
    return time.perf_counter() - start


def round_trip(
    candidate: Candidate, tensors: Sequence[container.Tensor], scratch: Path
) -> tuple[int, float, float]:
    """Encode, decode and compare; returns (bytes, encode seconds, decode seconds)."""
    start = time.perf_counter()
    encoded = candidate.encode(tensors, scratch)
    middle = time.perf_counter()
    decoded = candidate.decode(encoded)
    end = time.perf_counter()
    for t, got in zip(tensors, decoded, strict=True):
        want = t.fractions
        for a, b in zip(want, got):  # type: ignore[arg-type]
            if a.shape != b.shape or not np.array_equal(a, b):
                raise AssertionError(f"{candidate.name}: tensor {t.name!r} does not round-trip")
    return encoded.size, middle - start, end - middle


@dataclass
class Row:
    size: int = 0
    encode: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)


def measure(corpora: list[Corpus], cands: list[Candidate], rounds: int, threads: int,
            scratch: Path) -> tuple[dict[str, dict[str, Row]], dict[str, list[float]]]:
    rows = {c.name: {k.name: Row() for k in cands} for c in corpora}
    fused: dict[str, list[float]] = {c.name: [] for c in corpora}
    for r in range(rounds):
        for corpus in corpora:
            fused[corpus.name].append(fused_seconds(corpus, threads))
            shift = r % len(cands)
            for cand in cands[shift:] + cands[:shift]:
                size, enc, dec = round_trip(cand, corpus.tensors, scratch)
                row = rows[corpus.name][cand.name]
                row.size = size
                row.encode.append(enc)
                row.decode.append(dec)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return rows, fused


# ---- report ------------------------------------------------------------------------


def rate(weights: int, seconds: list[float]) -> float:
    """M weights/s at the median time."""
    return weights / statistics.median(seconds) / 1e6


def bits(weights: int, size: int) -> float:
    return size * 8 / weights


def choose(summary: dict[str, dict[str, dict[str, float]]],
           weights: dict[str, int]) -> tuple[str | None, dict[str, tuple[float, float]]]:
    """The rule: within ROOM of the smallest on every corpus, and encoding at least as fast
    as the fused pass on every corpus of TIMED_WEIGHTS or more; of those (equal in size by
    the rule), the fastest.  Returns the choice (None if none qualifies) and each candidate's
    (worst excess, slowest encode / fused)."""
    timed = [name for name, n in weights.items() if n >= TIMED_WEIGHTS] or list(weights)
    worst = {}
    for cand in next(iter(summary.values())):
        excess = max(s[cand]["bits"] / min(v["bits"] for v in s.values()) - 1
                     for s in summary.values())
        worst[cand] = (excess, min(summary[name][cand]["encode_vs_fused"] for name in timed))
    fit = [c for c, (excess, speed) in worst.items() if speed >= 1 and excess <= ROOM]
    return (max(fit, key=lambda c: worst[c][1]) if fit else None), worst


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "numpy": np.__version__}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        info["lscpu"] = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in text.splitlines()
                         if ":" in line) if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core")}
    except (OSError, subprocess.CalledProcessError):
        pass
    if zstandard is not None:
        info["zstandard"] = f"{zstandard.__version__} (zstd {'.'.join(map(str, zstandard.ZSTD_VERSION))})"
    if blosc2 is not None:
        info["blosc2"] = f"{blosc2.__version__} (C-Blosc2 {blosc2.blosclib_version.split()[0]})"
    return info


def summarize(corpora: list[Corpus], cands: list[Candidate], rows: dict[str, dict[str, Row]],
              fused: dict[str, list[float]], limits: dict[str, dict[str, float]],
              rounds: int, threads: int) -> dict[str, Any]:
    """Every figure of the run, as --json writes it."""
    out: dict[str, Any] = {}
    for corpus in corpora:
        n = corpus.weights
        fused_rate = rate(n, fused[corpus.name])
        table = {}
        for cand in cands:
            r = rows[corpus.name][cand.name]
            table[cand.name] = {"bits": bits(n, r.size), "bytes": r.size, "encode": rate(n, r.encode),
                                "decode": rate(n, r.decode),
                                "encode_vs_fused": rate(n, r.encode) / fused_rate}
        out[corpus.name] = {"weights": n, "tensors": len(corpus.tensors), **limits[corpus.name],
                            "fused": fused_rate, "candidates": table}
    summary = {name: c["candidates"] for name, c in out.items()}
    chosen, worst = choose(summary, {name: c["weights"] for name, c in out.items()})
    return {"machine": machine(), "rounds": rounds, "threads": threads, "blosc_chunk": BLOSC_CHUNK,
            "command": " ".join(["python", "benchmarks/bench_codec.py", *sys.argv[1:]]),
            "corpora": out, "rule": {k: {"worst_excess": e, "slowest_encode_vs_fused": v}
                                     for k, (e, v) in worst.items()}, "chosen": chosen}


Table = tuple[str, list[str], list[list[str]]]  # title, header, rows


def tables(result: dict[str, Any], top: int | None = None) -> list[Table]:
    """The run's tables: one per corpus (its ``top`` smallest and the v2 file), then across corpora."""
    corpora = result["corpora"]
    out: list[Table] = []
    for name, c in corpora.items():
        ranked = sorted(c["candidates"].items(), key=lambda kv: kv[1]["bytes"])
        smallest = ranked[0][1]["bytes"]
        shown = ranked if top is None else ranked[:top] + [
            kv for kv in ranked[top:] if kv[0] == ContainerV2.name]
        plural = "s" if c["tensors"] != 1 else ""
        title = (f"{name}: {c['weights']:,} weights in {c['tensors']} tensor{plural}; order-0 entropy "
                 f"num {c['entropy_num']:.2f} + den {c['entropy_den']:.2f} = {c['entropy']:.2f} "
                 f"bits/weight; narrowest raw {c['raw']:.2f}; fused pass {c['fused']:.1f} M weights/s")
        out.append((title, ["candidate", "bits/weight", "over smallest", "encode M/s", "decode M/s",
                            "encode / fused"],
                    [[k, f"{s['bits']:.2f}", f"{100 * (s['bytes'] / smallest - 1):.1f}%",
                      f"{s['encode']:.1f}", f"{s['decode']:.1f}", f"{s['encode_vs_fused']:.2f}"]
                     for k, s in shown]))
    names = list(corpora)
    cands = list(next(iter(corpora.values()))["candidates"])
    for key, title, extra, label in (
        ("bits", "bits per weight", "entropy", "order-0 entropy (num + den)"),
        ("encode", "encode, M weights/s", "fused", "fused pass (plain run)"),
        ("decode", "decode, M weights/s", None, ""),
    ):
        body = [[k] + [f"{corpora[n]['candidates'][k][key]:.2f}" for n in names] for k in cands]
        if extra:
            body.append([label] + [f"{corpora[n][extra]:.2f}" for n in names])
        out.append((title, ["candidate", *names], body))
    verdicts = sorted(result["rule"].items(), key=lambda kv: kv[1]["worst_excess"])
    rule = (f"the rule: within {100 * ROOM:.0f}% of the smallest on every corpus, encoding at "
            f"least as fast as the fused pass on every corpus of {TIMED_WEIGHTS:,} weights or "
            f"more; chosen: {result['chosen']}")
    out.append((rule, ["candidate", "worst excess", "slowest encode / fused"],
                [[k, f"{100 * v['worst_excess']:.1f}%", f"{v['slowest_encode_vs_fused']:.2f}"]
                 for k, v in verdicts]))
    return out


def as_text(table: Table) -> str:
    title, header, body = table
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [f"== {title}"]
    for row in [header, *body]:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append("   " + "  ".join(cells))
    return "\n".join(lines)


def as_markdown(table: Table) -> str:
    title, header, body = table
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |",
             "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    builders = corpus_builders()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (5)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--markdown", type=Path,
                        help="also write the tables, each corpus's 5 smallest, as Markdown")
    parser.add_argument("--corpus", nargs="+", choices=list(builders), default=list(builders),
                        metavar="NAME", help=f"corpora to measure, of: {', '.join(builders)}")
    parser.add_argument("--threads", type=int, default=thread_count(None),
                        help="threads for the fused pass and the multi-threaded codecs (every core)")
    parser.add_argument("--candidate", nargs="+", metavar="TEXT",
                        help="measure only the candidates whose name contains one of these "
                             "(the choice rule then compares only them)")
    args = parser.parse_args(argv)
    cands = [c for c in candidates(args.threads) if available(c)
             and (not args.candidate or any(t in c.name for t in args.candidate))]
    if not cands:
        parser.error(f"no candidate's name contains any of {args.candidate}")
    corpora = [builders[name]() for name in args.corpus]
    limits = {c.name: floors(c) for c in corpora}
    with tempfile.TemporaryDirectory() as scratch:
        rows, fused = measure(corpora, cands, args.rounds, args.threads, Path(scratch))
    result = summarize(corpora, cands, rows, fused, limits, args.rounds, args.threads)
    print("\n\n".join(as_text(t) for t in tables(result)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text("\n\n".join(as_markdown(t) for t in tables(result, top=5)) + "\n")


# ---- the check under plain pytest ---------------------------------------------------


def small_tensors() -> list[container.Tensor]:
    """A few tensors covering the stored types: int8/uint32, int16/uint64 (tiny weights), empty."""
    x = normal_weights(2000)
    x[:3] = (0.0, 1e-9, -3.0)
    named = [("a", x.reshape(40, 50), 2), ("b", x[:700], 4), ("c", x[:0], 1)]
    return approximated("small", named).tensors


@pytest.mark.parametrize("candidate", candidates(2), ids=lambda c: c.name)
def test_round_trip(candidate: Candidate, tmp_path: Path) -> None:
    if not available(candidate):
        pytest.skip(f"{candidate.library} is not installed")
    tensors = small_tensors()
    size, _, _ = round_trip(candidate, tensors, tmp_path)
    assert 0 < size < sum(narrowest(a).nbytes for t in tensors for a in t.fractions)  # type: ignore[union-attr]


def test_transforms_invert() -> None:
    values = np.array([0, -1, 1, -(2**62), 2**62, 7], np.int64)
    for transform in (NARROWEST, WIDE, ZIGZAG, DELTA):
        assert np.array_equal(transform.inverse(transform.forward(values)), values)


def test_the_report_renders(tmp_path: Path) -> None:
    corpora = [Corpus("small", small_tensors(), [(normal_weights(100), 2)])]
    cands = [c for c in candidates(2) if available(c)]
    rows, fused = measure(corpora, cands, 1, 2, tmp_path)
    limits = {"small": floors(corpora[0])}
    result = summarize(corpora, cands, rows, fused, limits, 1, 2)
    json.dumps(result)
    assert "| zlib-6 |" in as_markdown(tables(result, top=5)[1])  # every candidate, by bits
    assert all(as_text(t).startswith("== ") for t in tables(result))


if __name__ == "__main__":
    main()
