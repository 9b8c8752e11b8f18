"""The synthetic tasks of the main job: sets (S_5), planar point clouds (SO(2)), and 3-D point
clouds in an external field (O(3), e3nn-jax irreps)."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax.numpy as jnp

import symreg
from symreg.actions import Irreps, Permutation, PointCloud
from symreg.experiments.exact import E3nnCloud, PlanarInvariant
from symreg.experiments.tasks import NormalInputs, SyntheticTask
from symreg.groups import O3, SO2, Symmetric

#: Points per set / cloud.
SET_SIZE = 5
CLOUD_2D = 4
CLOUD_3D = 4
#: Position weights of the positional bias, mean 0 (so the bias has no invariant part).
_POSITIONS = jnp.linspace(-1.0, 1.0, SET_SIZE)
#: The external field of the O(3) task (along z).
FIELD = jnp.array([0.0, 0.0, 1.0])


def _set_sym(x):  # x (B, 5, 2): per-element terms and an interaction through the mean
    per = jnp.mean(jnp.tanh(x[..., 0]) * jnp.cos(x[..., 1]), axis=-1)
    return 2.0 * per + jnp.sum(jnp.mean(x, axis=1) ** 2, axis=-1)


def _set_break(x):  # positional bias: the i-th element weighs (i - 2)/2
    return jnp.einsum("i,bi->b", _POSITIONS, x[..., 0])


def sets_task(eps: float = 0.25, noise: float = 0.5) -> SyntheticTask:
    """Permutation-invariant regression on sets of 5 points in R², with a positional bias.

    f_sym(x) = 2 mean_i tanh(x_i0)·cos(x_i1) + ‖mean_i x_i‖² is invariant under S_5;
    f_break(x) = Σ_i c_i x_i0 with c = linspace(−1, 1, 5) depends on the order (Σ c_i = 0, so
    Q f_break = 0 and η₂ = 2ε²Σc_i² = 5ε²).

    Examples:
      >>> from symreg.experiments.synthetic import sets_task
      >>> sets_task().symmetry.transforms.order
      120
    """
    return SyntheticTask(
        name="sets",
        title=f"S_{SET_SIZE} on sets of {SET_SIZE} points in R^2, positional bias",
        symmetry=symreg.Symmetry(Symmetric(SET_SIZE), Permutation()),
        sample_inputs=NormalInputs((SET_SIZE, 2)),
        f_sym=_set_sym,
        f_break=_set_break,
        eps=eps,
        noise=noise,
        breaking="ε·Σ_i c_i x_i0, c = linspace(-1, 1)",
    )


def _cloud2_sym(x):  # x (B, 4, 2): radii and pairwise distances only
    r2 = jnp.sum(x**2, -1)
    d2 = jnp.sum((x[:, :, None] - x[:, None, :]) ** 2, -1)
    return 2.0 * jnp.mean(jnp.cos(jnp.sqrt(r2 + 1e-6)), -1) + 0.2 * jnp.mean(
        jnp.sqrt(d2 + 1e-6), (-1, -2)
    )


def _cloud2_break(x):  # an anisotropic (quadrupole) field plus a tilt along x
    return jnp.mean(x[..., 0] ** 2 - x[..., 1] ** 2, -1) + 0.5 * jnp.mean(x[..., 0], -1)


def cloud2d_task(eps: float = 0.3, noise: float = 0.5) -> SyntheticTask:
    """SO(2)-invariant regression on planar clouds of 4 points, with an anisotropic term.

    f_sym depends on radii and pairwise distances; f_break = mean_i (x_i0² − x_i1²) +
    ½ mean_i x_i0 (angular frequencies 2 and 1, so Q f_break = 0). Its exactly invariant
    model is `symreg.experiments.exact.PlanarInvariant`.

    Examples:
      >>> from symreg.experiments.synthetic import cloud2d_task
      >>> cloud2d_task().symmetry.act_in
      PointCloud()
    """
    return SyntheticTask(
        name="cloud2d",
        title=f"SO(2) on planar clouds of {CLOUD_2D} points, anisotropic term",
        symmetry=symreg.Symmetry(SO2(), PointCloud()),
        sample_inputs=NormalInputs((CLOUD_2D, 2)),
        f_sym=_cloud2_sym,
        f_break=_cloud2_break,
        eps=eps,
        noise=noise,
        breaking="ε·mean_i (x_i0² - x_i1² + ½ x_i0)",
        exact=PlanarInvariant,
    )


def _cloud3_sym(x):  # x (B, 4, 3) → "0e + 1o": a pair energy and a radial dipole
    d2 = jnp.sum((x[:, :, None] - x[:, None, :]) ** 2, -1)
    energy = jnp.mean(jnp.exp(-0.5 * d2), (-1, -2))
    r = jnp.linalg.norm(x, axis=-1, keepdims=True)
    sh = e3nn.spherical_harmonics("1o", x, normalize=True, normalization="component").array
    dipole = jnp.mean(sh * jnp.exp(-0.5 * r**2), axis=1)
    return jnp.concatenate([energy[:, None], dipole], -1)


def _cloud3_break(x):  # the field E: potential energy Σ ⟨E, x_i⟩ and an induced dipole ∝ E
    potential = jnp.mean(x @ FIELD, -1)
    induced = jnp.broadcast_to(0.5 * FIELD, (x.shape[0], 3))
    return jnp.concatenate([potential[:, None], induced], -1)


def cloud3d_task(eps: float = 0.3, noise: float = 0.5) -> SyntheticTask:
    """O(3)-equivariant "0e + 1o" outputs of 3-D clouds of 4 points, in an external field.

    f_sym: an energy (0e) from pairwise distances and a dipole (1o) from e3nn-jax spherical
    harmonics of the points, both O(3)-equivariant. f_break: the field E = e_z adds a
    potential energy mean_i ⟨E, x_i⟩ and an induced dipole E/2, which break rotations and
    parity. The output action is `Irreps("0e + 1o")` (Wigner-D of e3nn-jax). Its exactly
    equivariant model is `symreg.experiments.exact.E3nnCloud`.

    Examples:
      >>> from symreg.experiments.synthetic import cloud3d_task
      >>> cloud3d_task().out_shape
      (4,)
    """
    return SyntheticTask(
        name="cloud3d",
        title=f"O(3) on 3-D clouds of {CLOUD_3D} points, output 0e+1o, external field",
        symmetry=symreg.Symmetry(O3(), PointCloud(), Irreps("0e + 1o")),
        sample_inputs=NormalInputs((CLOUD_3D, 3)),
        f_sym=_cloud3_sym,
        f_break=_cloud3_break,
        eps=eps,
        noise=noise,
        out_shape=(4,),
        breaking="ε·(mean_i <E, x_i>, E/2), E = e_z",
        exact=E3nnCloud,
    )
