"""Lie derivatives L_A f(x) for every generator A, sharing one primal forward (layer 3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from symreg import _checks, _validation
from symreg.actions import Symmetry


def lie_derivatives(
    apply_fn: Callable[[Any, Any], Any], params: Any, x: Any, symmetry: Symmetry
) -> tuple[Any, Any]:
    """f(x) and L_A f(x) = d/dt|₀ ρ_out(e^{tA})⁻¹ f(ρ_in(e^{tA}) x) for each generator A.

    The input tangent d/dt ρ_in(e^{tA}) x is pushed through `apply_fn` at the untouched x
    (one `jax.jvp` per generator, vmapped over the tangents only, so the primal forward runs
    once and f(x) is exact), then the tangent of ρ_out(e^{tA})⁻¹ applied to f(x) is added.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      params: model parameters.
      x: inputs with leading batch axis B (floating).
      symmetry: a `Symmetry` whose base group is a Lie group.

    Returns:
      (fx, d): fx = apply_fn(params, x) with leading axis B, and d with leading axes (k, B),
      k = the number of generators.

    Raises:
      TypeError: `apply_fn` is not callable, `symmetry` is not a `Symmetry`, the group has no
        generators, or `x` is not floating.
      ValueError: `x` or f(x) does not fit the actions.

    Examples:
      >>> import jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Vector
      >>> from symreg.equivariance import lie_derivatives
      >>> from symreg.groups import SO2
      >>> sym = symreg.Symmetry(SO2(), Vector())
      >>> fx, d = lie_derivatives(lambda p, x: x[:, 0], None, jnp.array([[1.0, 2.0]]), sym)
      >>> fx.tolist(), d.tolist()   # d/dt (R(t) x)_0 = -x_1
      ([1.0], [[-2.0]])
    """
    _checks.check_spec(apply_fn, symmetry)
    _checks.require_lie(symmetry, "lie_derivatives")
    b = _checks.check_input(x, symmetry)
    _validation.check_floating(x, "x")
    _checks.check_output(jax.eval_shape(apply_fn, params, x), b, symmetry)
    return tangents(apply_fn, params, x, symmetry)


def tangents(apply_fn, params, x, symmetry):
    """The traced part of `lie_derivatives` (no checks), shared with the core `lie_errors`."""
    group = symmetry.group
    k = group.num_generators
    c0 = jnp.zeros((k,), jnp.float32)
    basis = jnp.eye(k, dtype=jnp.float32)
    act_in = lambda c: jax.vmap(lambda xb: symmetry.act_input(group.exp(c), xb))(x)
    act_out = lambda c, y: jax.vmap(lambda yb: symmetry.act_output_inverse(group.exp(c), yb))(y)

    def push_input(v):
        dx = jax.jvp(act_in, (c0,), (v,))[1]
        return jax.jvp(lambda xx: apply_fn(params, xx), (x,), (dx,))

    fx, dfx = jax.vmap(push_input, out_axes=(None, 0))(basis)
    pull_output = lambda v, df: jax.jvp(act_out, (c0, fx), (v, df))[1]
    return fx, jax.vmap(pull_output)(basis, dfx)
