"""The shared core: f on every transformed input, compared with the transformed output.

Pairs (example b, element s) are laid out example-major, (B, S) flattened to B·S, and the fused
forward pass stacks each clean example in front of its S transformed copies, (B, S+1) flattened
to B·(S+1). So a batch sharded over devices on its leading axis stays contiguous per device at
every step, and jit's sharding propagation needs no collective but the final reduction.

Under a context mesh (`jax.set_mesh`) with an Auto axis named `SAMPLE_AXIS` ("samples"), the S
transformed copies are also split over that axis: pairs are regrouped sample-block-major,
(n, B, S/n) for an axis of size n dividing S, constrained with `with_sharding_constraint`, and
the clean forward runs apart from them (its result is replicated over "samples").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec

from symreg import _checks, _validation
from symreg._axes import SAMPLE_AXIS
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


def sample_shards(num_samples: int) -> int:
    """n, the size of the context mesh's Auto `SAMPLE_AXIS` if it divides S; else 1."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or SAMPLE_AXIS not in mesh.axis_names:
        return 1
    if mesh.axis_types[mesh.axis_names.index(SAMPLE_AXIS)] != jax.sharding.AxisType.Auto:
        return 1
    n = mesh.shape[SAMPLE_AXIS]
    return n if n > 1 and num_samples % n == 0 else 1


def _unflatten(tree: Any, lead: tuple[int, ...]) -> Any:
    return jax.tree.map(lambda a: a.reshape(lead + a.shape[1:]), tree)


def _fused_forward(apply_fn, params, x, xt, b, s):
    """f on the B clean and S·B transformed inputs in one call, example-major (B, S+1)."""
    both = jax.tree.map(lambda a, c: jnp.concatenate([a[:, None], c], axis=1), x, xt)
    out = _unflatten(apply_fn(params, _flatten2(both)), (b, s + 1))
    return jax.tree.map(lambda a: a[:, 0], out), jax.tree.map(lambda a: a[:, 1:], out)


def _sample_sharded_forward(apply_fn, params, xt, b, s, n):
    """f on the (B, S) transformed inputs, split into n sample blocks on `SAMPLE_AXIS`.

    The pairs are regrouped (n, B, S/n), so that flattening keeps each device's block of
    (examples, samples) contiguous; the result is put back in (B, S) order.
    """
    free = PartitionSpec.UNCONSTRAINED  # the other axes keep what propagation gives them
    pin = lambda a: jax.lax.with_sharding_constraint(
        a, PartitionSpec(SAMPLE_AXIS, *[free] * (a.ndim - 1))
    )

    def to_blocks(a):
        a = a.reshape((b, n, s // n) + a.shape[2:])
        return pin(jnp.swapaxes(a, 0, 1)).reshape((n * b * (s // n),) + a.shape[3:])

    def from_blocks(a):
        a = pin(a.reshape((n, b, s // n) + a.shape[1:]))
        return jnp.swapaxes(a, 0, 1).reshape((b, s) + a.shape[3:])

    y = apply_fn(params, jax.tree.map(to_blocks, xt))
    return jax.tree.map(from_blocks, y)


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
        it in the same call of `apply_fn` as the transformed inputs (one forward on (S+1)·B;
        a separate call when S is split over a "samples" mesh axis).
      elements: group elements with leading axes (S, B), or (S,) if `shared`.
      symmetry: the `Symmetry`.
      metric: the per-example metric.
      shared: whether one element per sample is used for the whole batch.
      chunk_size: at most this many transformed inputs per call of `apply_fn`.

    Returns:
      Errors of shape (S, B).

    Raises:
      TypeError, ValueError: a bad `apply_fn` or `symmetry`, `x` or `fx` that does not fit
        the actions, `elements` without the leading axes (S, B) (or (S,) if `shared`), a
        metric that does not return a scalar, or a `chunk_size` that is not an int >= 1.

    Examples:
      >>> import jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.equivariance import pairwise_errors, squared_l2
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation())
      >>> first = lambda p, x: x[:, 0]          # not permutation invariant
      >>> swap = jnp.array([[1, 0, 2]])         # one element, shared by the batch
      >>> x = jnp.array([[1.0, 2.0, 3.0]])
      >>> pairwise_errors(first, None, x, None, swap, symmetry=sym, metric=squared_l2,
      ...                 shared=True).tolist()
      [[1.0]]
    """
    _checks.check_spec(apply_fn, symmetry)
    b = _checks.check_input(x, symmetry)
    s = _num_elements(elements)
    _checks.check_elements(elements, (s,) if shared else (s, b), symmetry)
    out = jax.eval_shape(apply_fn, params, x) if fx is None else fx
    _checks.check_output(out, b, symmetry)
    _checks.check_metric(metric, out)
    chunk_size = _validation.optional_positive_int(chunk_size, "chunk_size")
    return pair_errors(apply_fn, params, x, fx, elements, symmetry, metric, shared, chunk_size)


def _num_elements(elements: Any) -> int:
    leaves = jax.tree.leaves(elements)
    return leaves[0].shape[0] if leaves and getattr(leaves[0], "ndim", 0) else 0


def pair_errors(apply_fn, params, x, fx, elements, symmetry, metric, shared, chunk_size):
    """The traced part of `pairwise_errors`, shared by the cores (docs/architecture.md, "One
    error evaluation"): no checks, `chunk_size` an int or None."""
    g = _to_example_major(elements, shared)
    b = jax.tree.leaves(x)[0].shape[0]
    s = jax.tree.leaves(elements)[0].shape[0]
    if chunk_size is not None and chunk_size < s * b:
        if fx is None:
            fx = apply_fn(params, x)
        return _chunked(apply_fn, params, x, fx, g, symmetry, metric, shared, chunk_size, s, b)
    xt = _per_pair(symmetry.act_input, x, g, shared)  # leading axes (B, S)
    n = sample_shards(s)
    if n > 1:
        fx = apply_fn(params, x) if fx is None else fx
        y = _sample_sharded_forward(apply_fn, params, xt, b, s, n)
    elif fx is None:  # one forward on the B clean and S·B transformed inputs together
        fx, y = _fused_forward(apply_fn, params, x, xt, b, s)
    else:
        y = _unflatten(apply_fn(params, _flatten2(xt)), (b, s))
    ref = _per_pair(symmetry.act_output, fx, g, shared)
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
    """(Qf)(x) = mean over the S elements of ρ_out(g)⁻¹ f(ρ_in(g) x), for a batch x.

    Args:
      apply_fn: the model, apply_fn(params, x) on a batch.
      params: model parameters.
      x: inputs, leading axis B.
      elements: group elements with leading axis S, shared by the batch.
      symmetry: the `Symmetry`.
      chunk_size: at most about this many transformed inputs per call of `apply_fn`.

    Returns:
      (Qf)(x), with the structure and leading axis B of f(x).

    Raises:
      TypeError, ValueError: a bad `apply_fn` or `symmetry`, `x` or f(x) that does not fit
        the actions, `elements` without a leading axis S, or a bad `chunk_size`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.equivariance import reynolds_average
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation())
      >>> first = lambda p, x: x[:, 0]
      >>> x = jnp.array([[1.0, 2.0, 3.0]])
      >>> reynolds_average(first, None, x, sym.transforms.elements(), symmetry=sym).tolist()
      [2.0]
    """
    _checks.check_spec(apply_fn, symmetry)
    b = _checks.check_input(x, symmetry)
    _checks.check_elements(elements, (_num_elements(elements),), symmetry)
    _checks.check_output(jax.eval_shape(apply_fn, params, x), b, symmetry)
    chunk_size = _validation.optional_positive_int(chunk_size, "chunk_size")
    return mean_over_elements(apply_fn, params, x, elements, symmetry, chunk_size)


def mean_over_elements(apply_fn, params, x, elements, symmetry, chunk_size):
    """The traced part of `reynolds_average` (no checks), shared with `symmetrize`."""
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
