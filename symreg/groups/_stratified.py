"""Stratified (randomized quasi-Monte Carlo) designs for sampling group elements.

Every design here has the same structure: a *fixed*, well-spread set of s points, moved by one
λ-random element. For a group with Haar λ, the translate h·p of a fixed point p by a
Haar-random h is exactly Haar, so each of the s elements is λ-distributed on its own and the
mean over the set is unbiased; because the set covers the group evenly, the errors of its
elements cancel and the mean varies less than one of s independent draws.

The fixed sets (computed on the host in float64, once per static s):
- `lattice_points(s, d)`: s points of the unit cube [0, 1)^d. Coordinate 0 is the midpoint
  grid (i + ½)/s; coordinates 1..d-1 are the Kronecker sequence frac(i·α_j) with
  α_j = φ^(-j), where φ > 1 is the real root of x^d = x + 1 (the golden ratio for d = 2,
  the plastic number for d = 3). Such α's are badly approximable, so the projections of the
  set stay evenly spread for every s, not just for Fibonacci-like s.
- `quaternion_points(s)`: the cube set pushed to the unit quaternions by a measure-preserving
  map. Uniform measure on S³ ⊂ C² is |z₂|² = u uniform on [0, 1] with independent uniform
  phases: q = (√(1-u) e^{iψ}, √u e^{iφ}). Taking ψ ∈ [0, π) only picks one of ±q, the two
  quaternions of the same rotation, so the s rotations are spread over SO(3), not over its
  double cover.

Finite groups use draws without replacement instead, and the symmetric group of large order
a Latin design (both in `_finite.py`). Products stratify each factor and pair the factors'
sets at random (`random_pairing`).
"""

from __future__ import annotations

import jax
import numpy as np

from symreg.groups._finite import random_permutations


def _kronecker_steps(d: int) -> np.ndarray:
    """α_j = φ^(-j), j = 1..d-1, with φ the real root > 1 of x^d = x + 1 (Newton, float64)."""
    if d == 1:
        return np.zeros((0,), np.float64)
    phi = 2.0
    for _ in range(100):
        phi -= (phi**d - phi - 1.0) / (d * phi ** (d - 1) - 1.0)
    return phi ** -np.arange(1, d, dtype=np.float64)


def lattice_points(s: int, d: int) -> np.ndarray:
    """s well-spread points of the unit cube [0, 1)^d, float64 array of shape (s, d).

    Row i is ((i + ½)/s, frac(i·α_1), ..., frac(i·α_{d-1})); see the module docstring.

    Args:
      s: the number of points, >= 1.
      d: the dimension, >= 1.

    Returns:
      A numpy float64 array of shape (s, d) with entries in [0, 1).

    Examples:
      >>> from symreg.groups._stratified import lattice_points
      >>> lattice_points(4, 1)[:, 0].tolist()
      [0.125, 0.375, 0.625, 0.875]
    """
    i = np.arange(s, dtype=np.float64)
    first = (i + 0.5) / s
    rest = np.mod(i[:, None] * _kronecker_steps(d)[None, :], 1.0)
    return np.concatenate([first[:, None], rest], axis=1)


def quaternion_points(s: int) -> np.ndarray:
    """s unit quaternions (w, x, y, z) whose rotations are spread evenly over SO(3).

    Args:
      s: the number of rotations, >= 1.

    Returns:
      A numpy float64 array of shape (s, 4) of unit quaternions (see the module docstring).

    Examples:
      >>> import numpy as np
      >>> from symreg.groups._stratified import quaternion_points
      >>> bool(np.allclose(np.linalg.norm(quaternion_points(10), axis=1), 1.0))
      True
    """
    u, a, b = lattice_points(s, 3).T
    psi, phi = np.pi * a, 2 * np.pi * b
    r1, r2 = np.sqrt(1.0 - u), np.sqrt(u)
    return np.stack([r1 * np.cos(psi), r1 * np.sin(psi), r2 * np.cos(phi), r2 * np.sin(phi)], 1)


def random_pairing(key: jax.Array, parts: list) -> tuple:
    """Stratified sets of the factors of a product, paired by independent random permutations.

    Factor 0 keeps its order; every other factor's s elements are permuted at random, so the
    pairs are exactly product-distributed while each factor's set stays stratified.
    """
    s = jax.tree.leaves(parts[0])[0].shape[0]
    if len(parts) == 1 or s == 1:
        return tuple(parts)
    perms = random_permutations(key, len(parts) - 1, s)
    rest = [
        jax.tree.map(lambda a, p=p: a[p], part) for p, part in zip(perms, parts[1:], strict=True)
    ]
    return (parts[0], *rest)
