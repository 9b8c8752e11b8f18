"""`LinenRelaxedGroupConv`: the same relaxed group convolution as a linen module."""

from __future__ import annotations

from typing import Any

import flax.linen as linen
import jax
import jax.numpy as jnp

from symreg.actions import Symmetry
from symreg.groups import AbstractGroup
from symreg.nn._conv import (
    ConvSpec,
    base_responses,
    check_input,
    init_coefficients,
    init_kernels,
    mix,
    relaxation_bound_of,
    relaxation_of,
)


class LinenRelaxedGroupConv(linen.Module):
    """The relaxed group convolution of `RelaxedGroupConv`, as a linen module.

    The same maths and the same parameters ("kernels" (L, K, K, [G,] C_in, C_out),
    "coefficients" (G, L), "bias" (C_out,)); C_in is read from the input. Exactly
    equivariant at zero relaxation (the initialization); ED₂ is a quadratic form in the
    coefficients' deviations from their mean over h, below 2·M·`relaxation` (see
    `RelaxedGroupConv`). For an exact penalty, pass `model.apply` and the variables to
    `symreg.exact_equivariance_error` with `symmetry_of(...)`.

    Attributes:
      out_features: C_out.
      group: Cyclic(4) or Dihedral(4) (also n = 1, 2) for images; Cyclic(n) for sequences.
      domain: "image" (default) or "sequence".
      lifting: images only: the input is an image rather than a group feature map.
      kernel_size: K, odd (default 3).
      num_bases: L (default 2).
      param_dtype: the parameters' dtype (default float32).

    Raises:
      TypeError, ValueError: as `RelaxedGroupConv`, when the module is first called.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.groups import Cyclic
      >>> from symreg.nn import LinenRelaxedGroupConv
      >>> conv = LinenRelaxedGroupConv(2, group=Cyclic(4), lifting=True)
      >>> variables = conv.init(jax.random.key(0), jnp.ones((1, 5, 5, 3)))
      >>> conv.apply(variables, jnp.ones((2, 5, 5, 3))).shape
      (2, 5, 5, 4, 2)
      >>> float(conv.apply(variables, method=conv.relaxation))
      0.0
    """

    out_features: int
    group: AbstractGroup
    domain: str = "image"
    lifting: bool = False
    kernel_size: int = 3
    num_bases: int = 2
    param_dtype: Any = jnp.float32

    def spec(self, in_features: int) -> ConvSpec:
        """The static `ConvSpec` for inputs with `in_features` channels."""
        return ConvSpec(
            self.group,
            self.domain,
            bool(self.lifting),
            in_features,
            self.out_features,
            self.kernel_size,
            self.num_bases,
        )

    def symmetry_of(self, in_features: int) -> Symmetry:
        """The `Symmetry` of the layer (input and output actions)."""
        return self.spec(in_features).symmetry()

    def _params(self, spec: ConvSpec) -> tuple[jax.Array, jax.Array, jax.Array]:
        kernels = self.param("kernels", init_kernels, spec, self.param_dtype)
        coefficients = self.param(
            "coefficients", lambda _: init_coefficients(spec, self.param_dtype)
        )
        bias = self.param("bias", linen.initializers.zeros, (self.out_features,), self.param_dtype)
        return kernels, coefficients, bias

    @linen.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        spec = self.spec(x.shape[-1])
        check_input(spec, x)
        kernels, coefficients, bias = self._params(spec)
        return mix(base_responses(spec, kernels, x), coefficients, bias)

    def relaxation(self) -> jax.Array:
        """Σ_h ‖w(h) − mean_h w(h)‖² of the coefficients (call with `method=`)."""
        return relaxation_of(self.variables["params"]["coefficients"])

    def relaxation_bound(self, x: jax.Array) -> jax.Array:
        """2·M·relaxation on the batch x, an upper bound on ED₂ (call with `method=`)."""
        spec = self.spec(x.shape[-1])
        check_input(spec, x)
        params = self.variables["params"]
        y = base_responses(spec, params["kernels"], x)
        return relaxation_bound_of(y, params["coefficients"])
