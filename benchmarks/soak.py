"""Soak test: 20,000 steps of tuned, regularized training on CPU (not a unit test).

An MLP (2 hidden layers of 64, tanh) learns an approximately SO(2)-invariant regression on
R², f*(x) = |x|² + ε·x₀ with noise σ, from N training examples in minibatches of 128, with the
sampled symmetry penalty (S = 4) and dual ascent (log space) driving the model's ED_2 to the
target ε_target = η₂ = 2ε² (the data's error; N is large, so the finite-n correction is
small). The user's loop is the plain one: a jitted `symreg.flax` step called once per step
from Python. Reported: the process RSS at the start (after compilation and a warm-up) and at
the end (flat within 5% means nothing accumulates per step), the number of non-finite
losses (must be 0), the weight β and the measured penalty at a few checkpoints, and at the
end the model's ED_2 (on fresh inputs, with its s.e.) against the target and its test error
against f*.

    python benchmarks/soak.py [--quick]     # --quick: 2,000 steps
"""

from __future__ import annotations

import math
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import emit, environment, log, parser

import symreg
from symreg.actions import Vector
from symreg.flax import SymmetryTrainState, make_train_step
from symreg.groups import SO2
from symreg.tuning import dual_ascent

STEPS, QUICK_STEPS = 20_000, 2_000
WARMUP = 200  # steps before the starting RSS is read (compilation, allocator warm-up)
CHECKPOINTS = 10
N, BATCH, WIDTH, S = 8192, 128, 64, 4
EPS, SIGMA = 0.3, 0.3  # symmetry breaking ε·x₀ and noise σ
ETA = 2 * EPS**2  # η₂ = E_g E_x (ε((gx)₀ − x₀))² = 2ε² for x ~ N(0, I)
RSS_TOLERANCE = 0.05
SYM = symreg.Symmetry(SO2(), Vector())


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        for _ in range(2):
            x = nn.tanh(nn.Dense(WIDTH)(x))
        return nn.Dense(1)(x)[..., 0]


def target_fn(x):
    return jnp.sum(x**2, -1) + EPS * x[..., 0]


def rss_bytes() -> int:
    """The resident set size of this process (Linux /proc), in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def mse(pred, y):
    return jnp.mean((pred - y) ** 2)


def make_data(key):
    kx, kn = jax.random.split(key)
    x = jax.random.normal(kx, (N, 2))
    return x, target_fn(x) + SIGMA * jax.random.normal(kn, (N,))


@jax.jit
def minibatch(x, y, key):
    idx = jax.random.randint(key, (BATCH,), 0, N)
    return x[idx], y[idx]


def initial_state(key):
    params = MLP().init(key, jnp.ones((1, 2)))["params"]
    tuner = dual_ascent(ETA, step_size=0.01, max_weight=100.0, init_weight=0.1, log_space=True)
    return SymmetryTrainState.create(
        apply_fn=MLP().apply, params=params, tx=optax.adam(1e-3), tuner=tuner, key=key
    )


def evaluate(params, key):
    """The model's ED_2 on fresh inputs (mean ± s.e.) and its test error against f*."""
    kx, kg = jax.random.split(key)
    x = jax.random.normal(kx, (4096, 2))
    apply = lambda p, xb: MLP().apply({"params": p}, xb)
    measure = jax.jit(
        lambda p, x, k: symreg.equivariance_error(apply, p, x, k, symmetry=SYM, num_samples=16)
    )
    errors = measure(params, x, kg)
    per_example = errors.mean(0)
    return {
        "model_ed2": float(per_example.mean()),
        "model_ed2_se": float(per_example.std() / math.sqrt(per_example.shape[0])),
        "test_mse_vs_fstar": float(mse(apply(params, x), target_fn(x))),
    }


def train(steps: int) -> dict:
    kd, ki, kb, ke = jax.random.split(jax.random.key(0), 4)
    x, y = make_data(kd)
    state = initial_state(ki)
    step = jax.jit(make_train_step(mse, penalty=symreg.SymmetryPenalty(SYM, num_samples=S)))
    marks = set(np.linspace(0, steps, CHECKPOINTS + 1, dtype=int)[1:] - 1) | {0}
    trajectory, non_finite, rss_start, rss_trace = [], 0, None, []
    t0 = time.perf_counter()
    for i in range(steps):
        state, metrics = step(state, *minibatch(x, y, jax.random.fold_in(kb, i)))
        if i == WARMUP or i in marks:
            loss = float(metrics["loss"])  # also syncs the loop
            non_finite += not math.isfinite(loss)
        if i == WARMUP:
            rss_start = rss_bytes()
        if i in marks:
            rss_trace.append(rss_bytes())
            trajectory.append(
                {
                    "step": i + 1,
                    "weight": float(state.tuner_state.weight),
                    "penalty": float(metrics["equivariance_error"]),
                    "loss": loss,
                }
            )
            log(f"soak step {i + 1}: {trajectory[-1]}")
        elif i % 50 == 0:
            non_finite += not bool(jnp.isfinite(metrics["loss"]))
    seconds = time.perf_counter() - t0
    rss_end = rss_bytes()
    params_finite = all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(state.params))
    return {
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "rss_start_mb": rss_start / 2**20,
        "rss_end_mb": rss_end / 2**20,
        "rss_growth": rss_end / rss_start - 1,
        "rss_flat": abs(rss_end / rss_start - 1) <= RSS_TOLERANCE,
        "rss_trace_mb": [r / 2**20 for r in rss_trace],
        "non_finite_losses_seen": non_finite,
        "params_finite": params_finite,
        "target_ed2": ETA,
        "trajectory": trajectory,
        **evaluate(state.params, ke),
    }


def main():
    args = parser(__doc__).parse_args()
    steps = QUICK_STEPS if args.quick else STEPS
    emit({"bench": "environment", **environment()})
    log(f"soak: {steps} steps")
    emit({"bench": "soak", "N": N, "B": BATCH, "S": S, "width": WIDTH, **train(steps)})


if __name__ == "__main__":
    main()
