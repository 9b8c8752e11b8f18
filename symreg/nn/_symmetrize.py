"""`Symmetrize`: the Reynolds average Qf of any module, as an NNX module (layer 7)."""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from symreg import _validation
from symreg.actions import Symmetry
from symreg.equivariance import reynolds_average
from symreg.flax import nnx_functional
from symreg.groups import AbstractFiniteGroup, AbstractStratifiedSampler


class GroupElements(nnx.Variable):
    """The sampled group elements of a `Symmetrize` layer: state, but never trained.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.nn import GroupElements
      >>> GroupElements(jnp.arange(3)).get_value().tolist()
      [0, 1, 2]
    """


def check_symmetry(symmetry: Any, name: str = "symmetry") -> Symmetry:
    """Returns `symmetry` if it is a `symreg.Symmetry`, else raises `TypeError`."""
    if not isinstance(symmetry, Symmetry):
        raise TypeError(
            f"{name} must be a symreg.Symmetry(transforms, act_in, act_out), got "
            f"{symmetry!r:.80} of type {type(symmetry).__name__}"
        )
    return symmetry


def as_apply(module: Any) -> tuple[Any, Any]:
    """(apply_fn, params) for the kernels: an NNX module split into a pure function and its
    state (changes a call makes to the state are dropped), any other callable closed over."""
    if isinstance(module, nnx.Module):
        return nnx_functional(module)
    return (lambda _, x: module(x)), None


def _draw(symmetry: Symmetry, num_samples: Any, key: Any) -> GroupElements | None:
    """None to enumerate a finite group, else S elements drawn once (stratified if possible)."""
    t = symmetry.transforms
    if num_samples is None:
        if not isinstance(t, AbstractFiniteGroup):
            raise ValueError(
                f"num_samples is None, which enumerates a finite group, but symmetry.transforms "
                f"is {t!r}; pass num_samples (and key) to average over sampled elements"
            )
        return None
    s = _validation.positive_int(num_samples, "num_samples")
    if key is None:
        raise ValueError("key is required with num_samples: it draws the group elements")
    _validation.check_key(key)
    sampling = "stratified" if isinstance(t, AbstractStratifiedSampler) else "iid"
    return GroupElements(t.sample(key, (s,), sampling=sampling))


class Symmetrize(nnx.Module):
    """The Reynolds average (Qf)(x) = E_g ρ_out(g)⁻¹ f(ρ_in(g) x) of a module f.

    Exactly equivariant: for a finite group with `num_samples=None`, Qf averages over every
    element, so Qf is exactly equivariant (ED₂(Qf) = 0 up to rounding). Relaxed: nothing.
    Sampled: for any other set, S = `num_samples` elements are drawn once from `key` and
    stored (as `GroupElements` state, never trained); they form a stratified set where the
    set has a stratified sampler (`symreg.groups.AbstractStratifiedSampler`), e.g. S equally
    spaced rotations at a random offset for SO(2). The average over a set E is exactly
    equivariant under the elements h with E·h = E, as re-indexing the mean shows (for that
    SO(2) set, the rotations by multiples of 2π/S; for independent draws, in general only
    the identity); its remaining ED₂ falls as S grows (for SO(2) and a linear f, any S >= 3
    equally spaced angles already give ED₂ = 0). With Haar λ, a
    λ-invariant input law and orthogonal ρ_out, the exact Q is the orthogonal projection on
    equivariant functions and ED₂(f) = 2‖f − Qf‖² (docs/architecture.md, "The mathematics").

    Cost: one call of f on the B·S transformed inputs (S = |G| when enumerating). An NNX
    module is called as a pure function of its state (`symreg.flax.nnx_functional`): what
    the call would change in its state (BatchNorm statistics in training mode, sown values)
    is dropped, and BatchNorm in training mode normalizes by the statistics of the B·S
    transformed batch.

    Args:
      module: the module f, called as `module(x)` on a batch (an `nnx.Module` or any
        callable).
      symmetry: the `symreg.Symmetry` (transforms, input and output actions).
      num_samples: S, the number of sampled elements; None enumerates a finite group.
      key: a PRNG key for the sampled elements (required with `num_samples`).

    Raises:
      TypeError: `module` is not callable, `symmetry` is not a Symmetry, `key` not a key.
      ValueError: `num_samples` None for a set that is not a finite group, `num_samples`
        < 1, or `num_samples` without `key`; at call time, x or f(x) that does not fit the
        actions.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> from symreg.nn import Symmetrize
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation())
      >>> q = Symmetrize(nnx.Linear(3, 1, rngs=nnx.Rngs(0)), sym)
      >>> x = jnp.array([[1.0, 2.0, 3.0]])
      >>> bool(jnp.allclose(q(x), q(x[:, ::-1])))   # permutation invariant
      True
    """

    def __init__(
        self,
        module: Any,
        symmetry: Symmetry,
        num_samples: int | None = None,
        *,
        key: jax.Array | None = None,
    ):
        _validation.check_callable(module, "module")
        self.module = module
        self.symmetry = check_symmetry(symmetry)
        self.elements = _draw(self.symmetry, num_samples, key)

    def group_elements(self) -> Any:
        """The elements averaged over: all of a finite group's, or the S sampled ones."""
        if self.elements is None:
            return self.symmetry.transforms.elements()
        return self.elements.get_value()

    def __call__(self, x: Any) -> Any:
        apply_fn, params = as_apply(self.module)
        return reynolds_average(apply_fn, params, x, self.group_elements(), symmetry=self.symmetry)
