"""`RegularImage`: the action on group feature maps (H, W, G, C) of a group convolution."""

from __future__ import annotations

import dataclasses
from typing import final

from symreg.actions import AbstractAction, Image, Regular
from symreg.groups import Cyclic, Dihedral

#: The n of Cyclic(n) and Dihedral(n) that act on a pixel grid exactly (rot90 and flips).
EXACT_IMAGE_ORDERS = (1, 2, 4)


def image_group_error(group) -> str | None:
    """Why `group` cannot act exactly on square images by rot90/flips, or None."""
    if isinstance(group, (Cyclic, Dihedral)) and group.n in EXACT_IMAGE_ORDERS:
        return None
    return (
        f"exact image actions need Cyclic(n) or Dihedral(n) with n in {EXACT_IMAGE_ORDERS} "
        "(rotations by multiples of 90° and flips); other rotations are interpolated, which is "
        "not a group action"
    )


@final
@dataclasses.dataclass(frozen=True)
class RegularImage(AbstractAction):
    """Acts on a group feature map of shape (H, W, G) or (H, W, G, C), G = |group|.

    The pixel grid moves as in `symreg.actions.Image` (rot90 and flips about the centre) and
    the group axis by the regular representation, (ρ(g) y)(u, h) = y(g⁻¹u, g⁻¹h): the
    output action of a lifting or group convolution (`RelaxedGroupConv`). Both parts are group
    actions on different axes and commute, so this is a group action.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.groups import Cyclic
      >>> from symreg.nn import RegularImage
      >>> y = jnp.zeros((3, 3, 4)).at[0, 0, 0].set(1.0)     # pixel (0, 0), element 0
      >>> moved = RegularImage().apply(Cyclic(4), 1, y)     # rotate by 90°
      >>> [int(i) for i in jnp.argwhere(moved)[0]]          # bottom-left pixel, element 1
      [2, 0, 1]
    """

    def apply(self, group, g, x):
        return Regular(axis=2).apply(group, g, Image().apply(group, g, x))

    def _group_error(self, group):
        return image_group_error(group)

    def _example_error(self, group, example):
        leaves = [example] if hasattr(example, "shape") else None
        x = leaves[0] if leaves else None
        if x is None or x.ndim not in (3, 4):
            return "expected one group feature map of shape (H, W, G) or (H, W, G, C)"
        if x.shape[0] != x.shape[1]:
            return f"rotations need a square image, got {x.shape[0]}×{x.shape[1]}"
        if x.shape[2] != group.order:
            return f"expected axis 2 of size |G| = {group.order}, got shape {tuple(x.shape)}"
        return None

    def is_exact(self, group):
        return True
