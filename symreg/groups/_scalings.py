"""Positive scale factors: the multiplicative group R_{>0} with a log-uniform measure."""

from __future__ import annotations

import dataclasses
import math
from typing import final

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation
from symreg.groups._base import AbstractLieGroup, checks_elements
from symreg.groups._continuous import _check_coefficients


@final
@dataclasses.dataclass(frozen=True)
class Scalings(AbstractLieGroup):
    """Scale factors s > 0 under multiplication, with λ log-uniform on [1/m, m].

    An element is a float32 scalar s > 0 (shape ()); composition is s·t, the inverse 1/s and
    the identity 1. The group is not compact, so it has no invariant probability measure:
    λ is its Haar measure ds/s restricted to [1/m, m] and normalized, i.e. log s uniform on
    [-log m, log m]. λ is symmetric under s ↦ 1/s, but a product of two draws can leave
    [1/m, m]; averages over λ are sampled averages, not a projection onto invariant
    functions. One generator: exp(c) = e^{c_0}.

    Args:
      max_scale: m > 1, the largest factor drawn (and 1/m the smallest).

    Raises:
      ValueError: `max_scale` is not a finite number > 1.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.groups import Scalings
      >>> g = Scalings(2.0)
      >>> float(g.compose(jnp.float32(2.0), g.inverse(jnp.float32(4.0))))
      0.5
      >>> s = g.sample(jax.random.key(0), (1000,))
      >>> bool(jnp.all((s >= 0.5) & (s <= 2.0)))
      True
    """

    max_scale: float = 2.0

    def __post_init__(self):
        m = _validation.positive_float(self.max_scale, "max_scale")
        if not m > 1.0:
            raise ValueError(f"max_scale must be > 1 (factors in [1/m, m]), got {m}")

    def _sample_n(self, key, n):
        log_m = math.log(float(self.max_scale))
        u = jax.random.uniform(key, (n,), _validation.float_dtype(), -log_m, log_m)
        return jnp.exp(u)

    @checks_elements("g", "h")
    def compose(self, g, h):
        return jnp.asarray(g) * jnp.asarray(h)

    @checks_elements("g")
    def inverse(self, g):
        return 1.0 / jnp.asarray(g)

    def identity(self):
        return jnp.ones((), _validation.float_dtype())

    def _element_value_error(self, g):
        g = np.asarray(g, np.float64)
        if not np.all(np.isfinite(g)):
            return "it has NaN or Inf entries"
        return None if np.all(g > 0) else f"expected a scale factor > 0, got {g}"

    @property
    def num_generators(self) -> int:
        return 1

    def generators(self):
        return jnp.ones((1,), _validation.float_dtype())

    def exp(self, coefficients):
        return jnp.exp(_check_coefficients(coefficients, 1)[0])
