"""Abstract transformation sets and groups (layer 1).

A *transformation set* carries a probability measure λ and draws from it with
`sample(key, shape)`. Elements are plain arrays (or tuples of arrays for products); the set
itself is a frozen, hashable dataclass, so it can be a static argument of `jax.jit`.

The hierarchy follows the abstract/final pattern: every class here is abstract, every concrete
set is final, and subclasses implement one private sampler, `_sample_n(key, n)`, while the
public `sample` stays concrete in the base class. Sets that can also draw *stratified* sets
(variance-reduced, every element still λ-distributed) add the `AbstractStratifiedSampler`
capability and implement `_sample_stratified(key, s)`.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation

#: Largest group order that `elements()` will enumerate.
MAX_ENUMERATION = 2**20

#: The values of the `sampling` argument of `AbstractTransformSet.sample`.
SAMPLING_METHODS = ("iid", "stratified")

Element = Any  # an array, or a tuple of arrays for products


@dataclasses.dataclass(frozen=True)
class AbstractTransformSet(abc.ABC):
    """A set of transformations with a probability measure λ.

    Groups carry their Haar measure; partial and non-group sets carry the measure documented
    on each class. Every set has a `base` group whose element format it shares, so the actions
    of the base group apply to its elements.

    Examples:
      >>> import jax
      >>> from symreg.groups import AbstractTransformSet, RotationRange
      >>> t = RotationRange(0.5)
      >>> isinstance(t, AbstractTransformSet), t.is_group, t.sample(jax.random.key(0), (4,)).shape
      (True, False, (4, 2, 2))
    """

    is_group: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def base(self) -> AbstractGroup:
        """The group whose elements (format, composition, inverse, actions) this set uses."""

    @abc.abstractmethod
    def _sample_n(self, key: jax.Array, n: int) -> Element:
        """Draws `n` elements from λ, stacked on a new leading axis."""

    def sample(
        self, key: jax.Array, shape: int | tuple[int, ...] = (), *, sampling: str = "iid"
    ) -> Element:
        """Draws elements from the set's measure λ.

        With `sampling="iid"` every element is an independent draw from λ. With
        `sampling="stratified"` the first axis of `shape` (S) is stratified: for every index of
        the remaining axes, the S elements form one well-spread set (a λ-random shift of a
        fixed low-discrepancy set, or draws without replacement for finite groups), and the
        sets of different trailing indices are independent. Each element taken alone is still
        exactly λ-distributed, so a mean over the S elements stays unbiased; its variance is
        lower because the set covers the group evenly. Each set documents its design.

        Args:
          key: a JAX PRNG key.
          shape: the batch shape of the draw, e.g. `(S,)` or `(S, B)`.
          sampling: "iid" (default) or "stratified" (static: a Python string).

        Returns:
          Elements with leading axes `shape` followed by the element shape.

        Raises:
          TypeError: `key` is not a PRNG key or `shape` is not a tuple of ints.
          ValueError: `sampling` is not one of `SAMPLING_METHODS`; "stratified" with an empty
            `shape` or for a set without a stratified sampler.

        Examples:
          >>> import jax
          >>> from symreg.groups import SO3
          >>> SO3().sample(jax.random.key(0), (16, 4), sampling="stratified").shape
          (16, 4, 3, 3)
        """
        _validation.check_key(key)
        shape = _validation.shape_tuple(shape)
        if check_sampling(sampling) == "stratified" and math.prod(shape) > 0:
            return self._stratified(key, shape)
        flat = self._sample_n(key, math.prod(shape))
        return jax.tree.map(lambda a: a.reshape(shape + a.shape[1:]), flat)

    def _stratified(self, key: jax.Array, shape: tuple[int, ...]) -> Element:
        """One stratified set of S = shape[0] elements per trailing index, vmapped over keys."""
        if not isinstance(self, AbstractStratifiedSampler):
            raise ValueError(
                f"sampling='stratified' is not available for {self!r}, which has no stratified "
                "sampler; use sampling='iid'"
            )
        if not shape:
            raise ValueError(
                "sampling='stratified' needs a shape with a leading axis S (the stratified "
                "axis), e.g. (S,) or (S, B); got shape ()"
            )
        s, rest = shape[0], shape[1:]
        keys = jax.random.split(key, math.prod(rest))
        sets = jax.vmap(lambda k: self._sample_stratified(k, s))(keys)
        return jax.tree.map(lambda a: jnp.moveaxis(a, 0, 1).reshape(shape + a.shape[2:]), sets)

    def element_struct(self) -> Any:
        """Shapes and dtypes of one element, as a pytree of `jax.ShapeDtypeStruct`."""
        return _element_struct(self.base)

    def check_element(self, g: Element, *, name: str = "g") -> None:
        """Raises if `g` is not one element of the base group (no batch axis).

        The structure, shapes and dtype kind (integer or floating) are checked always, also
        under `jax.jit` and `jax.vmap` (at trace time, for free). The values are checked only
        when `g` is concrete: an index out of range, an array that is not a permutation, a
        matrix that is not orthogonal (or has the wrong determinant), a non-finite entry.

        Args:
          g: one element (an array, or a tuple for products).
          name: how `g` is called in the error message.

        Raises:
          TypeError: `g` has the wrong structure or dtype kind.
          ValueError: `g` has the wrong shape, or (concrete) values that are no element.

        Examples:
          >>> from symreg.groups import Cyclic
          >>> Cyclic(4).check_element(3)
          >>> Cyclic(4).compose(7, 1)
          Traceback (most recent call last):
          ...
          ValueError: g = 7 is not an element of Cyclic(n=4): expected an integer in [0, 4)
        """
        self.base._check_element(g, name)

    def _check_element(self, g: Element, name: str) -> None:
        struct = _element_struct(self)
        if jax.tree.structure(g) != jax.tree.structure(struct):
            raise TypeError(
                f"{name} must be one element of {self!r}, shaped like {_describe(struct)}; "
                f"got {_describe(jax.tree.map(_struct_of, g))}"
            )
        for leaf, want in zip(jax.tree.leaves(g), jax.tree.leaves(struct), strict=True):
            _check_leaf(self, leaf, want, name)
        if all(map(_validation.is_concrete, jax.tree.leaves(g))):
            values = jax.tree.map(np.asarray, g)
            msg = self._element_value_error(values)
            if msg is not None:
                shown = jax.tree.map(
                    lambda a: " ".join(np.array2string(a, threshold=12, precision=4).split()),
                    values,
                )
                shown = str(shown).replace("'", "")
                raise ValueError(f"{name} = {shown} is not an element of {self!r}: {msg}")

    def _element_value_error(self, g: Element) -> str | None:
        """Why the concrete element `g` (NumPy arrays) is not in the group, or None."""
        return None


@dataclasses.dataclass(frozen=True)
class AbstractGroup(AbstractTransformSet):
    """A group: composition, inverse and identity, with its Haar measure as λ.

    Examples:
      >>> from symreg.groups import AbstractGroup, Dihedral
      >>> g = Dihedral(3)
      >>> isinstance(g, AbstractGroup), int(g.compose(1, g.inverse(1))), int(g.identity())
      (True, 0, 0)
    """

    is_group: ClassVar[bool] = True

    @property
    def base(self) -> AbstractGroup:
        return self

    @abc.abstractmethod
    def compose(self, g: Element, h: Element) -> Element:
        """The product g·h (apply h first, then g), for one element each."""

    @abc.abstractmethod
    def inverse(self, g: Element) -> Element:
        """The inverse g⁻¹ of one element."""

    @abc.abstractmethod
    def identity(self) -> Element:
        """The identity element."""


@dataclasses.dataclass(frozen=True)
class AbstractFiniteGroup(AbstractGroup):
    """A finite group with uniform λ, enumerable by index 0..order-1.

    Examples:
      >>> from symreg.groups import AbstractFiniteGroup, Cyclic
      >>> g = Cyclic(3)
      >>> isinstance(g, AbstractFiniteGroup), g.order, int(g.index(g.element_from_index(2)))
      (True, 3, 2)
    """

    @property
    @abc.abstractmethod
    def order(self) -> int:
        """The number of elements |G|."""

    @abc.abstractmethod
    def element_from_index(self, i: jax.Array) -> Element:
        """The element with index `i` (an int32 scalar) in the enumeration of `elements()`."""

    @abc.abstractmethod
    def index(self, g: Element) -> jax.Array:
        """The index of one element in the enumeration of `elements()` (int32 scalar)."""

    def elements(self) -> Element:
        """All elements, stacked: shape (G, ...) with G = `order`.

        Raises:
          ValueError: the order exceeds `MAX_ENUMERATION`.
        """
        if self.order > MAX_ENUMERATION:
            raise ValueError(
                f"{self!r} has order {self.order}, more than MAX_ENUMERATION = {MAX_ENUMERATION}; "
                "sample it with sample(key, shape) instead of enumerating it"
            )
        return jax.vmap(self.element_from_index)(jnp.arange(self.order, dtype=jnp.int32))


@dataclasses.dataclass(frozen=True)
class AbstractLieGroup(AbstractGroup):
    """A group with a Lie algebra: `num_generators` generators and an exponential map.

    `exp(c)` maps coefficients c ∈ R^k to exp(Σ c_i A_i); it is differentiable in c, which is
    what the Lie-derivative kernel needs. Products of a Lie group with a finite group are Lie
    groups here too: their generators are those of the continuous factor.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.groups import AbstractLieGroup, SO3
      >>> g = SO3()
      >>> isinstance(g, AbstractLieGroup), g.num_generators, g.exp(jnp.zeros(3)).tolist()[0]
      (True, 3, [1.0, 0.0, 0.0])
    """

    @property
    @abc.abstractmethod
    def num_generators(self) -> int:
        """The number k of Lie-algebra generators."""

    @abc.abstractmethod
    def generators(self) -> jax.Array:
        """The Lie-algebra basis, shape (k, ...): matrices for matrix groups."""

    @abc.abstractmethod
    def exp(self, coefficients: jax.Array) -> Element:
        """The element exp(Σ_i c_i A_i) for coefficients of shape (k,)."""


class AbstractStratifiedSampler(abc.ABC):
    """A set that draws stratified sets: `sample(key, shape, sampling="stratified")`.

    Implementations return s elements that are each exactly λ-distributed (so means stay
    unbiased) and, together, spread more evenly over the set than independent draws.

    Examples:
      >>> from symreg.groups import SO2, RotationRange
      >>> from symreg.groups._base import AbstractStratifiedSampler
      >>> isinstance(SO2(), AbstractStratifiedSampler)
      True
      >>> isinstance(RotationRange(0.5), AbstractStratifiedSampler)
      False
    """

    @abc.abstractmethod
    def _sample_stratified(self, key: jax.Array, s: int) -> Element:
        """Draws one stratified set of `s` >= 1 elements, stacked on a new leading axis."""


@functools.cache
def _element_struct(group: AbstractTransformSet) -> Any:
    return jax.eval_shape(group.base.identity)


def _struct_of(leaf: Any) -> Any:
    return jax.ShapeDtypeStruct(jnp.shape(leaf), jnp.result_type(leaf))


def _describe(struct: Any) -> str:
    return str(jax.tree.map(lambda s: f"{s.dtype}{list(s.shape)}", struct))


def _check_leaf(group: AbstractTransformSet, leaf: Any, want: Any, name: str) -> None:
    if isinstance(leaf, (bool, np.bool_)):
        kind = "bool"
    elif isinstance(leaf, int):
        kind, shape = "int", ()
    elif isinstance(leaf, float):
        kind, shape = "float", ()
    elif hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        kind = "int" if jnp.issubdtype(leaf.dtype, jnp.integer) else "float"
        kind = kind if jnp.issubdtype(leaf.dtype, jnp.number) else str(leaf.dtype)
        shape = tuple(leaf.shape)
    else:
        raise TypeError(
            f"{name} must be an element of {group!r} ({_describe(want)}), got {type(leaf).__name__}"
        )
    integer = jnp.issubdtype(want.dtype, jnp.integer)
    if kind not in ("int", "float") or (kind == "float" and integer):
        raise TypeError(
            f"{name} must be an element of {group!r}: expected an "
            f"{'integer' if integer else 'integer or floating'} dtype "
            f"({_describe(want)}), got {getattr(leaf, 'dtype', kind)}"
        )
    if shape != tuple(want.shape):
        raise ValueError(
            f"{name} must be one element of {group!r}: expected shape {tuple(want.shape)} "
            f"(no batch axis; vmap over batches), got shape {shape}"
        )


def checks_elements(*names: str) -> Callable:
    """Decorates a group method so that its leading arguments are checked as elements.

    Args:
      *names: the names of the leading positional arguments that are elements.

    Returns:
      A decorator for methods `method(self, g, h, ...)`.
    """

    def decorate(method):
        @functools.wraps(method)
        def checked(self, *args):
            for name, arg in zip(names, args, strict=False):
                self._check_element(arg, name)
            return method(self, *args)

        return checked

    return decorate


def check_index(group: AbstractFiniteGroup, i: Any, name: str = "i") -> None:
    """Raises if `i` is not an integer scalar index in [0, order) (the range when concrete)."""
    dtype = getattr(i, "dtype", None)
    integer = isinstance(i, int) or (dtype is not None and jnp.issubdtype(dtype, jnp.integer))
    if isinstance(i, bool) or not integer:
        raise TypeError(f"{name} must be an integer index into {group!r}, got {i!r:.80}")
    if jnp.ndim(i) != 0:
        raise ValueError(
            f"{name} must be one integer index (a scalar; vmap over batches), got shape "
            f"{jnp.shape(i)}"
        )
    if not isinstance(i, jax.core.Tracer) and not 0 <= int(i) < group.order:
        raise ValueError(
            f"{name} = {int(i)} is not an index of {group!r}: expected 0 <= {name} < {group.order}"
        )


def check_sampling(sampling: Any) -> str:
    """Returns `sampling` if it is one of `SAMPLING_METHODS`, else raises.

    Args:
      sampling: the requested sampling scheme.

    Returns:
      `sampling`, a string: "iid" or "stratified".

    Raises:
      ValueError: `sampling` is not one of `SAMPLING_METHODS`.

    Examples:
      >>> from symreg.groups._base import check_sampling
      >>> check_sampling("stratified")
      'stratified'
    """
    if not isinstance(sampling, str) or sampling not in SAMPLING_METHODS:
        raise ValueError(f"sampling must be one of {SAMPLING_METHODS}, got {sampling!r}")
    return sampling


class AbstractMatrixRepresentation(abc.ABC):
    """A group with a defining orthogonal representation on R^d (used by `actions.Vector`).

    Examples:
      >>> from symreg.groups import AbstractMatrixRepresentation, Cyclic
      >>> g = Cyclic(2)
      >>> isinstance(g, AbstractMatrixRepresentation), g.defining_matrix(1).round(6).tolist()
      (True, [[-1.0, -0.0], [0.0, -1.0]])
    """

    @property
    @abc.abstractmethod
    def vector_dim(self) -> int:
        """The dimension d of the defining representation."""

    @abc.abstractmethod
    def defining_matrix(self, g: Element) -> jax.Array:
        """The orthogonal (d, d) matrix of one element, with ρ(g·h) = ρ(g) ρ(h)."""


class AbstractPermutationRepresentation(abc.ABC):
    """A finite group acting by permutations of `degree` points (used by `actions.Permutation`).

    `permutation(g)` returns gather indices p with act(g, x) = x[p], and
    p(g·h) = p(h)[p(g)], so that act(g, act(h, x)) = act(g·h, x).

    Examples:
      >>> from symreg.groups import AbstractPermutationRepresentation, Cyclic
      >>> g = Cyclic(4)
      >>> isinstance(g, AbstractPermutationRepresentation), g.permutation(1).tolist()
      (True, [3, 0, 1, 2])
    """

    @property
    @abc.abstractmethod
    def degree(self) -> int:
        """The number of points permuted."""

    @abc.abstractmethod
    def permutation(self, g: Element) -> jax.Array:
        """Gather indices of one element, shape (degree,), int32."""
