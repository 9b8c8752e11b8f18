"""Synthetic regression tasks with a known data equivariance error, for the estimator tests.

y = f_sym(x) + ε·f_break(x) + σ·noise with x ~ N(0, I) (invariant under each group) and f_sym
exactly equivariant, so η₂ = ED_2(f*) = ε²·ED_2(f_break) (the defect is linear in f and
vanishes on f_sym). ED_2(f_break) = 2‖P f_break‖² has a closed form (P = I − Q):
- perm, S_4 permuting x ∈ R⁴, f_b = x₀x₁ + x₂: Q(x₀x₁) = mean of the 6 pair products and
  Q(x₂) = mean(x), so ‖Pf_b‖² = (1 − 1/6) + (1 − 1/4) = 19/12.
- so2, SO(2) on x ∈ R², f_b = x₀² − x₁² + x₀ (angular frequencies 2 and 1): Qf_b = 0, so
  ‖Pf_b‖² = E(x₀² − x₁²)² + E x₀² = 4 + 1.
- so3, SO(3) on x = (u, v) ∈ "1o + 1o", y ∈ "1o", f_b = (u₀v₀, v₁, ½): the only equivariant
  bilinear map is u × v, orthogonal to u₀v₀e₀; Q(e₁e₁ᵀv) = v/3; Q(const) = 0; so
  ‖Pf_b‖² = 1 + (1 − 2/3 + 1/3) + ¼ = 23/12.
- so3v, SO(3) on x = u ∈ "1o" (3-D inputs), y ∈ "1o", f_b = (u₀², u₁, ½): no degree-2 vector
  field is equivariant and Q(e₁e₁ᵀu) = u/3, so Pf_b = (u₀² − u₀/3, 2u₁/3, ½ − u₂/3) and
  ‖Pf_b‖² = (3 + 1/9) + 4/9 + (¼ + 1/9) = 47/12.
Every function is a polynomial of degree <= 2, so `LinearRegressor(degree=2)` represents f*;
`test_oracle_matches_closed_form` checks the closed forms with the oracle method.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

import symreg
from symreg.actions import Irreps, Permutation, Vector
from symreg.estimators import Estimate, estimate_data_error
from symreg.groups import SO2, SO3, Symmetric

#: Examples and elements per example of the oracle check of the closed forms.
ORACLE_N = 2**15
ORACLE_SAMPLES = 16


@dataclasses.dataclass(frozen=True)
class Task:
    """A data-generating process with a known η₂ = ε²·ED_2(f_break)."""

    name: str
    symmetry: symreg.Symmetry
    dim: int
    f_sym: Callable
    f_break: Callable
    eps: float
    noise: float
    degree: int
    break_error: float  # ED_2(f_break), closed form

    def target(self, x: jax.Array) -> jax.Array:
        return self.f_sym(x) + self.eps * self.f_break(x)

    def sample(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
        kx, kn = jax.random.split(key)
        x = jax.random.normal(kx, (n, self.dim), jnp.float32)
        f = self.target(x)
        return x, f + self.noise * jax.random.normal(kn, f.shape, jnp.float32)

    def with_eps(self, eps: float) -> Task:
        return dataclasses.replace(self, eps=eps)

    @property
    def eta(self) -> float:
        return self.eps**2 * self.break_error


def _perm_sym(x):
    return 0.5 * jnp.sum(x**2, -1) + 0.5 * jnp.sum(x, -1)


def _perm_break(x):
    return x[:, 0] * x[:, 1] + x[:, 2]


def _so2_sym(x):
    return jnp.sum(x**2, -1)


def _so2_break(x):
    return x[:, 0] ** 2 - x[:, 1] ** 2 + x[:, 0]


def _so3_sym(x):
    u, v = x[:, :3], x[:, 3:]
    return u + 0.5 * jnp.cross(u, v)


def _so3_break(x):
    u, v = x[:, :3], x[:, 3:]
    return jnp.stack([u[:, 0] * v[:, 0], v[:, 1], jnp.full_like(u[:, 0], 0.5)], -1)


def _so3v_sym(x):
    return x


def _so3v_break(x):
    return jnp.stack([x[:, 0] ** 2, x[:, 1], jnp.full_like(x[:, 0], 0.5)], -1)


TASKS = {
    "perm": Task(
        "perm", symreg.Symmetry(Symmetric(4), Permutation()), 4, _perm_sym, _perm_break,
        eps=0.6, noise=0.5, degree=2, break_error=19 / 6,
    ),
    "so2": Task(
        "so2", symreg.Symmetry(SO2(), Vector()), 2, _so2_sym, _so2_break,
        eps=0.25, noise=0.5, degree=2, break_error=10.0,
    ),
    "so3": Task(
        "so3", symreg.Symmetry(SO3(), Irreps("1o + 1o"), Irreps("1o")), 6, _so3_sym, _so3_break,
        eps=0.4, noise=0.5, degree=2, break_error=23 / 6,
    ),
    "so3v": Task(
        "so3v", symreg.Symmetry(SO3(), Irreps("1o"), Irreps("1o")), 3, _so3v_sym, _so3v_break,
        eps=0.25, noise=0.5, degree=2, break_error=47 / 6,
    ),
}  # fmt: skip


def oracle_break_error(name: str, key: jax.Array) -> Estimate:
    """ED_2(f_break) of a task by the oracle method on many samples."""
    task = TASKS[name]
    x = jax.random.normal(key, (ORACLE_N, task.dim), jnp.float32)
    return estimate_data_error(
        x, task.f_break(x), symmetry=task.symmetry, key=jax.random.fold_in(key, 1),
        method="oracle", target_fn=task.f_break,
        num_samples=None if name == "perm" else ORACLE_SAMPLES,
    )  # fmt: skip
