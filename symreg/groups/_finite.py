"""Finite groups with the uniform (Haar) measure: Cyclic(n), Dihedral(n), Symmetric(n)."""

from __future__ import annotations

import dataclasses
import math
from typing import final

import jax
import jax.numpy as jnp

from symreg import _validation
from symreg.groups._base import (
    AbstractFiniteGroup,
    AbstractMatrixRepresentation,
    AbstractPermutationRepresentation,
)


def _rotation_2d(angle: jax.Array) -> jax.Array:
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([jnp.stack([c, -s]), jnp.stack([s, c])])


@final
@dataclasses.dataclass(frozen=True)
class Cyclic(AbstractFiniteGroup, AbstractMatrixRepresentation, AbstractPermutationRepresentation):
    """The cyclic group C_n = Z/nZ. An element is an int32 scalar k ∈ {0, ..., n-1}.

    Representations: `vector_dim` = 2, rotation of the plane by 2πk/n; as a permutation of n
    points, the circular shift by k (which is also its regular representation on R^n).

    Args:
      n: the order, >= 1.

    Raises:
      TypeError, ValueError: `n` is not an int >= 1.

    Examples:
      >>> import jax
      >>> from symreg.groups import Cyclic
      >>> g = Cyclic(4)
      >>> g.order, g.elements().tolist()
      (4, [0, 1, 2, 3])
      >>> int(g.compose(3, 2)), int(g.inverse(1))
      (1, 3)
      >>> g.sample(jax.random.key(0), (2, 3)).shape
      (2, 3)
    """

    n: int

    def __post_init__(self):
        _validation.positive_int(self.n, "n")

    @property
    def order(self) -> int:
        return self.n

    def _sample_n(self, key, n):
        return jax.random.randint(key, (n,), 0, self.n, dtype=jnp.int32)

    def element_from_index(self, i):
        return jnp.asarray(i, jnp.int32)

    def index(self, g):
        return jnp.asarray(g, jnp.int32)

    def compose(self, g, h):
        return jnp.mod(jnp.asarray(g, jnp.int32) + h, self.n)

    def inverse(self, g):
        return jnp.mod(-jnp.asarray(g, jnp.int32), self.n)

    def identity(self):
        return jnp.zeros((), jnp.int32)

    @property
    def vector_dim(self) -> int:
        return 2

    def defining_matrix(self, g):
        return _rotation_2d(2 * jnp.pi * jnp.asarray(g, jnp.float32) / self.n)

    @property
    def degree(self) -> int:
        return self.n

    def permutation(self, g):
        return jnp.mod(jnp.arange(self.n, dtype=jnp.int32) - g, self.n)


@final
@dataclasses.dataclass(frozen=True)
class Dihedral(
    AbstractFiniteGroup, AbstractMatrixRepresentation, AbstractPermutationRepresentation
):
    """The dihedral group D_n of order 2n, symmetries of the regular n-gon.

    An element is an int32 scalar i ∈ {0, ..., 2n-1} standing for r^k s^m with k = i mod n,
    m = i // n: the reflection s (y ↦ -y) first, then the rotation by 2πk/n.

    Representations: `vector_dim` = 2 (rotations and reflections of the plane); as a
    permutation of the n vertices, vertex j ↦ k + (-1)^m j (mod n).

    Args:
      n: the number of vertices, >= 1.

    Examples:
      >>> from symreg.groups import Dihedral
      >>> g = Dihedral(4)
      >>> g.order
      8
      >>> int(g.compose(4, 4))  # a reflection is its own inverse
      0
    """

    n: int

    def __post_init__(self):
        _validation.positive_int(self.n, "n")

    @property
    def order(self) -> int:
        return 2 * self.n

    def _sample_n(self, key, n):
        return jax.random.randint(key, (n,), 0, 2 * self.n, dtype=jnp.int32)

    def element_from_index(self, i):
        return jnp.asarray(i, jnp.int32)

    def index(self, g):
        return jnp.asarray(g, jnp.int32)

    def _split(self, g):
        g = jnp.asarray(g, jnp.int32)
        return jnp.mod(g, self.n), g // self.n

    def compose(self, g, h):
        k1, m1 = self._split(g)
        k2, m2 = self._split(h)
        k = jnp.mod(k1 + (1 - 2 * m1) * k2, self.n)
        return k + self.n * jnp.bitwise_xor(m1, m2)

    def inverse(self, g):
        k, m = self._split(g)
        return jnp.where(m == 1, k, jnp.mod(-k, self.n)) + self.n * m

    def identity(self):
        return jnp.zeros((), jnp.int32)

    @property
    def vector_dim(self) -> int:
        return 2

    def defining_matrix(self, g):
        k, m = self._split(g)
        flip = jnp.diag(jnp.stack([jnp.float32(1), (1 - 2 * m).astype(jnp.float32)]))
        return _rotation_2d(2 * jnp.pi * k.astype(jnp.float32) / self.n) @ flip

    @property
    def degree(self) -> int:
        return self.n

    def permutation(self, g):
        k, m = self._split(g)
        return jnp.mod((1 - 2 * m) * (jnp.arange(self.n, dtype=jnp.int32) - k), self.n)


@final
@dataclasses.dataclass(frozen=True)
class Symmetric(
    AbstractFiniteGroup, AbstractMatrixRepresentation, AbstractPermutationRepresentation
):
    """The symmetric group S_n of all permutations of n points, order n!.

    An element is an int32 array p of shape (n,), the gather indices of its action:
    act(p, x) = x[p]. Composition is therefore p·q = q[p] (apply q first), which makes
    act(p, act(q, x)) = act(p·q, x). `elements()` lists the permutations in lexicographic
    order (possible up to n = 9, order 362880).

    Sampling is uniform and exact: a sort of random keys, with ties broken by a second key.

    Args:
      n: the number of points, >= 1.

    Examples:
      >>> import jax
      >>> from symreg.groups import Symmetric
      >>> g = Symmetric(3)
      >>> g.order, g.elements()[1].tolist()
      (6, [0, 2, 1])
      >>> g.sample(jax.random.key(0), (5,)).shape
      (5, 3)
    """

    n: int

    def __post_init__(self):
        _validation.positive_int(self.n, "n")

    @property
    def order(self) -> int:
        return math.factorial(self.n)

    def _sample_n(self, key, n):
        return random_permutations(key, n, self.n)

    def _check_rankable(self):
        if self.n > 12:
            raise ValueError(
                f"Symmetric({self.n}) has order {self.n}! > 2**31; its elements cannot be "
                "indexed with int32 (index, element_from_index and elements need n <= 12)"
            )

    def element_from_index(self, i):
        self._check_rankable()
        i = jnp.asarray(i, jnp.int32)
        used = jnp.zeros((self.n,), bool)
        out = []
        for pos in range(self.n):
            radix = math.factorial(self.n - 1 - pos)
            digit = (i // radix) % (self.n - pos)
            free_rank = jnp.cumsum(~used) - 1
            choice = jnp.argmax((free_rank == digit) & ~used).astype(jnp.int32)
            used = used.at[choice].set(True)
            out.append(choice)
        return jnp.stack(out)

    def index(self, g):
        self._check_rankable()
        g = jnp.asarray(g, jnp.int32)
        smaller_later = jnp.triu(g[None, :] < g[:, None], k=1).sum(axis=1)
        radices = jnp.array([math.factorial(self.n - 1 - i) for i in range(self.n)], jnp.int32)
        return jnp.sum(smaller_later * radices).astype(jnp.int32)

    def compose(self, g, h):
        return jnp.asarray(h, jnp.int32)[jnp.asarray(g, jnp.int32)]

    def inverse(self, g):
        g = jnp.asarray(g, jnp.int32)
        return jnp.zeros_like(g).at[g].set(jnp.arange(self.n, dtype=jnp.int32))

    def identity(self):
        return jnp.arange(self.n, dtype=jnp.int32)

    @property
    def vector_dim(self) -> int:
        return self.n

    def defining_matrix(self, g):
        return jnp.eye(self.n, dtype=jnp.float32)[jnp.asarray(g, jnp.int32)]

    @property
    def degree(self) -> int:
        return self.n

    def permutation(self, g):
        return jnp.asarray(g, jnp.int32)


def random_permutations(key: jax.Array, num: int, n: int) -> jax.Array:
    """Uniform random permutations of n points, shape (num, n), int32.

    Sorts uniform random 32-bit keys; the rare ties (probability about n²/2³³ per row) are
    broken by a second independent random key, so the result is uniform up to ties in both
    keys (probability about n²/2⁶⁴ per row).
    """
    k1, k2 = jax.random.split(key)
    primary = jax.random.bits(k1, (num, n), jnp.uint32)
    secondary = jax.random.bits(k2, (num, n), jnp.uint32)
    idx = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), (num, n))
    return jax.lax.sort((primary, secondary, idx), dimension=1, num_keys=2)[2]
