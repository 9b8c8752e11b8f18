"""`ResidualPathway`: an exactly equivariant path plus a penalized free path (layer 7)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from symreg import _validation
from symreg.actions import Symmetry
from symreg.equivariance import equivariance_error, exact_equivariance_error
from symreg.groups import AbstractFiniteGroup
from symreg.nn._symmetrize import as_apply, check_symmetry
from symreg.testing import assert_equivariant


def _shapes(tree: Any) -> Any:
    return jax.tree.map(lambda a: tuple(jnp.shape(a)), tree)


def check_same_structure(reference: Any, other: Any, name: str, what: str) -> None:
    """Raises `ValueError` naming `name` if `other`'s pytree structure or shapes differ."""
    same_tree = jax.tree.structure(reference) == jax.tree.structure(other)
    if not same_tree or _shapes(reference) != _shapes(other):
        raise ValueError(
            f"{name}: its output must have the structure and shapes of {what}'s output, got "
            f"{_shapes(other)} against {_shapes(reference)}"
        )


def free_path_penalty(
    free: Any,
    x: Any,
    key: jax.Array | None = None,
    *,
    symmetry: Symmetry,
    num_samples: int | None = None,
) -> jax.Array:
    """ED₂ of a free path's output on a batch: the regularizer of a `ResidualPathway`.

    Returns the mean over the batch x and over group elements g of
    ‖free(ρ_in(g) x) − ρ_out(g) free(x)‖²: every element of a finite group when
    `num_samples` is None (exact in g), else `num_samples` elements drawn from `key` per
    example (an unbiased estimate, and so is its gradient).

    Args:
      free: the free path (an `nnx.Module` or any callable on a batch).
      x: a batch of inputs, leading axis B.
      key: a PRNG key (required with `num_samples`).
      symmetry: the `symreg.Symmetry`.
      num_samples: S elements per example, or None to enumerate a finite group.

    Returns:
      A scalar: the batch estimate of ED₂(free), differentiable in the free path's variables.

    Raises:
      TypeError: `symmetry` is not a Symmetry; `key` not a key.
      ValueError: `num_samples` None for a set that is not a finite group, or without `key`;
        x or the output that does not fit the actions.

    Examples:
      >>> import jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> from symreg.nn import free_path_penalty
      >>> sym = symreg.Symmetry(Symmetric(2), Permutation())
      >>> float(free_path_penalty(lambda x: x[:, 0], jnp.array([[1.0, 3.0]]), symmetry=sym))
      2.0
    """
    symmetry = check_symmetry(symmetry)
    apply_fn, params = as_apply(free)
    if num_samples is None:
        if not isinstance(symmetry.transforms, AbstractFiniteGroup):
            raise ValueError(
                f"num_samples is None, which enumerates a finite group, but "
                f"symmetry.transforms is {symmetry.transforms!r}; pass num_samples and key"
            )
        return jnp.mean(exact_equivariance_error(apply_fn, params, x, symmetry=symmetry))
    num_samples = _validation.positive_int(num_samples, "num_samples")
    if key is None:
        raise ValueError("key is required with num_samples: it draws the group elements")
    errors = equivariance_error(
        apply_fn, params, x, key, symmetry=symmetry, num_samples=num_samples
    )
    return jnp.mean(errors)


class ResidualPathway(nnx.Module):
    """equivariant(x) + free(x): an equivariant layer with a penalized free path beside it.

    In the style of residual pathway priors (Finzi, Benton & Wilson, NeurIPS 2021): the
    free path can fit what the symmetry misses, and a penalty keeps it small.

    Exactly equivariant: the `equivariant` path (any module that
    `symreg.testing.assert_equivariant` accepts under `symmetry`, e.g. a DeepSets block or an
    e3nn-jax layer; `check_equivariant` runs that test). Relaxed: the `free` path, which may
    be any module with the same output shapes. ED₂ mapping: the actions are linear, so the
    defect of the sum at every (g, x) is the free path's defect, and
    ED₂(equivariant + free) = ED₂(free) exactly. `penalty(x, key)` returns ED₂(free) estimated
    on the batch x (exact in g for a finite group), in the units of every ED₂ in symreg, so
    the penalty weight β and the target ε of `symreg.tuning` apply to it unchanged: minimize
    task loss + β·`penalty`, or constrain `penalty` <= ε.

    Args:
      equivariant: the equivariant path, called as `equivariant(x)` on a batch.
      free: the free path, called as `free(x)`; its output must match the equivariant
        path's in pytree structure and shapes.
      symmetry: the `symreg.Symmetry` of the layer (input and output actions).

    Raises:
      TypeError: a path is not callable or `symmetry` is not a Symmetry.
      ValueError: at call time, the free path's output differs in structure or shape from
        the equivariant path's (the message names `free`).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> from symreg.nn import ResidualPathway
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation())
      >>> layer = ResidualPathway(lambda x: x.sum(-1), nnx.Linear(3, 1, rngs=nnx.Rngs(0)),
      ...                         symmetry=sym)
      >>> layer(jnp.ones((2, 3))).shape
      Traceback (most recent call last):
      ...
      ValueError: free: its output must have the structure and shapes of the equivariant path's output, got (2, 1) against (2,)
      >>> layer = ResidualPathway(lambda x: x.sum(-1, keepdims=True),
      ...                         nnx.Linear(3, 1, rngs=nnx.Rngs(0)), symmetry=sym)
      >>> x = jax.random.normal(jax.random.key(0), (8, 3))
      >>> layer(x).shape, layer.penalty(x).shape
      ((8, 1), ())
    """

    def __init__(self, equivariant: Any, free: Any, *, symmetry: Symmetry):
        _validation.check_callable(equivariant, "equivariant")
        _validation.check_callable(free, "free")
        self.equivariant = equivariant
        self.free = free
        self.symmetry = check_symmetry(symmetry)

    def __call__(self, x: Any) -> Any:
        y_eq = self.equivariant(x)
        y_free = self.free(x)
        check_same_structure(y_eq, y_free, "free", "the equivariant path")
        return jax.tree.map(jnp.add, y_eq, y_free)

    def penalty(
        self, x: Any, key: jax.Array | None = None, *, num_samples: int | None = None
    ) -> jax.Array:
        """ED₂ of the free path on the batch x (see `free_path_penalty`); a scalar."""
        return free_path_penalty(self.free, x, key, symmetry=self.symmetry, num_samples=num_samples)

    def check_equivariant(self, x: Any, key: jax.Array, **kwargs: Any) -> None:
        """Runs `symreg.testing.assert_equivariant` on the equivariant path (AssertionError)."""
        assert_equivariant(self.equivariant, x, key, symmetry=self.symmetry, **kwargs)
