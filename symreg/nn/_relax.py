"""`Relax`: f_α = Qf + α (f − Qf), with a fixed or learnable α, as an NNX module (layer 7)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from symreg.actions import Symmetry
from symreg.nn._symmetrize import Symmetrize


def _check_alpha(alpha: Any) -> Any:
    """A float in [0, 1] (fixed), or an `nnx.Param` holding a scalar (learnable)."""
    if isinstance(alpha, nnx.Param):
        value = alpha.get_value()
        if jnp.ndim(value) != 0 or not jnp.issubdtype(jnp.result_type(value), jnp.floating):
            raise ValueError(
                f"alpha as an nnx.Param must hold a floating scalar, got {jnp.result_type(value)}"
                f"{list(jnp.shape(value))}"
            )
        _check_unit(float(value), "alpha (initial value)")
        return alpha
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"alpha must be a number in [0, 1] (fixed) or an nnx.Param scalar (learnable), got "
            f"{alpha!r:.80} of type {type(alpha).__name__}"
        )
    return _check_unit(float(alpha), "alpha")


def _check_unit(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


class Relax(nnx.Module):
    """Post-hoc relaxation f_α = Qf + α (f − Qf) of a module f, α fixed or learnable.

    Exactly equivariant: the part Qf (`Symmetrize`, the Reynolds average). Relaxed: the
    residual f − Qf, scaled by α. ED₂ mapping: since Qf is exactly equivariant and the actions
    are linear, the defect of f_α at every (g, x) is α times the defect of f, so
    ED₂(f_α) = α²·ED₂(f) exactly for a finite group enumerated (`num_samples=None`). With
    a sampled set E, Qf is exactly equivariant only under the h with E·h = E (see
    `Symmetrize`): the law holds pair by pair for those h, and elsewhere the sampled Qf's
    own defect adds (1 − α) times it to each pair's defect. To reach a target ε, take
    α = min(1, √(ε / ED₂(f))) (`symreg.tuning.relax_to_target`). α = 0 gives Qf, α = 1 gives f.

    A fixed α is a Python float (static: changing it builds a new layer). A learnable α is an
    `nnx.Param` scalar, trained with the other parameters; training may move it outside
    [0, 1] (the identity ED₂(f_α) = α²·ED₂(f) holds for every real α).

    Args:
      module: the module f (an `nnx.Module` or any callable on a batch).
      symmetry: the `symreg.Symmetry`.
      alpha: a number in [0, 1] (fixed), or an `nnx.Param` holding a floating scalar in
        [0, 1] at construction (learnable).
      num_samples: as in `Symmetrize`: None enumerates a finite group.
      key: as in `Symmetrize`: a PRNG key for the sampled elements.

    Raises:
      TypeError: `alpha` is neither a number nor an `nnx.Param`; the cases of `Symmetrize`.
      ValueError: `alpha` (or a learnable α's initial value) outside [0, 1] or NaN, or a
        learnable α that is not a floating scalar; the cases of `Symmetrize`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> from symreg.nn import Relax
      >>> sym = symreg.Symmetry(Symmetric(2), Permutation())
      >>> first = lambda x: x[:, 0]
      >>> Relax(first, sym, 0.5)(jnp.array([[1.0, 3.0]])).tolist()   # 2 + 0.5 * (1 - 2)
      [1.5]
      >>> learnable = Relax(first, sym, nnx.Param(jnp.float32(0.25)))
      >>> float(learnable.alpha.get_value())
      0.25
    """

    def __init__(
        self,
        module: Any,
        symmetry: Symmetry,
        alpha: float | nnx.Param,
        *,
        num_samples: int | None = None,
        key: jax.Array | None = None,
    ):
        self.alpha = _check_alpha(alpha)
        self.symmetrized = Symmetrize(module, symmetry, num_samples, key=key)

    @property
    def module(self) -> Any:
        """The relaxed module f."""
        return self.symmetrized.module

    def alpha_value(self) -> jax.Array:
        """α as an array (the parameter's value when learnable)."""
        a = self.alpha
        return a.get_value() if isinstance(a, nnx.Param) else jnp.asarray(a)

    def __call__(self, x: Any) -> Any:
        q = self.symmetrized(x)
        f = self.module(x)
        alpha = self.alpha_value()
        return jax.tree.map(lambda a, b: a + alpha.astype(a.dtype) * (b - a), q, f)
