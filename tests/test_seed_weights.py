"""The seed experiment's real weights: every array, p = 0..6, both modes, int32 and int64.

The arrays are read from the seed folder next to the repository (the
``seed_dir`` fixture).  Expected answers are the seed's own expression,
``Fraction(str(x)).limit_denominator(int(10**p / abs(x)))``, element by
element; exact mode uses ``Fraction(float(x))``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import fastfrac
from fastfrac import reference

import corpora
from corpora import MODES

# The seed's per-layer precision (its notes): BatchNormalization layers are not approximated.
SEED_P = {"conv1d": 4, "bidirectional": 2, "dense": 2, "dense_1": 4}
NAME = re.compile(r"layer-\d+-(?P<layer>.+)-weight-\d+\.npy")


@pytest.fixture(scope="module")
def weights(seed_dir: Path) -> dict[str, np.ndarray]:
    files = sorted((seed_dir / "weights_npy").glob("*.npy"))
    assert files, "no .npy files in the seed's weights_npy folder"
    arrays = {f.name: np.load(f) for f in files}
    for name, w in arrays.items():
        assert w.dtype == np.float32, name
        assert np.isfinite(w).all(), name
    return arrays


@pytest.fixture(scope="module")
def flat(weights: dict[str, np.ndarray]) -> np.ndarray:
    """Every weight, file after file, each in C order."""
    return np.concatenate([w.reshape(-1) for w in weights.values()])


_VALUES: dict[str, list[Fraction]] = {}


def values_of(flat: np.ndarray, mode: str) -> list[Fraction]:
    if mode not in _VALUES:
        _VALUES[mode] = corpora.seed_values(flat, mode)
    return _VALUES[mode]


def per_file_runner(weights, flat, p, mode, dtype):
    """run(None): approximate on each array in its own shape, results concatenated."""

    def run(idx):
        if idx is not None:
            return fastfrac.approximate(flat[idx], p, mode=mode, dtype=dtype)
        nums, dens = [], []
        for name, w in weights.items():
            num, den = fastfrac.approximate(w, p, mode=mode, dtype=dtype)
            assert num.shape == den.shape == w.shape, name
            nums.append(num.reshape(-1))
            dens.append(den.reshape(-1))
        return fastfrac.Fractions(np.concatenate(nums), np.concatenate(dens))

    return run


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p", range(7))
def test_seed_weights_match_fraction(weights, flat, p, mode):
    values = values_of(flat, mode)
    b64 = corpora.seed_bounds(flat, p, np.int64)
    b32 = corpora.clamp_bounds(b64, np.int32)
    e64 = corpora.limit_all(values, b64)
    e32 = corpora.limit_all(values, b32, reuse=(b64, e64))
    for dtype, bounds, expected in ((np.int32, b32, e32), (np.int64, b64, e64)):
        n = corpora.check_kernel(
            per_file_runner(weights, flat, p, mode, dtype), flat, expected, dtype,
            bounds=bounds, what=f"seed weights p={p} {mode} {np.dtype(dtype).name}",
        )
        assert n == flat.size


def test_seed_weights_reference_at_the_seeds_precisions(weights):
    """fastfrac.reference and the kernel agree on every array at the seed's own p (2 for BN)."""
    for name, w in weights.items():
        layer = NAME.fullmatch(name).group("layer")
        p = SEED_P.get(layer, 2)
        ref = reference.approximate(w, p)
        got = fastfrac.approximate(w, p)
        assert ref.num.shape == w.shape
        np.testing.assert_array_equal(got.num, ref.num, err_msg=name)
        np.testing.assert_array_equal(got.den, ref.den, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=["int32", "int64"])
def test_seed_weights_explicit_bounds_equal_approximate(weights, mode, dtype):
    """limit_denominator(w, max_denominator(w, p)) is approximate(w, p), array by array."""
    for p in range(7):
        for name, w in weights.items():
            bounds = fastfrac.max_denominator(w, p, dtype=dtype)
            assert bounds.shape == w.shape
            a = fastfrac.approximate(w, p, mode=mode, dtype=dtype)
            b = fastfrac.limit_denominator(w, bounds, mode=mode, dtype=dtype)
            np.testing.assert_array_equal(a.num, b.num, err_msg=f"{name} p={p}")
            np.testing.assert_array_equal(a.den, b.den, err_msg=f"{name} p={p}")
