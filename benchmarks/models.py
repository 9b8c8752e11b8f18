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


# --- an O(3)-equivariant e3nn-jax model (appended for bench_peers) ---------------------------

E3NN_IRREPS = "8x0e + 4x1o + 2x2e"  # dim 30: the input and output irreps
E3NN_LAYERS = 2


def _e3nn_module(irreps=E3NN_IRREPS, layers=E3NN_LAYERS):
    import e3nn_jax as e3nn
    import flax.linen as nn

    irreps = e3nn.Irreps(irreps)
    gated = irreps.filter(drop="0e")
    gates = f"{gated.num_irreps}x0e"

    class Block(nn.Module):
        """Linear to scalars + gates + non-scalars, gate, tensor square, linear back."""

        @nn.compact
        def __call__(self, x):
            h = e3nn.flax.Linear(irreps.filter(keep="0e") + gates + gated)(x)
            h = e3nn.gate(h)
            return x + e3nn.flax.Linear(irreps)(e3nn.tensor_square(h))

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(layers):
                x = Block()(x)
            return x

    return Model(), irreps


def e3nn_model(key, batch=1, irreps=E3NN_IRREPS, layers=E3NN_LAYERS):
    """An O(3)-equivariant e3nn-jax Flax model: `layers` blocks of Linear, gate, tensor square.

    Returns:
      (apply_fn, params, irreps_fn, symmetry): `apply_fn(params, x)` maps plain arrays
      (B, irreps.dim) -> (B, irreps.dim) for symreg; `irreps_fn(params, x)` maps an
      `e3nn.IrrepsArray` to an `e3nn.IrrepsArray` for `e3nn_jax.utils.equivariance_test`;
      `symmetry` is O(3) acting by `symreg.actions.Irreps` on inputs and outputs.
    """
    import e3nn_jax as e3nn

    from symreg.actions import Irreps
    from symreg.groups import O3

    module, irreps = _e3nn_module(irreps, layers)
    x0 = e3nn.normal(irreps, key, (batch,))
    params = jax.jit(module.init)(key, x0)
    irreps_fn = lambda p, x: module.apply(p, x)
    apply_fn = lambda p, x: module.apply(p, e3nn.IrrepsArray(irreps, x)).array
    symmetry = symreg.Symmetry(O3(), Irreps(irreps), Irreps(irreps))
    return apply_fn, params, irreps_fn, symmetry
