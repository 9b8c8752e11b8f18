"""The shared core: f on every transformed input, compared with the transformed output.

Pairs (example b, element s) are laid out example-major, (B, S) flattened to B·S, so that a
batch sharded over devices stays contiguous per device when it is flattened.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from symreg.actions import Symmetry
from symreg.equivariance._metrics import Metric


def _flatten2(tree: Any) -> Any:
    return jax.tree.map(lambda a: a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:]), tree)


def _per_pair(fn: Callable, tree: Any, g: Any, shared: bool) -> Any:
    """Applies fn(g_bs, tree_b) to every pair; the result has leading axes (B, S)."""
    if shared:  # g: (S, ...), the same elements for every example
        return jax.vmap(lambda t: jax.vmap(lambda gs: fn(gs, t))(g))(tree)
    return jax.vmap(lambda gb, t: jax.vmap(lambda gs: fn(gs, t))(gb))(g, tree)


def _to_example_major(g: Any, shared: bool) -> Any:
    return g if shared else jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), g)


def pairwise_errors(
    apply_fn: Callable,
    params: Any,
    x: Any,
    fx: Any | None,
    elements: Any,
    *,
    symmetry: Symmetry,
    metric: Metric,
    shared: bool = False,
    chunk_size: int | None = None,
) -> jax.Array:
    """Errors m(f(ρ_in(g) x_b), ρ_out(g) f(x_b)) for every (element, example) pair.

    Args:
      apply_fn: the model, apply_fn(params, x) on a batch.
      params: model parameters (any pytree).
      x: inputs, leading axis B.
      fx: apply_fn(params, x), already computed (shared with a task loss); or None to compute
        it in the same call of `apply_fn` as the transformed inputs (one forward on (S+1)·B).
      elements: group elements with leading axes (S, B), or (S,) if `shared`.
      symmetry: the `Symmetry`.
      metric: the per-example metric.
      shared: whether one element per sample is used for the whole batch.
      chunk_size: at most this many transformed inputs per call of `apply_fn`.

    Returns:
      Errors of shape (S, B).
    """
    g = _to_example_major(elements, shared)
    b = jax.tree.leaves(x)[0].shape[0]
    s = jax.tree.leaves(elements)[0].shape[0]
    if chunk_size is not None and chunk_size < s * b:
        if fx is None:
            fx = apply_fn(params, x)
        return _chunked(apply_fn, params, x, fx, g, symmetry, metric, shared, chunk_size, s, b)
    xt = _flatten2(_per_pair(symmetry.act_input, x, g, shared))
    if fx is None:  # one forward on the B clean and S·B transformed inputs together
        both = apply_fn(params, jax.tree.map(lambda a, c: jnp.concatenate([a, c]), x, xt))
        fx = jax.tree.map(lambda a: a[:b], both)
        y = jax.tree.map(lambda a: a[b:], both)
    else:
        y = apply_fn(params, xt)
    ref = _per_pair(symmetry.act_output, fx, g, shared)
    y = jax.tree.map(lambda a: a.reshape((b, s) + a.shape[1:]), y)
    return jax.vmap(jax.vmap(metric))(y, ref).T


def _chunked(apply_fn, params, x, fx, g, symmetry, metric, shared, chunk_size, s, b):
    """Example-major pairs in chunks of `chunk_size`, under `lax.map` with rematerialization."""
    pairs = s * b
    padded = math.ceil(pairs / chunk_size) * chunk_size
    pair = jnp.minimum(jnp.arange(padded), pairs - 1)  # padding repeats the last pair
    ex, el = pair // s, pair % s
    g_pair = jax.tree.map(lambda a: a[el], g) if shared else jax.tree.map(lambda a: a[ex, el], g)

    @jax.checkpoint
    def body(args):
        gc, ec = args
        xc = jax.tree.map(lambda a: a[ec], x)
        fc = jax.tree.map(lambda a: a[ec], fx)
        xt = jax.vmap(symmetry.act_input)(gc, xc)
        ref = jax.vmap(symmetry.act_output)(gc, fc)
        return jax.vmap(metric)(apply_fn(params, xt), ref)

    split = lambda a: a.reshape((padded // chunk_size, chunk_size) + a.shape[1:])
    errs = jax.lax.map(body, (jax.tree.map(split, g_pair), split(ex)))
    return errs.reshape(-1)[:pairs].reshape(b, s).T


def reynolds_average(
    apply_fn: Callable,
    params: Any,
    x: Any,
    elements: Any,
    *,
    symmetry: Symmetry,
    chunk_size: int | None = None,
) -> Any:
    """(Qf)(x) = mean over the S elements of ρ_out(g)⁻¹ f(ρ_in(g) x), for a batch x."""
    b = jax.tree.leaves(x)[0].shape[0]
    s = jax.tree.leaves(elements)[0].shape[0]
    per_chunk = s if chunk_size is None else max(1, min(s, chunk_size // b))

    def chunk_sum(gc, weight):
        xt = _flatten2(_per_pair(symmetry.act_input, x, gc, True))
        y = jax.tree.map(lambda a: a.reshape((b, -1) + a.shape[1:]), apply_fn(params, xt))
        back = jax.vmap(lambda gb, yb: jax.vmap(symmetry.act_output_inverse)(gb, yb), (None, 0))
        y = back(gc, y)
        w = weight.astype(jax.tree.leaves(y)[0].dtype)
        return jax.tree.map(lambda a: jnp.einsum("bs...,s->b...", a, w.astype(a.dtype)), y)

    if per_chunk >= s:
        total = chunk_sum(elements, jnp.ones((s,)))
    else:
        padded = math.ceil(s / per_chunk) * per_chunk
        idx = jnp.minimum(jnp.arange(padded), s - 1)
        weight = (jnp.arange(padded) < s).reshape(-1, per_chunk)
        gp = jax.tree.map(lambda a: a[idx].reshape((-1, per_chunk) + a.shape[1:]), elements)
        sums = jax.lax.map(jax.checkpoint(lambda a: chunk_sum(*a)), (gp, weight))
        total = jax.tree.map(lambda a: a.sum(0), sums)
    return jax.tree.map(lambda a: a / s, total)
