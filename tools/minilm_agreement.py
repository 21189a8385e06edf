"""One-off check: KerasHub's MiniLM embeddings against sentence-transformers on PyTorch.

Not run in CI (it needs PyTorch, which fastfrac's extras never install).
Two steps, in two environments, because PyTorch and TensorFlow are kept apart:

    # a venv with torch==2.13.0 (CPU) and sentence-transformers:
    python tools/minilm_agreement.py torch MODEL_DIR SENTENCES.json torch.npy
    # the fastfrac[transformer] venv:
    python tools/minilm_agreement.py compare MODEL_DIR SENTENCES.json torch.npy

SENTENCES.json is a JSON list of strings; ``compare`` writes it first when it
does not exist (fastfrac.transformer.sentences(), the experiment's sample).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def torch_embeddings(model_dir: str, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    return model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=False)


def main(argv: list[str]) -> int:
    step, model_dir, sentences_path, torch_path = argv
    if step == "torch":
        texts = json.loads(Path(sentences_path).read_text(encoding="utf-8"))
        np.save(torch_path, torch_embeddings(model_dir, texts).astype(np.float32))
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        ids = [tokenizer(t)["input_ids"] for t in texts]
        Path(torch_path).with_suffix(".ids.json").write_text(json.dumps(ids), encoding="utf-8")
        return 0
    from fastfrac import transformer

    if not Path(sentences_path).exists():
        sample = transformer.sentences()
        Path(sentences_path).write_text(json.dumps(sample.texts), encoding="utf-8")
        print(json.dumps(sample.info()))
        return 0
    texts = json.loads(Path(sentences_path).read_text(encoding="utf-8"))
    encoder = transformer.load(model_dir)
    ours = transformer.embed(encoder, texts)
    theirs = np.load(torch_path)
    cos = np.sum(ours * theirs, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    diff = np.abs(ours - theirs).max(axis=1)

    def figures(keep: np.ndarray) -> dict[str, float | int]:
        return {"sentences": int(keep.sum()), "max_abs_difference": float(diff[keep].max()),
                "min_cosine": float(cos[keep].min()), "mean_cosine": float(cos[keep].mean())}

    # The two tokenizers differ on a few characters (KerasHub's normalisation
    # turns the ellipsis "\u2026" into "..."; Hugging Face's keeps it as one
    # token): the model is compared where both see the same tokens.
    theirs_ids = json.loads(Path(torch_path).with_suffix(".ids.json").read_text(encoding="utf-8"))
    same = np.array([a == b for a, b in zip(transformer._token_ids(encoder, texts), theirs_ids)])
    print(json.dumps({"all": figures(np.ones(len(texts), bool)), "same_tokens": figures(same),
                      "worst": texts[int(np.argmin(cos))]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
