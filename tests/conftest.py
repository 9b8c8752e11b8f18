"""Shared pytest configuration for the symreg test suite.

Tests use fixed JAX keys (never global NumPy randomness) and float32 unless a test opts into
float64 with `jax.enable_x64(True)` used as a context manager. Statistical assertions are
written in standard errors; each test module names its tolerances at the top.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest


@pytest.fixture
def key() -> jax.Array:
    """A fixed PRNG key; split it, never reuse it for two draws."""
    return jax.random.key(0)


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed, for test data only (never in library code)."""
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def fast_compile():
    """Compiles with most XLA optimizations off for the duration of a test module.

    Property and oracle tests compile many small programs once each, so compilation, not
    execution, dominates their cost; skipping XLA's optimization passes cuts it by about a
    third. Results are unchanged up to float rounding. Opt in per module with
    `pytestmark = pytest.mark.usefixtures("fast_compile")`.
    """
    previous = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)
