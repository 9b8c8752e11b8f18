"""Group elements per example, and their actions on inputs and flat outputs (layer 4, private).

Elements are laid out per example: leading axes (N, S), S elements for each of the N
examples (all G elements of a small finite group, or S draws from λ).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation
from symreg.actions import Symmetry
from symreg.estimators._data import Layout
from symreg.groups import AbstractFiniteGroup, AbstractStratifiedSampler

#: Finite groups up to this order are enumerated (exact average over g) by default.
MAX_EXACT_ORDER = 64


def enumerable(symmetry: Symmetry, max_order: int = MAX_EXACT_ORDER) -> bool:
    """Whether the transformation set is a finite group of order <= `max_order`."""
    t = symmetry.transforms
    return isinstance(t, AbstractFiniteGroup) and t.order <= max_order


@functools.partial(jax.jit, static_argnames=("transforms", "shape", "sampling"))
def _sample(transforms: Any, key: jax.Array, shape: tuple[int, ...], sampling: str = "iid") -> Any:
    if sampling == "iid":
        return transforms.sample(key, shape)
    # stratified over S: draw (S, N) and move S behind N
    g = transforms.sample(key, (shape[1], shape[0]), sampling="stratified")
    return jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), g)


def element_grid(
    symmetry: Symmetry,
    key: jax.Array,
    n: int,
    num_samples: int | None,
    *,
    default: int,
    max_exact: int = MAX_EXACT_ORDER,
    stratified: bool = False,
) -> tuple[Any, bool]:
    """Elements with leading axes (N, S), and whether they enumerate the whole (finite) group.

    `num_samples=None` enumerates a finite group of order <= `max_exact` (S = G, the same
    elements for every example) and otherwise draws S = `default` elements per example from
    λ; an int S always draws S per example. The S elements of an example are i.i.d., or with
    `stratified` (for a set with a stratified sampler, `symreg.groups.AbstractStratifiedSampler`)
    one well-spread set: each element still λ-distributed, so a mean over them of a function
    of one element stays unbiased, with less variance.
    """
    num_samples = _validation.optional_positive_int(num_samples, "num_samples")
    if num_samples is None and enumerable(symmetry, max_exact):
        elements = symmetry.transforms.elements()
        grid = jax.tree.map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), elements)
        return grid, True
    s = default if num_samples is None else num_samples
    spread = stratified and isinstance(symmetry.transforms, AbstractStratifiedSampler)
    return _sample(symmetry.transforms, key, (n, s), "stratified" if spread else "iid"), False


@functools.partial(jax.jit, static_argnames=("symmetry",))
def transform_inputs(x: Any, g: Any, *, symmetry: Symmetry) -> Any:
    """ρ_in(g_is) x_i for every (example i, element s): leading axis N·S, example-major."""
    xt = jax.vmap(lambda gi, xi: jax.vmap(lambda gs: symmetry.act_input(gs, xi))(gi))(g, x)
    return jax.tree.map(lambda a: a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:]), xt)


@functools.partial(jax.jit, static_argnames=("symmetry", "layout"))
def transform_flat_inputs(x: Any, g: Any, *, symmetry: Symmetry, layout: Layout) -> jax.Array:
    """Flat transformed inputs, shape (N, S, D)."""
    n, s = jax.tree.leaves(g)[0].shape[:2]
    flat = layout.ravel(transform_inputs(x, g, symmetry=symmetry))
    return flat.reshape(n, s, -1)


@functools.partial(jax.jit, static_argnames=("symmetry", "layout", "inverse"))
def act_outputs(g: Any, v: jax.Array, *, symmetry: Symmetry, layout: Layout, inverse: bool):
    """ρ_out(g_is)^{±1} applied to flat outputs v of shape (F, N, S, D) (F models).

    The element's representation is built once per (i, s) and applied to the F models' rows.
    """
    act = symmetry.act_output_inverse if inverse else symmetry.act_output

    def one(gis, rows):  # rows: (F, D)
        return jax.vmap(lambda r: layout.ravel(act(gis, layout.unravel(r))))(rows)

    out = jax.vmap(jax.vmap(one))(g, jnp.moveaxis(v, 0, 2))
    return jnp.moveaxis(out, 2, 0)


def defects(g: Any, f_x: jax.Array, f_gx: jax.Array, *, symmetry: Symmetry, layout: Layout):
    """Defects f(ρ_in(g)x) − ρ_out(g) f(x) of F models: f_x (F, N, D), f_gx (F, N, S, D)."""
    s = f_gx.shape[2]
    ref = jnp.broadcast_to(f_x[:, :, None, :], f_x.shape[:2] + (s, f_x.shape[-1]))
    return f_gx - act_outputs(g, ref, symmetry=symmetry, layout=layout, inverse=False)


def check_predictions(out: Any, layout: Layout, lead: tuple[int, ...]) -> None:
    """Raises `ValueError` unless a fitted regressor's predictions on a batch fit y's layout."""
    leaves, treedef = jax.tree.flatten(out)
    shapes = [tuple(getattr(a, "shape", ())) for a in leaves]
    want = [lead + s for s in layout.shapes]
    if treedef != layout.treedef or shapes != want:
        raise ValueError(
            "regressor.fit(x, y, key) must return predict(x_batch) with outputs shaped like y "
            f"(one row per example): expected leaves of shapes {want}, got {shapes}"
        )


def predict_orbits(predictors: list, x: Any, g: Any, *, symmetry: Symmetry, layout: Layout):
    """Flat predictions of F models on x and on every ρ_in(g_is) x_i.

    Returns:
      f_x of shape (F, N, D) and f_gx of shape (F, N, S, D), D = `layout.size`.
    """
    n, s = jax.tree.leaves(g)[0].shape[:2]
    xt = transform_inputs(x, g, symmetry=symmetry)

    def flat(out, lead):  # stacked on the host: no compiles
        check_predictions(out, layout, lead)
        return np.asarray(layout.ravel(out))

    f_x = np.stack([flat(p(x), (n,)) for p in predictors])
    f_gx = np.stack([flat(p(xt), (n * s,)) for p in predictors])
    return f_x, f_gx.reshape(len(predictors), n, s, -1)


def flat_orbits(x: Any, y: Any, g: Any, *, symmetry: Symmetry):
    """Flat data and images: xf (N, Dx), yf (N, Dy), ρ_in(g)x (N, S, Dx), ρ_out(g)y (N, S, Dy)."""
    x_layout, y_layout = Layout.of_batch(x), Layout.of_batch(y)
    xf, yf = x_layout.ravel(x), y_layout.ravel(y)
    q = transform_flat_inputs(x, g, symmetry=symmetry, layout=x_layout)
    s = q.shape[1]
    y_rep = jnp.broadcast_to(yf[None, :, None, :], (1, yf.shape[0], s, yf.shape[1]))
    z = act_outputs(g, y_rep, symmetry=symmetry, layout=y_layout, inverse=False)[0]
    return xf, yf, q, z
