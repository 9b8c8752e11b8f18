"""Direct products of groups, e.g. SO(3) × S_n for point clouds."""

from __future__ import annotations

import dataclasses
import math
from typing import final

import jax
import jax.numpy as jnp

from symreg.groups._base import (
    AbstractFiniteGroup,
    AbstractGroup,
    AbstractLieGroup,
    AbstractStratifiedSampler,
    check_index,
    checks_elements,
)
from symreg.groups._stratified import random_pairing


@dataclasses.dataclass(frozen=True, init=False)
class DirectProduct(AbstractGroup, AbstractStratifiedSampler):
    """The direct product G₁ × G₂ × ... with the product (Haar) measure.

    An element is a tuple (g₁, g₂, ...), one element of each factor; composition and inverse
    act factorwise. Constructing `DirectProduct(...)` returns a finite group (with `order`,
    `elements()`, `index`) when every factor is finite, a Lie group (with the generators of
    its continuous factors, finite factors held at the identity) when some factor is a Lie
    group, and a plain group otherwise. Act on its elements with `actions.Factorwise`, or
    with actions that know products (`actions.PointCloud`, `actions.Image` for shifts).

    Stratified sampling stratifies each factor on its own, with independent keys, so each
    pair is exactly product-distributed; the factors' sets are paired by independent random
    permutations, so that the index structure of one factor's design does not line up with
    another's. It needs every factor to have a stratified sampler. It balances what each
    factor does on its own; a model whose error depends on the factors jointly gains less.

    Args:
      *factors: two or more groups.

    Raises:
      TypeError: fewer than two factors, or a factor that is not a group.

    Examples:
      >>> from symreg.groups import Cyclic, DirectProduct, SO3, Symmetric
      >>> DirectProduct(Cyclic(2), Cyclic(3)).order
      6
      >>> DirectProduct(SO3(), Symmetric(5)).num_generators
      3
    """

    factors: tuple[AbstractGroup, ...]

    def __new__(cls, *factors):
        if cls is DirectProduct:
            if factors and all(isinstance(f, AbstractFiniteGroup) for f in factors):
                cls = _FiniteProduct
            elif any(isinstance(f, AbstractLieGroup) for f in factors):
                cls = _LieProduct
            else:
                cls = _PlainProduct
        return object.__new__(cls)

    def __init__(self, *factors):
        if len(factors) < 2:
            raise TypeError(f"DirectProduct needs at least two factors, got {len(factors)}")
        for i, f in enumerate(factors):
            if not isinstance(f, AbstractGroup):
                raise TypeError(
                    f"DirectProduct factor {i} must be a group (symreg.groups), got {f!r}; "
                    "partial sets such as RotationRange have no product structure"
                )
        object.__setattr__(self, "factors", tuple(factors))

    def __getnewargs__(self):
        return self.factors

    def __repr__(self):
        return f"DirectProduct({', '.join(map(repr, self.factors))})"

    def _sample_n(self, key, n):
        keys = jax.random.split(key, len(self.factors))
        return tuple(f._sample_n(k, n) for f, k in zip(self.factors, keys, strict=True))

    def _sample_stratified(self, key, s):
        for i, f in enumerate(self.factors):
            if not isinstance(f, AbstractStratifiedSampler):
                raise ValueError(
                    f"sampling='stratified' is not available for {self!r}: factor {i}, {f!r}, "
                    "has no stratified sampler; use sampling='iid'"
                )
        *keys, pair_key = jax.random.split(key, len(self.factors) + 1)
        parts = [f._sample_stratified(k, s) for f, k in zip(self.factors, keys, strict=True)]
        return random_pairing(pair_key, parts)

    @checks_elements("g", "h")
    def compose(self, g, h):
        return tuple(f.compose(a, b) for f, a, b in zip(self.factors, g, h, strict=True))

    @checks_elements("g")
    def inverse(self, g):
        return tuple(f.inverse(a) for f, a in zip(self.factors, g, strict=True))

    def _element_value_error(self, g):
        for i, (f, a) in enumerate(zip(self.factors, g, strict=True)):
            msg = f._element_value_error(a)
            if msg is not None:
                return f"factor {i} ({f!r}): {msg}"
        return None

    def identity(self):
        return tuple(f.identity() for f in self.factors)


@final
@dataclasses.dataclass(frozen=True, init=False, repr=False)
class _FiniteProduct(DirectProduct, AbstractFiniteGroup):
    """A direct product of finite groups; indices are row-major (first factor slowest)."""

    @property
    def order(self) -> int:
        return math.prod(f.order for f in self.factors)

    def _strides(self):
        orders = [f.order for f in self.factors]
        return [math.prod(orders[i + 1 :]) for i in range(len(orders))]

    def element_from_index(self, i):
        check_index(self, i)
        i = jnp.asarray(i, jnp.int32)
        return tuple(
            f.element_from_index((i // s) % f.order)
            for f, s in zip(self.factors, self._strides(), strict=True)
        )

    @checks_elements("g")
    def index(self, g):
        parts = [f.index(a) * s for f, a, s in zip(self.factors, g, self._strides(), strict=True)]
        return sum(parts[1:], parts[0]).astype(jnp.int32)


@final
@dataclasses.dataclass(frozen=True, init=False, repr=False)
class _LieProduct(DirectProduct, AbstractLieGroup):
    """A direct product with at least one Lie factor; generators of all Lie factors."""

    def _lie_factors(self):
        return [f for f in self.factors if isinstance(f, AbstractLieGroup)]

    @property
    def num_generators(self) -> int:
        return sum(f.num_generators for f in self._lie_factors())

    def generators(self):
        raise NotImplementedError(
            "a product's generators live in different factors; use generators() of each factor"
        )

    def exp(self, coefficients):
        c = jnp.asarray(coefficients)
        if c.shape != (self.num_generators,):
            raise ValueError(
                f"coefficients must have shape ({self.num_generators},), got {c.shape}"
            )
        out, start = [], 0
        for f in self.factors:
            if isinstance(f, AbstractLieGroup):
                out.append(f.exp(c[start : start + f.num_generators]))
                start += f.num_generators
            else:
                out.append(f.identity())
        return tuple(out)


@final
@dataclasses.dataclass(frozen=True, init=False, repr=False)
class _PlainProduct(DirectProduct):
    """A direct product of groups that are neither all finite nor Lie."""
