"""The pure cores of the three kernels: traced code shared by the fronts and the penalty.

A core takes resolved arguments (a metric callable, `chunk_size` an int or None), checks
nothing, never jits and emits no debug check: the fronts in `_kernels` validate and debug,
`symreg.regularizers.SymmetryPenalty` reduces (docs/architecture.md, "One error evaluation").
Each core runs eagerly or under the caller's `jax.jit`, `jax.grad` and `jax.vmap`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from symreg.actions import Symmetry
from symreg.equivariance._lie import tangents
from symreg.equivariance._metrics import squared_l2
from symreg.equivariance._pairs import pair_errors
from symreg.groups import sample_pairs


def _batch(x: Any) -> int:
    return jax.tree.leaves(x)[0].shape[0]


def sampled_elements(
    symmetry: Symmetry,
    key: jax.Array,
    num_samples: int,
    batch_size: int,
    *,
    shared: bool = False,
    sampling: str = "iid",
) -> Any:
    """The group elements that `sampled_errors` draws from `key`.

    Args:
      symmetry: the `Symmetry`.
      key: PRNG key.
      num_samples: S.
      batch_size: B.
      shared: if True, S elements for the whole batch.
      sampling: "iid" or "stratified" (`symreg.groups.sample_pairs`).

    Returns:
      Elements with leading axes (S, B), or (S,) if `shared`.

    Examples:
      >>> import jax
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.equivariance import sampled_elements
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(4), Permutation())
      >>> sampled_elements(sym, jax.random.key(0), 3, 2).shape
      (3, 2, 4)
    """
    shape = (num_samples,) if shared else (num_samples, batch_size)
    return sample_pairs(symmetry.transforms, key, shape, sampling=sampling)


def sampled_errors(
    apply_fn: Callable[[Any, Any], Any],
    params: Any,
    x: Any,
    key: jax.Array,
    *,
    symmetry: Symmetry,
    num_samples: int,
    metric: Callable[[Any, Any], jax.Array] = squared_l2,
    shared: bool = False,
    chunk_size: int | None = None,
    sampling: str = "iid",
    fx: Any = None,
) -> jax.Array:
    """Core of `equivariance_error`: m(f(ρ_in(g) x_b), ρ_out(g) f(x_b)) for S draws g ~ λ.

    The elements are `sampled_elements(symmetry, key, S, B, ...)` (`symreg.groups.
    sample_pairs`: for `Symmetric(n)`, S + B draws instead of S·B). No argument is checked
    and nothing is jitted: `equivariance_error` is the validating front, and the penalty
    `symreg.regularizers.SymmetryPenalty` calls this core and takes the mean.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      params: model parameters.
      x: inputs with leading batch axis B.
      key: PRNG key for the group elements.
      symmetry: the `Symmetry`.
      num_samples: S >= 1.
      metric: a callable m(a, b) → scalar on one output pair (a `Metric`; default ‖a − b‖²).
      shared: if True, S elements each used for the whole batch.
      chunk_size: at most this many transformed inputs per call of `apply_fn`, or None for
        one pass.
      sampling: "iid" or "stratified".
      fx: f(x) already computed (e.g. shared with a task loss), or None to compute it in the
        same call of `apply_fn` as the transformed inputs.

    Returns:
      Errors of shape (S, B).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.equivariance import sampled_errors
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation())
      >>> total = lambda p, x: x.sum(-1)          # permutation invariant
      >>> x = jnp.ones((5, 3))
      >>> sampled_errors(total, None, x, jax.random.key(0), symmetry=sym, num_samples=2).shape
      (2, 5)
    """
    g = sampled_elements(symmetry, key, num_samples, _batch(x), shared=shared, sampling=sampling)
    return pair_errors(apply_fn, params, x, fx, g, symmetry, metric, shared, chunk_size)


def exact_errors(
    apply_fn: Callable[[Any, Any], Any],
    params: Any,
    x: Any,
    *,
    symmetry: Symmetry,
    metric: Callable[[Any, Any], jax.Array] = squared_l2,
    chunk_size: int | None = None,
    fx: Any = None,
) -> jax.Array:
    """Core of `exact_equivariance_error`: the error at every element of a finite group.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      params: model parameters.
      x: inputs with leading batch axis B.
      symmetry: a `Symmetry` whose transforms is a finite group (not checked here).
      metric: a callable m(a, b) → scalar on one output pair (default ‖a − b‖²).
      chunk_size: at most this many transformed inputs per call of `apply_fn`, or None.
      fx: f(x) already computed, or None.

    Returns:
      Errors of shape (G, B), rows in the order of `symmetry.transforms.elements()`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.equivariance import exact_errors
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(2), Permutation())
      >>> exact_errors(lambda p, x: x[:, 0], None, jnp.array([[1.0, 3.0]]), symmetry=sym).tolist()
      [[0.0], [4.0]]
    """
    elements = symmetry.transforms.elements()
    return pair_errors(apply_fn, params, x, fx, elements, symmetry, metric, True, chunk_size)


def lie_errors(
    apply_fn: Callable[[Any, Any], Any],
    params: Any,
    x: Any,
    *,
    symmetry: Symmetry,
    metric: Callable[[Any, Any], jax.Array] = squared_l2,
) -> tuple[Any, jax.Array]:
    """Core of `lie_derivative_error`: f(x) and m(L_A f(x_b), 0) for each generator A.

    f(x) is the primal of the jvps (one clean forward), returned so that a caller that also
    needs f(x) (the penalty with a task loss) does not run it again.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      params: model parameters.
      x: floating inputs with leading batch axis B.
      symmetry: a `Symmetry` over a Lie group (not checked here).
      metric: a callable m(a, b) → scalar (default ‖a − b‖², giving ‖L_A f(x_b)‖²).

    Returns:
      (fx, errors): f(x) with leading axis B, errors of shape (k, B), k generators.

    Examples:
      >>> import jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Vector
      >>> from symreg.equivariance import lie_errors
      >>> from symreg.groups import SO2
      >>> sym = symreg.Symmetry(SO2(), Vector())
      >>> fx, errors = lie_errors(lambda p, x: x[:, 0], None, jnp.array([[1.0, 2.0]]), symmetry=sym)
      >>> fx.tolist(), errors.tolist()
      ([1.0], [[4.0]])
    """
    fx, d = tangents(apply_fn, params, x, symmetry)  # d: leading axes (k, B)
    zero = jax.tree.map(jnp.zeros_like, d)
    return fx, jax.vmap(jax.vmap(metric))(d, zero)
