"""Group elements for a kernel's (sample, example) pairs, drawn as cheaply as the measure allows."""

from __future__ import annotations

from typing import Any

import jax

from symreg.groups._base import AbstractTransformSet
from symreg.groups._finite import Symmetric


def sample_pairs(
    transforms: AbstractTransformSet,
    key: jax.Array,
    shape: tuple[int, ...],
    *,
    sampling: str = "iid",
) -> Any:
    """Elements for S samples of each of B examples, shape (S, B, ...) (or (S, ...) if shared).

    Mostly `transforms.sample(key, shape, sampling=sampling)`. For `Symmetric(n)` with iid
    sampling and shape (S, B), whose uniform permutations cost n gathers and scatters each,
    it draws S permutations p_s and B permutations q_b and returns g_sb = p_s·q_b: S + B draws
    and one gather per pair instead of S·B draws. Each g_sb is uniform; for a fixed example
    its S elements are iid; and any two pairs are independent (for g_sb, g_sb' the map
    (p, q_b') ↦ (p q_b, q_b⁻¹ q_b') preserves the uniform measure, and likewise for a shared
    example). So every mean over pairs (an error estimate or its gradient) has exactly the
    mean and variance of fully iid sampling.

    Args:
      transforms: the transformation set.
      key: a PRNG key.
      shape: (S, B) for per-example elements, or (S,) for elements shared by the batch.
      sampling: "iid" or "stratified" (`sample`'s option; stratified draws are unchanged).

    Returns:
      Elements with leading axes `shape`.

    Examples:
      >>> import jax
      >>> from symreg.groups import Symmetric, sample_pairs
      >>> sample_pairs(Symmetric(5), jax.random.key(0), (3, 4)).shape
      (3, 4, 5)
    """
    if sampling == "iid" and len(shape) == 2 and isinstance(transforms, Symmetric):
        s, b = shape
        kp, kq = jax.random.split(key)
        p = transforms.sample(kp, (s,))
        q = transforms.sample(kq, (b,))
        return jax.vmap(lambda ps: jax.vmap(lambda qb: transforms.compose(ps, qb))(q))(p)
    return transforms.sample(key, shape, sampling=sampling)
