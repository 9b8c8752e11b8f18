"""Cheaper regularized training: the penalty on a sub-batch and every k steps, against the full
penalty and the plain step, on an MLP for the approximately SO(2)-invariant point-cloud task.

Step cost is timed in alternation with the plain step (median per-round ratio); the final test
error ‖f − f*‖² + σ² (fresh inputs, known f*) is averaged over seeds at a fixed weight β.

    python benchmarks/bench_cheap_training.py [--quick]
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import emit, environment, log, median_ratio, parser, time_interleaved

import symreg
from symreg.experiments.synthetic import cloud2d_task
from symreg.experiments.tasks import Sizes
from symreg.flax import SymmetryTrainState, make_train_step

BATCH, WEIGHT, LR = 256, 1.0, 3e-3
#: name -> make_train_step options; "full" is the reference.
CONFIGS = {
    "full": {},
    "subbatch64": {"penalty_batch_size": 64},
    "every4": {"penalty_every": 4},
    "subbatch64_every2": {"penalty_batch_size": 64, "penalty_every": 2},
    "subbatch64_every4": {"penalty_batch_size": 64, "penalty_every": 4},
}


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = x.reshape(x.shape[0], -1)
        for _ in range(2):
            h = nn.silu(nn.Dense(128)(h))
        return nn.Dense(1)(h)[:, 0]


def mse(pred, y):
    return jnp.mean((pred - y) ** 2)


def make_state(x, seed):
    model = MLP()
    params = model.init(jax.random.key(seed), x[:2])["params"]
    return SymmetryTrainState.create(
        apply_fn=model.apply, params=params, tx=optax.adam(LR), tuner=WEIGHT,
        key=jax.random.key(seed + 1000),
    )  # fmt: skip


def plain_step(state, x, y):
    loss, grads = jax.value_and_grad(lambda p: mse(state.apply_fn({"params": p}, x), y))(
        state.params
    )
    return state.apply_gradients(grads=grads), {"loss": loss}


def train(step, split, seed, steps):
    """Minibatch training with `steps` steps; returns the test error (f vs f*, plus σ²)."""
    state = make_state(split.x_train, seed)
    n = split.x_train.shape[0]

    def body(carry, key):
        idx = jax.random.choice(key, n, (BATCH,), replace=False)
        state, _ = step(carry, split.x_train[idx], split.y_train[idx])
        return state, None

    keys = jax.random.split(jax.random.key(seed + 2000), steps)
    state, _ = jax.lax.scan(body, state, keys)
    pred = state.apply_fn({"params": state.params}, split.x_test)
    return jnp.mean((pred - split.t_test) ** 2) + split.test_offset


def step_costs(steps_by_name, split, repeats, window=4):
    """Seconds per step: `window` consecutive steps (a scan, so the step count advances through
    every phase of penalty_every <= window) timed in alternation, divided by `window`."""
    x, y = split.x_train[:BATCH], split.y_train[:BATCH]
    state = make_state(split.x_train, 0)

    def steps(fn):
        def run(state, x, y):
            body = lambda carry, _: (fn(carry, x, y)[0], None)
            return jax.lax.scan(body, state, None, length=window)[0].params

        return jax.jit(run)

    fns = {name: (steps(fn), (state, x, y)) for name, fn in steps_by_name.items()}
    out = time_interleaved(fns, repeats=repeats)
    for r in out.values():
        r["median_s"] /= window
    return out


def main():
    args = parser(__doc__).parse_args()
    steps, seeds, repeats = (800, 2, 15) if args.quick else (3000, 3, 41)
    task = cloud2d_task()
    sizes = Sizes(n_train=1024, n_test=4096, hidden=(128, 128), estimator_steps=0)
    splits = [task.split(jax.random.key(100 + s), sizes) for s in range(seeds)]
    emit({"bench": "environment", **environment()})
    step_fns = {"plain": plain_step}
    for name, opts in CONFIGS.items():
        sub = opts.get("penalty_batch_size")
        penalty = symreg.SymmetryPenalty(task.symmetry, num_samples=1, penalty_batch_size=sub)
        every = opts.get("penalty_every", 1)
        step_fns[name] = make_train_step(mse, penalty=penalty, penalty_every=every)
    log("timing steps")
    t = step_costs(step_fns, splits[0], repeats)
    errors = {}
    for name, fn in step_fns.items():
        log(f"training {name}")
        run = jax.jit(lambda split, seed, fn=fn: train(fn, split, seed, steps), static_argnums=1)
        errors[name] = np.array([float(run(sp, s)) for s, sp in enumerate(splits)])
    for name in step_fns:
        every = CONFIGS.get(name, {}).get("penalty_every", 1)
        emit({
            "bench": "cheap_training", "config": name, "steps": steps, "seeds": seeds,
            "B": BATCH, "weight": WEIGHT, "penalty_every": every,
            "penalty_batch_size": CONFIGS.get(name, {}).get("penalty_batch_size"),
            "step_ms": 1e3 * t[name]["median_s"],
            "step_over_plain": median_ratio(t[name], t["plain"]),
            "test_error": float(errors[name].mean()),
            "test_error_over_full": float(errors[name].mean() / errors["full"].mean()),
        })  # fmt: skip


if __name__ == "__main__":
    main()
