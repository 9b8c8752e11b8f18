"""Benchmark models and symmetry specs shared by the benchmark scripts."""

from __future__ import annotations

import jax
import jax.numpy as jnp

import symreg
from symreg.actions import Permutation, Regular
from symreg.groups import Cyclic, Symmetric

WIDTH, DEPTH, DIM = 256, 3, 64


def mlp_params(key, dim_in=DIM, width=WIDTH, depth=DEPTH, dim_out=DIM):
    """Weights of an MLP with `depth` hidden layers of `width` (He-scaled)."""
    sizes = [dim_in] + [width] * depth + [dim_out]
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        (jax.random.normal(k, (a, b)) * jnp.sqrt(2.0 / a), jnp.zeros((b,)))
        for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp(params, x):
    """ReLU MLP on the last axis; x (B, DIM) -> (B, dim_out)."""
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


SYMMETRIES = {
    # cheap sampling and action: a circular shift of the 64 coordinates, in and out
    "cyclic64": symreg.Symmetry(Cyclic(DIM), Regular(), Regular()),
    # expensive sampling: uniform permutations of the 64 coordinates, in and out
    "symmetric64": symreg.Symmetry(Symmetric(DIM), Permutation(), Permutation()),
}
