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
        return 0
    from fastfrac import transformer

    if not Path(sentences_path).exists():
        sample = transformer.sentences()
        Path(sentences_path).write_text(json.dumps(sample.texts), encoding="utf-8")
        print(json.dumps(sample.info()))
        return 0
    texts = json.loads(Path(sentences_path).read_text(encoding="utf-8"))
    ours = transformer.embed(transformer.load(model_dir), texts)
    theirs = np.load(torch_path)
    cos = np.sum(ours * theirs, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    print(json.dumps({"sentences": len(texts), "max_abs_difference": float(np.abs(ours - theirs).max()),
                      "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean())}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
