"""Test error and model equivariance error of trained runs, batched over (data set, run)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

import symreg
from symreg.groups import AbstractFiniteGroup

#: Finite groups up to this order are enumerated when measuring a model's error.
MAX_EXACT_ORDER = 128


def _over_runs(fn: Callable, params: Any, *per_set: Any) -> jax.Array:
    """fn(params_dr, *per_set_d) for every (d, r), sequentially (bounded memory): shape (D, R)."""

    def one_set(args):
        p, *rest = args
        return jax.lax.map(lambda q: fn(q, *rest), p)

    return jax.lax.map(one_set, (params, *per_set))


@functools.partial(jax.jit, static_argnums=0)
def test_errors(apply_fn: Callable, params: Any, x: Any, target: Any) -> jax.Array:
    """Mean squared error (1/M) Σ ‖f(x_m) − t_m‖² of every run.

    Args:
      apply_fn: the model (hashable).
      params: parameters with leading axes (D, R).
      x: test inputs, leading axes (D, M).
      target: what to compare with (f*(x) for synthetic tasks, held-out y otherwise), (D, M, ...).

    Returns:
      Errors of shape (D, R).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.experiments.evaluation import test_errors
      >>> f = lambda p, x: p * x[:, 0]
      >>> test_errors(f, jnp.array([[1.0, 2.0]]), jnp.ones((1, 3, 1)), jnp.ones((1, 3))).tolist()
      [[0.0, 1.0]]
    """

    def one(p, xd, td):
        err = jnp.square(apply_fn(p, xd) - td)
        return jnp.mean(jnp.sum(err.reshape(err.shape[0], -1), axis=-1))

    return _over_runs(one, params, x, target)


def exact_measure(symmetry: symreg.Symmetry) -> bool:
    """Whether model errors are measured by enumerating the group (finite, order <= 128)."""
    t = symmetry.transforms
    return isinstance(t, AbstractFiniteGroup) and t.order <= MAX_EXACT_ORDER


@functools.partial(jax.jit, static_argnums=0, static_argnames=("symmetry", "num_samples"))
def model_errors(
    apply_fn: Callable,
    params: Any,
    x: Any,
    key: jax.Array,
    *,
    symmetry: symreg.Symmetry,
    num_samples: int,
) -> jax.Array:
    """The model equivariance error ED_2(f) of every run on the test inputs.

    ED_2 = mean over examples and elements of ‖f(ρ_in(g)x) − ρ_out(g)f(x)‖²: exact over the
    group when `exact_measure(symmetry)`, else S = `num_samples` stratified draws per example
    (`symreg.equivariance_error`), the same key for every run (common random numbers).

    Args:
      apply_fn: the model (hashable).
      params: parameters with leading axes (D, R).
      x: test inputs, leading axes (D, M).
      key: PRNG key of the group samples.
      x_train: training inputs (D, N, ...), or None; with them, also ED_2 of every run there.
      symmetry: the `symreg.Symmetry`.
      num_samples: S for sampled groups.

    Returns:
      ED_2 of shape (D, R).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> from symreg.experiments.evaluation import model_errors
      >>> sym = symreg.Symmetry(Symmetric(2), Permutation())
      >>> f = lambda p, x: x @ p
      >>> p = jnp.array([[[1.0, 1.0], [1.0, 0.0]]])   # (D=1, R=2, 2)
      >>> x = jnp.array([[[1.0, 3.0]]])
      >>> model_errors(f, p, x, jax.random.key(0), symmetry=sym, num_samples=1).tolist()  # ½(0 + 2²)
      [[0.0, 2.0]]
    """

    def one(p, xd):
        if exact_measure(symmetry):
            err = symreg.exact_equivariance_error(apply_fn, p, xd, symmetry=symmetry)
        else:
            err = symreg.equivariance_error(
                apply_fn,
                p,
                xd,
                key,
                symmetry=symmetry,
                num_samples=num_samples,
                sampling="stratified",
            )
        return err.mean()

    return _over_runs(one, params, x)


@functools.partial(
    jax.jit,
    static_argnums=0,
    static_argnames=("symmetry", "num_samples", "q_samples", "target_fn", "classes"),
)
def measure_all(
    apply_fn: Callable,
    params: Any,
    x: Any,
    target: jax.Array,
    key: jax.Array,
    x_train: Any = None,
    target_params: Any = None,
    *,
    symmetry: symreg.Symmetry,
    num_samples: int,
    q_samples: int | None,
    target_fn: Callable | None = None,
    classes: bool = False,
) -> dict[str, jax.Array]:
    """Everything the job measures on the test set, in one compiled program.

    Args:
      apply_fn: the model (hashable).
      params: runs with leading axes (D, R); run 0 is the unregularized one.
      x: test inputs (D, M, ...); target: what to compare with (D, M, ...).
      key: PRNG key of the group samples.
      x_train: training inputs (D, N, ...), or None; with them, also ED_2 of every run there.
      symmetry: the `symreg.Symmetry`.
      num_samples: S for sampled model errors.
      q_samples: elements of the sampled Reynolds operator, or None to enumerate the group.
      target_fn: the known f* as an `apply_fn(target_params_d, x)` (synthetic tasks), for the
        oracle η₂ = ED_2(f*) on x; target_params: its parameters, leading axis D.
      classes: also return the argmax accuracy (one-hot targets).

    Returns:
      {"test": (D, R) mean squared errors, "ed": (D, R) ED_2, "q_test": (D,), "q_ed": (D,) for
      Q f̂₀ (ED_2 0 when Q is exact), "eta_true": (D,) (NaN without `target_fn`), with
      `x_train` "ed_train": (D, R), and with `classes` "accuracy": (D, R) and "q_accuracy": (D,)}.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> from symreg.experiments.evaluation import measure_all
      >>> sym = symreg.Symmetry(Symmetric(2), Permutation())
      >>> f = lambda p, x: x @ p
      >>> out = measure_all(f, jnp.array([[[1.0, 0.0]]]), jnp.array([[[1.0, 3.0]]]), jnp.array([[2.0]]),
      ...                   jax.random.key(0), symmetry=sym, num_samples=1, q_samples=None)
      >>> out["ed"].tolist(), out["q_test"].tolist()   # Q f = mean of the entries = 2
      ([[2.0]], [0.0])
    """
    k_ed, k_q, k_eta = jax.random.split(key, 3)
    errors = functools.partial(model_errors, symmetry=symmetry, num_samples=num_samples)
    out = {
        "test": test_errors(apply_fn, params, x, target),
        "ed": errors(apply_fn, params, x, k_ed),
    }
    if x_train is not None:
        out["ed_train"] = errors(apply_fn, params, x_train, k_ed)
    unreg = jax.tree.map(lambda a: a[:, :1], params)
    qf = _reynolds(apply_fn, symmetry, q_samples, k_q)
    out["q_test"] = test_errors(qf, unreg, x, target)[:, 0]
    if q_samples is None:  # an exact Q is exactly equivariant
        out["q_ed"] = jnp.zeros(target.shape[0])
    else:
        few = jax.tree.map(lambda a: a[:, : min(512, a.shape[1])], x)
        out["q_ed"] = errors(qf, unreg, few, k_ed)[:, 0]
    if target_fn is None:
        out["eta_true"] = jnp.full(target.shape[0], jnp.nan)
    else:
        tp = jax.tree.map(lambda a: a[:, None], target_params)
        out["eta_true"] = errors(target_fn, tp, x, k_eta)[:, 0]
    if classes:
        out["accuracy"] = _accuracies(apply_fn, params, x, target)
        out["q_accuracy"] = _accuracies(qf, unreg, x, target)[:, 0]
    return out


def _reynolds(apply_fn, symmetry, q_samples, key):
    """Q f: exact over the group (q_samples None) or a stratified sample of q_samples elements."""
    if q_samples is None:
        return symreg.symmetrize(apply_fn, symmetry=symmetry)
    return symreg.symmetrize(
        apply_fn, symmetry=symmetry, num_samples=q_samples, key=key, sampling="stratified"
    )


def _accuracies(apply_fn, params, x, target):
    """Argmax accuracy of every run, (D, R)."""
    one = lambda p, xd, td: jnp.mean(jnp.argmax(apply_fn(p, xd), -1) == jnp.argmax(td, -1))
    return jax.vmap(jax.vmap(one, (0, None, None)))(params, x, target)
