"""Cost of a regularized training step relative to a plain one (same model, batch, optimizer).

Plain: value_and_grad of the MSE and one adam update. Regularized: the same, on
`symreg.regularizers.regularized_loss` (the clean forward is shared with the penalty), with
S = 1 and S = 4 group samples, a sub-batched penalty, and the Lie-derivative penalty. Each
line reports `ratio_to_plain`, measured in the same run. Target: <= 2.2 at S = 1.
Floor (sampled penalties): a plain step on B + S·B' examples, the same number of forward and
backward passes through the MLP; `ratio_to_floor` near 1 means the penalty adds no overhead
beyond them.

    python benchmarks/bench_training.py [--quick]
"""

from __future__ import annotations

import statistics

import jax
import jax.numpy as jnp
import optax
from _harness import compile_fn, emit, environment, log, parser, time_fn
from models import DIM, SYMMETRIES, mlp, mlp_params

import symreg
from symreg.actions import Vector
from symreg.groups import SO3
from symreg.regularizers import SymmetryPenalty, regularized_loss

BATCH = 256
WEIGHT = 0.1
POINTS = 21  # SO(3) model: 21 points in R^3 (63 inputs), flattened into the MLP


def mse(pred, y):
    return jnp.mean(jnp.sum((pred - y) ** 2, -1))


def point_mlp(params, x):
    """The same MLP on a point cloud (B, POINTS, 3), flattened; invariant target."""
    return mlp(params, x.reshape(x.shape[0], -1))


def make_step(loss, tx):
    """A jitted step: grads of loss(params, x, y, key), one optimizer update."""

    def step(params, opt_state, x, y, key):
        value, grads = jax.value_and_grad(loss)(params, x, y, key)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return jax.jit(step)


def plain_loss(apply_fn):
    return lambda p, x, y, key: mse(apply_fn(p, x), y)


def reg_loss(apply_fn, **kwargs):
    objective = regularized_loss(mse, apply_fn, penalty=SymmetryPenalty(**kwargs))
    return lambda p, x, y, key: objective(p, x, y, key, jnp.float32(WEIGHT))[0]


def compiled_step(loss, params, x, y):
    """The step compiled ahead of time, its arguments, and the compile time."""
    tx = optax.adam(1e-3)
    args = (params, tx.init(params), x, y, jax.random.key(1))
    fn, compile_s = compile_fn(make_step(loss, tx), *args)
    return fn, args, compile_s


def interleaved(steps, rounds, repeats):
    """Median times of compiled steps timed in alternation, and per-round ratios to the first.

    Under a shared, noisy CPU, ratios of back-to-back measurements are far more stable than
    ratios of two separately measured medians.
    """
    per_round = {name: [] for name in steps}
    for _ in range(rounds):
        for name, (fn, args, _) in steps.items():
            per_round[name].append(time_fn(fn, *args, warmup=1, repeats=repeats)["median_s"])
    base = per_round[next(iter(steps))]
    return {
        name: {
            "median_s": statistics.median(times),
            "ratio": statistics.median(t / b for t, b in zip(times, base, strict=True)),
            "compile_s": steps[name][2],
        }
        for name, times in per_round.items()
    }


def cyclic_configs():
    sym = SYMMETRIES["cyclic64"]
    yield "sampled S=1", {"symmetry": sym, "num_samples": 1}
    yield "sampled S=4", {"symmetry": sym, "num_samples": 4}
    yield "sampled S=4 sub-batch 64", {"symmetry": sym, "num_samples": 4, "penalty_batch_size": 64}


def floor_batch(x, y, kwargs):
    """B + S·B' examples: the forward/backward work of a sampled penalty, as a plain step."""
    b = kwargs.get("penalty_batch_size") or x.shape[0]
    copies = lambda a: jnp.concatenate([a] + [a[:b]] * kwargs.get("num_samples", 1))
    return copies(x), copies(y)


def bench_config(name, config, kwargs, apply_fn, params, x, y, rounds, repeats):
    steps = {
        "plain": compiled_step(plain_loss(apply_fn), params, x, y),
        "regularized": compiled_step(reg_loss(apply_fn, **kwargs), params, x, y),
    }
    sampled = kwargs.get("method", "sampled") == "sampled"
    if sampled:
        steps["floor"] = compiled_step(plain_loss(apply_fn), params, *floor_batch(x, y, kwargs))
    t = interleaved(steps, rounds, repeats)
    record = {
        "bench": "training",
        "model": name,
        "config": config,
        "method": kwargs.get("method", "sampled"),
        "S": kwargs.get("num_samples", 1) if sampled else None,
        "B": x.shape[0],
        "penalty_B": kwargs.get("penalty_batch_size") or x.shape[0],
        "plain_ms": 1e3 * t["plain"]["median_s"],
        "regularized_ms": 1e3 * t["regularized"]["median_s"],
        "ratio_to_plain": t["regularized"]["ratio"],
        "compile_s": t["regularized"]["compile_s"],
    }
    if sampled:
        record["floor_ms"] = 1e3 * t["floor"]["median_s"]
        record["ratio_to_floor"] = t["regularized"]["ratio"] / t["floor"]["ratio"]
    return record


def main():
    args = parser(__doc__).parse_args()
    rounds, repeats = (5, 5) if args.quick else (15, 9)
    emit({"bench": "environment", **environment()})
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)

    params = mlp_params(kp)
    x, y = jax.random.normal(kx, (BATCH, DIM)), jax.random.normal(ky, (BATCH, DIM))
    for config, kwargs in cyclic_configs():
        log(f"training mlp-cyclic64 {config}")
        emit(bench_config("mlp-cyclic64", config, kwargs, mlp, params, x, y, rounds, repeats))

    params3 = mlp_params(kp, dim_in=3 * POINTS)
    x3 = jax.random.normal(kx, (BATCH, POINTS, 3))
    so3 = symreg.Symmetry(SO3(), Vector())
    for config, kwargs in [
        ("lie SO(3)", {"symmetry": so3, "method": "lie"}),
        ("sampled SO(3) S=1", {"symmetry": so3}),
    ]:
        log(f"training mlp-so3-points {config}")
        emit(
            bench_config(
                "mlp-so3-points", config, kwargs, point_mlp, params3, x3, y, rounds, repeats
            )
        )


if __name__ == "__main__":
    main()
