"""`Symmetry`: a transformation set with its input and output actions (layer 2)."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, final

from symreg.actions._base import AbstractAction, Factorwise, Tree, Trivial, as_action
from symreg.actions._image import Image
from symreg.groups import AbstractGroup, AbstractTransformSet

#: The exact alternatives to an interpolated image rotation, named in its warning.
EXACT_IMAGE_ALTERNATIVES = (
    "Cyclic(4) or Dihedral(4) (also n = 1, 2) with Image() (rotations by multiples of 90° and "
    "flips), DirectProduct(Cyclic(H), Cyclic(W)) with Image() (circular shifts), or, for any "
    "angle, coordinates with Vector() or PointCloud() (exact rotations of points)"
)
#: The (action, group) configurations already warned about: each warns once per process.
_WARNED: set[tuple[AbstractAction, AbstractGroup]] = set()


def _has_image(action: AbstractAction) -> bool:
    if isinstance(action, Tree):
        children = action.children
        return any(_has_image(c[1] if isinstance(c, tuple) else c) for c in children)
    if isinstance(action, Factorwise):
        return any(_has_image(a) for a in action.actions)
    return isinstance(action, Image)


def _warn_if_inexact(action: AbstractAction, group: AbstractGroup, name: str) -> None:
    """Warns, once per (action, group), that `action` is not a group action of `group`."""
    if action.is_exact(group) or (action, group) in _WARNED:
        return
    _WARNED.add((action, group))
    what = (
        f"interpolates (bilinear rotation), which is not a group action: exact alternatives "
        f"are {EXACT_IMAGE_ALTERNATIVES}"
        if _has_image(action)
        else "is not an exact group action (its is_exact is False)"
    )
    warnings.warn(
        f"{name}={action!r} with elements of {group!r} {what}. Equivariance errors then include "
        "the action's own error: an exactly equivariant model does not measure 0.",
        UserWarning,
        stacklevel=4,
    )


@final
@dataclasses.dataclass(frozen=True)
class Symmetry:
    """A symmetry specification: transformations T with measure λ, acting on inputs and outputs.

    A model f is equivariant when f(ρ_in(g) x) = ρ_out(g) f(x) for g ∈ T; with
    `act_out=Trivial()` (the default) that is invariance. The spec is frozen and hashable, so
    it is a static argument of every kernel; it is validated when built.

    Args:
      transforms: a group or transformation set (`symreg.groups`).
      act_in: the action on one input example (an action, or a tuple/dict of actions for
        tuple/dict examples).
      act_out: the action on one output, default `Trivial()` (invariance).

    An action that is not a group action of the elements (an image rotated by interpolation,
    e.g. `Symmetry(Cyclic(3), Image())`) warns once per configuration and names the exact
    alternatives; `is_exact` is then False.

    Raises:
      TypeError: `transforms` is not a transformation set, or an action is not an action.
      ValueError: an action cannot act with the elements of `transforms`.

    Examples:
      >>> from symreg import Symmetry
      >>> from symreg.actions import Regular
      >>> from symreg.groups import Cyclic, SO3
      >>> sym = Symmetry(Cyclic(8), Regular(), Regular())
      >>> sym.is_exact
      True
      >>> Symmetry(SO3(), Regular())
      Traceback (most recent call last):
      ...
      ValueError: act_in=Regular(axis=-1) cannot act with elements of SO3(): the regular representation needs a finite group
    """

    transforms: AbstractTransformSet
    act_in: AbstractAction
    act_out: AbstractAction = Trivial()

    def __post_init__(self):
        if not isinstance(self.transforms, AbstractTransformSet):
            raise TypeError(
                "transforms must be a group or transformation set from symreg.groups, got "
                f"{self.transforms!r} of type {type(self.transforms).__name__}"
            )
        for name in ("act_in", "act_out"):
            action = as_action(getattr(self, name), name=name)
            action.validate(self.group, name=name)
            _warn_if_inexact(action, self.group, name)
            object.__setattr__(self, name, action)

    @property
    def group(self) -> AbstractGroup:
        """The base group whose elements the transformation set draws."""
        return self.transforms.base

    @property
    def is_exact(self) -> bool:
        """True when T is a group and both actions are group actions (ρ(gh) = ρ(g)ρ(h))."""
        g = self.group
        return self.transforms.is_group and self.act_in.is_exact(g) and self.act_out.is_exact(g)

    def act_input(self, g: Any, x: Any) -> Any:
        """ρ_in(g) x for one element and one input example (no batch axes; vmap over them).

        Raises:
          TypeError, ValueError: `g` is not one element of the group, or `x` does not fit
            `act_in` (see `AbstractTransformSet.check_element` and `check_input`).
        """
        self.group.check_element(g)
        self.check_input(x)
        return self.act_in.apply(self.group, g, x)

    def act_output(self, g: Any, y: Any) -> Any:
        """ρ_out(g) y for one element and one output (no batch axes; vmap over them).

        Raises:
          TypeError, ValueError: `g` is not one element of the group, or `y` does not fit
            `act_out`.
        """
        self.group.check_element(g)
        self.check_output(y, name="y")
        return self.act_out.apply(self.group, g, y)

    def act_output_inverse(self, g: Any, y: Any) -> Any:
        """ρ_out(g)⁻¹ y = ρ_out(g⁻¹) y for one element and one output.

        Raises:
          TypeError, ValueError: as `act_output`.
        """
        self.check_output(y, name="y")
        return self.act_out.apply(self.group, self.group.inverse(g), y)

    def check_input(self, example: Any, *, name: str = "x") -> None:
        """Raises if `example` (one input, no batch axis) does not fit `act_in`."""
        self.act_in.check_example(self.group, example, name=name)

    def check_output(self, example: Any, *, name: str = "apply_fn output") -> None:
        """Raises if `example` (one output, no batch axis) does not fit `act_out`."""
        self.act_out.check_example(self.group, example, name=name)
