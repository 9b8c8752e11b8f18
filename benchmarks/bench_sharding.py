"""Scaling of the kernel and the regularized train step over 1, 2, 4, 8 simulated CPU devices.

The batch is split over a "data" mesh axis of 1, 2, 4 or 8 devices (`symreg.sharding`), and in
one more configuration the group samples over a second "samples" axis (data=4, samples=2).
The devices are XLA's simulated host devices (--xla_force_host_platform_device_count=8, set
here before JAX is imported): they all share the machine's physical CPU cores, so no real
speedup is expected. What the numbers show is the cost of partitioning the same work and of
the cross-device reductions (the collectives found in the compiled program are recorded), not
scaling on real accelerators. Meshes are timed in alternation, and `ratio_to_1` is the median
of per-round ratios to the one-device time.

    python benchmarks/bench_sharding.py [--quick]
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()

import re  # noqa: E402
import statistics  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from _harness import compile_fn, emit, environment, log, parser, time_fn  # noqa: E402
from models import DIM, SYMMETRIES  # noqa: E402

import symreg  # noqa: E402
from symreg.flax import SymmetryTrainState, make_train_step  # noqa: E402
from symreg.sharding import make_mesh, replicate, shard_batch  # noqa: E402

SYM = SYMMETRIES["cyclic64"]
MESHES = ((1, 1), (2, 1), (4, 1), (8, 1), (4, 2))  # (data, samples); --quick drops (4, 2)
COLLECTIVES = ("all-reduce", "all-gather", "all-to-all", "collective-permute", "reduce-scatter")


class MLP(nn.Module):
    width: int
    depth: int

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(DIM)(x)


def mse(pred, y):
    return jnp.mean(jnp.sum((pred - y) ** 2, -1))


def collectives(compiled) -> dict[str, int]:
    text = compiled.as_text()
    counts = {c: len(re.findall(rf"\b{c}(-start)?\(", text)) for c in COLLECTIVES}
    return {c: n for c, n in counts.items() if n}


def kernel_program(model, params, x, key, num_samples, mesh):
    """The sampled kernel, jitted and compiled for this mesh: (compiled, args, compile_s)."""
    apply = lambda p, v: model.apply({"params": p}, v)
    fn = jax.jit(
        lambda p, v, k: symreg.equivariance_error(
            apply, p, v, k, symmetry=SYM, num_samples=num_samples
        )
    )
    args = (replicate(params, mesh), shard_batch(x, mesh), key)
    with jax.set_mesh(mesh):
        compiled, compile_s = compile_fn(fn, *args)
    return compiled, args, compile_s


def step_program(model, params, x, y, num_samples, mesh):
    """One regularized linen train step (make_train_step), compiled for this mesh."""
    state = SymmetryTrainState.create(
        apply_fn=model.apply, params=params, tx=optax.adam(1e-3), tuner=0.1, key=jax.random.key(2)
    )
    step = jax.jit(
        make_train_step(mse, penalty=symreg.SymmetryPenalty(SYM, num_samples=num_samples))
    )
    args = (replicate(state, mesh), shard_batch(x, mesh), shard_batch(y, mesh))
    with jax.set_mesh(mesh):
        compiled, compile_s = compile_fn(step, *args)
    return compiled, args, compile_s


def interleaved(programs, rounds, repeats):
    """Per-mesh median times, timed in alternation, and median per-round ratios to the first."""
    per_round = {name: [] for name in programs}
    for _ in range(rounds):
        for name, (fn, args, _) in programs.items():
            per_round[name].append(time_fn(fn, *args, warmup=1, repeats=repeats)["median_s"])
    base = per_round[next(iter(programs))]
    return {
        name: (
            statistics.median(times),
            statistics.median(b / t for t, b in zip(times, base, strict=True)),
        )
        for name, times in per_round.items()
    }


def bench(what, make, b, s, rounds, repeats, cpu_devices, meshes):
    programs = {}
    for data, samples in meshes:
        mesh = make_mesh(data, samples, devices=cpu_devices)
        programs[(data, samples)] = make(mesh)
        log(f"{what}: compiled for data={data} samples={samples}")
    timings = interleaved(programs, rounds, repeats)
    note = (
        f"{len(cpu_devices)} simulated XLA CPU devices in one process, sharing the same "
        f"{os.cpu_count()} physical CPU cores: no real speedup is expected; the ratios show the "
        "overhead of partitioning and cross-device reductions, not accelerator scaling"
    )
    for (data, samples), (median_s, speedup) in timings.items():
        compiled, _, compile_s = programs[(data, samples)]
        emit(
            {
                "bench": "sharding",
                "what": what,
                "devices": data * samples,
                "mesh": {"data": data, "samples": samples},
                "B": b,
                "S": s,
                "median_ms": 1e3 * median_s,
                "speedup_vs_1_device": speedup,
                "compile_s": compile_s,
                "collectives": collectives(compiled),
                "device_kind": "simulated CPU (--xla_force_host_platform_device_count=8)",
                "physical_cpu_cores": os.cpu_count(),
                "note": note,
            }
        )


def main():
    args = parser(__doc__).parse_args()
    b, s, width, depth = (64, 2, 128, 2) if args.quick else (512, 4, 256, 3)
    rounds, repeats = (3, 5) if args.quick else (7, 9)
    meshes = MESHES[:4] if args.quick else MESHES
    cpu_devices = jax.devices("cpu")
    emit({"bench": "environment", **environment(), "cpu_devices": len(cpu_devices)})
    kx, kp, kk = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (b, DIM))
    y = jnp.roll(x, 1, -1) ** 2
    model = MLP(width, depth)
    params = model.init(kp, x)["params"]
    bench(
        "kernel",
        lambda mesh: kernel_program(model, params, x, kk, s, mesh),
        b,
        s,
        rounds,
        repeats,
        cpu_devices,
        meshes,
    )
    bench(
        "train_step",
        lambda mesh: step_program(model, params, x, y, s, mesh),
        b,
        s,
        rounds,
        repeats,
        cpu_devices,
        meshes,
    )


if __name__ == "__main__":
    main()
