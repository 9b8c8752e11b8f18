"""The action interface, and the actions that combine others (layer 2).

An action tells how one element g of a group acts on one example x (no batch axis); the
kernels vmap it. Actions are frozen, hashable dataclasses. They receive the (static) group
with each call, `apply(group, g, x)`, so one action such as `Vector()` serves every group
that has the structure it needs; `validate` checks that structure once, when a `Symmetry`
is built, and `check_example` checks an example's shapes at trace time.
"""

from __future__ import annotations

import abc
import dataclasses
import sys
from collections.abc import Mapping
from typing import Any, final

import jax

from symreg.groups import AbstractGroup, DirectProduct


@dataclasses.dataclass(frozen=True)
class AbstractAction(abc.ABC):
    """How one group element acts on one example: x ↦ ρ(g) x, with ρ(g·h) = ρ(g) ρ(h).

    Subclasses are final, frozen dataclasses implementing `apply`, `is_exact` and the two
    checks `_group_error` and `_example_error` (a message, or None when all is well).

    Examples:
      A custom action: periodic translations moving a point of the torus.

      >>> import dataclasses, jax.numpy as jnp
      >>> from symreg.actions import AbstractAction
      >>> from symreg.groups import Translations
      >>> @dataclasses.dataclass(frozen=True)
      ... class Shift(AbstractAction):
      ...     def apply(self, group, g, x):
      ...         return jnp.mod(x + g, group.period)
      ...     def _group_error(self, group):
      ...         return None if isinstance(group, Translations) else "needs Translations"
      ...     def _example_error(self, group, example):
      ...         return None
      ...     def is_exact(self, group):
      ...         return True
      >>> Shift().apply(Translations(2), jnp.array([0.5, 0.5]), jnp.array([0.75, 0.25])).tolist()
      [0.25, 0.75]
    """

    @abc.abstractmethod
    def apply(self, group: AbstractGroup, g: Any, x: Any) -> Any:
        """Acts with one element `g` of `group` on one example `x` (no batch axis).

        Unchecked, for speed inside kernels; `Symmetry.act_input` and `act_output` check
        the element and the example first.
        """

    @abc.abstractmethod
    def _group_error(self, group: AbstractGroup) -> str | None:
        """Why this action cannot act with `group`'s elements, or None if it can."""

    @abc.abstractmethod
    def _example_error(self, group: AbstractGroup, example: Any) -> str | None:
        """Why this action cannot act on an example shaped like `example`, or None."""

    @abc.abstractmethod
    def is_exact(self, group: AbstractGroup) -> bool:
        """Whether this is a true group action for `group` (False for interpolated rotations)."""

    def validate(self, group: AbstractGroup, *, name: str = "action") -> None:
        """Raises `ValueError` if this action cannot act with the elements of `group`."""
        msg = self._group_error(group)
        if msg is not None:
            raise ValueError(f"{name}={self!r} cannot act with elements of {group!r}: {msg}")

    def check_example(self, group: AbstractGroup, example: Any, *, name: str = "x") -> None:
        """Raises `ValueError`/`TypeError` if `example` (shapes of one example) does not fit.

        Args:
          group: the base group of the transformation set.
          example: a pytree of `jax.ShapeDtypeStruct` (or arrays), one example, no batch axis.
          name: how the example is called in the error message.
        """
        msg = self._example_error(group, example)
        if msg is not None:
            shapes = jax.tree.map(lambda a: (tuple(a.shape), str(a.dtype)), example)
            raise ValueError(f"{name}: {self!r} cannot act on one example with {shapes}: {msg}")


def _is_e3nn_irreps(obj: Any) -> bool:
    """Whether obj is an `e3nn.Irreps` (never true before e3nn-jax is imported)."""
    e3nn = sys.modules.get("e3nn_jax")
    return e3nn is not None and isinstance(obj, e3nn.Irreps)


def _irreps_action(obj: Any, name: str) -> AbstractAction:
    """`Irreps(obj)` for an irreps string or `e3nn.Irreps`; a readable error for other strings."""
    from symreg.actions._linear import Irreps  # here: _linear imports this module

    try:
        return Irreps(obj)
    except ValueError:
        hint = (
            f"; a string is read as e3nn irreps, as symreg.actions.Irreps({obj!r}), but it is not "
            "valid irreps (such as '1o + 0e')"
        )
        raise _not_an_action(obj, name, hint) from None


def _not_an_action(obj: Any, name: str, hint: str = "") -> TypeError:
    return TypeError(
        f"{name} must be a symreg action (e.g. symreg.actions.Vector()) or a tuple/dict of "
        f"actions, got {obj!r} of type {type(obj).__name__}{hint}"
    )


def as_action(obj: Any, *, name: str = "action") -> AbstractAction:
    """Normalizes an action spec: an action, irreps, or a tuple/list/dict of specs (a `Tree`).

    An e3nn irreps string such as `"1o + 0e"` or an `e3nn.Irreps` stands for
    `symreg.actions.Irreps(...)`, so `Symmetry(SO3(), "1o")` acts on 3-vectors by rotation.

    Args:
      obj: an action, irreps (a string or `e3nn.Irreps`), or a (nested) tuple, list or dict of
        those.
      name: how the spec is called in error messages.

    Returns:
      The action itself, `Irreps(obj)`, or a `Tree` (dict keys sorted).

    Raises:
      TypeError: `obj` is neither an action, nor irreps, nor a tuple, list or dict of those
        (a string that is not valid irreps says so).

    Examples:
      >>> from symreg.actions import Trivial, Vector, as_action
      >>> as_action((Vector(), Trivial()))
      Tree(children=(Vector(), Trivial()))
      >>> as_action({"b": Vector(), "a": Trivial()})
      Tree(children=(('a', Trivial()), ('b', Vector())))
      >>> as_action("1o + 0e")
      Irreps("1x1o+1x0e")
    """
    if isinstance(obj, AbstractAction):
        return obj
    if isinstance(obj, str) or _is_e3nn_irreps(obj):
        return _irreps_action(obj, name)
    if isinstance(obj, (tuple, list)):
        return Tree(tuple(as_action(a, name=f"{name}[{i}]") for i, a in enumerate(obj)))
    if isinstance(obj, Mapping):
        return Tree(tuple((k, as_action(obj[k], name=f"{name}[{k!r}]")) for k in sorted(obj)))
    raise _not_an_action(obj, name, "; e3nn irreps such as '1o + 0e' are also accepted")


def _one_leaf(example: Any) -> Any:
    leaves = jax.tree.leaves(example)
    return leaves[0] if len(leaves) == 1 else None


@final
@dataclasses.dataclass(frozen=True)
class Trivial(AbstractAction):
    """The trivial action ρ(g) = identity: with `act_out=Trivial()` equivariance is invariance.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import Trivial
      >>> from symreg.groups import SO3
      >>> Trivial().apply(SO3(), jnp.eye(3), jnp.ones(2)).tolist()
      [1.0, 1.0]
    """

    def apply(self, group, g, x):
        return x

    def _group_error(self, group):
        return None

    def _example_error(self, group, example):
        return None

    def is_exact(self, group):
        return True


@final
@dataclasses.dataclass(frozen=True)
class Tree(AbstractAction):
    """Acts on a tuple or dict example with one action per entry, all with the same element.

    Built by `as_action` (and so by `Symmetry`) from a tuple or dict of actions, e.g.
    `act_in=(Vector(), Irreps("0e + 1o"))` for examples `(positions, features)`.

    Args:
      children: a tuple of actions, or a tuple of (key, action) pairs for dict examples.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import Trivial, Vector, as_action
      >>> from symreg.groups import Symmetric
      >>> act = as_action((Vector(), Trivial()))
      >>> [a.tolist() for a in act.apply(Symmetric(2), jnp.array([1, 0]), (jnp.array([1., 2.]), jnp.array(3.)))]
      [[2.0, 1.0], 3.0]
    """

    children: tuple

    def _is_dict(self):
        return bool(self.children) and isinstance(self.children[0], tuple)

    def _actions(self):
        return [a for _, a in self.children] if self._is_dict() else list(self.children)

    def apply(self, group, g, x):
        if self._is_dict():
            return {k: a.apply(group, g, x[k]) for k, a in self.children}
        return tuple(a.apply(group, g, xi) for a, xi in zip(self.children, x, strict=True))

    def _group_error(self, group):
        for a in self._actions():
            msg = a._group_error(group)
            if msg is not None:
                return f"{a!r}: {msg}"
        return None

    def _example_error(self, group, example):
        if self._is_dict():
            keys = [k for k, _ in self.children]
            if not isinstance(example, Mapping) or sorted(example) != keys:
                return f"expected a dict with keys {keys}"
            parts = [(k, a, example[k]) for k, a in self.children]
        else:
            if not isinstance(example, (tuple, list)) or len(example) != len(self.children):
                return f"expected a tuple of {len(self.children)} entries"
            parts = list(zip(range(len(example)), self.children, example, strict=True))
        for k, a, ex in parts:
            msg = a._example_error(group, ex)
            if msg is not None:
                return f"entry [{k!r}] ({a!r}): {msg}"
        return None

    def is_exact(self, group):
        return all(a.is_exact(group) for a in self._actions())


@final
@dataclasses.dataclass(frozen=True, init=False)
class Factorwise(AbstractAction):
    """Acts with a `DirectProduct` element (g₁, g₂, ...): factor i acts by `actions[i]`.

    The result is ρ₁(g₁) ρ₂(g₂) ... x, applied last factor first. It is a group action when
    the factors' actions commute, e.g. a rotation of coordinates and a permutation of points.

    Args:
      *actions: one action per factor of the product.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.actions import Factorwise, Permutation, Vector
      >>> from symreg.groups import DirectProduct, SO2, Symmetric
      >>> G = DirectProduct(SO2(), Symmetric(3))
      >>> act = Factorwise(Vector(), Permutation(axis=0))
      >>> act.apply(G, G.identity(), jnp.ones((3, 2))).shape
      (3, 2)
    """

    actions: tuple[AbstractAction, ...]

    def __init__(self, *actions):
        object.__setattr__(
            self,
            "actions",
            tuple(as_action(a, name=f"actions[{i}]") for i, a in enumerate(actions)),
        )

    def __repr__(self):
        return f"Factorwise({', '.join(map(repr, self.actions))})"

    def apply(self, group, g, x):
        for a, f, gi in reversed(list(zip(self.actions, group.factors, g, strict=True))):
            x = a.apply(f, gi, x)
        return x

    def _group_error(self, group):
        if not isinstance(group, DirectProduct):
            return "Factorwise acts with DirectProduct elements"
        if len(group.factors) != len(self.actions):
            return f"{len(self.actions)} actions for {len(group.factors)} factors"
        for a, f in zip(self.actions, group.factors, strict=True):
            msg = a._group_error(f)
            if msg is not None:
                return f"factor {f!r} with {a!r}: {msg}"
        return None

    def _example_error(self, group, example):
        for a, f in zip(self.actions, group.factors, strict=True):
            msg = a._example_error(f, example)
            if msg is not None:
                return f"factor {f!r} with {a!r}: {msg}"
        return None

    def is_exact(self, group):
        return all(a.is_exact(f) for a, f in zip(self.actions, group.factors, strict=True))
