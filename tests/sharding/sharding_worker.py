"""Multi-device checks, run in their own process by tests/sharding/test_sharding.py.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/sharding/sharding_worker.py

Each check runs a symreg computation once on one device and once on a mesh of 8 simulated CPU
devices, (data=8) or (data=4, samples=2), with the batch split over "data" (and the group
samples over "samples", under `jax.set_mesh`). It prints one JSON record per (check, mesh):
the largest relative difference to the one-device result, the output shardings, and the
collectives in the compiled program. The process exits with status 1 and a message on stderr
if any record fails its bounds, so it also works on its own.

The flag is only set when this file runs as a script: pytest imports it (doctest collection)
into a session whose JAX must keep its single device.
"""

from __future__ import annotations

import os
import re
import sys

if __name__ == "__main__":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import json  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import symreg  # noqa: E402
from symreg.actions import Regular  # noqa: E402
from symreg.flax import SymmetryTrainState, make_train_step  # noqa: E402
from symreg.groups import Cyclic  # noqa: E402
from symreg.regularizers import regularized_loss, symmetry_penalty  # noqa: E402
from symreg.sharding import make_mesh, replicate, shard_batch  # noqa: E402

NUM_DEVICES = 8
#: Sharded and one-device results agree to float32 rounding (summation order differs).
RTOL = 1e-6
#: Collectives that would mean the batch layout was not kept (a reduction is expected).
MOVES = ("all-gather", "all-to-all", "collective-permute", "reduce-scatter")
MESHES = {"data8": (8, 1), "data4_samples2": (4, 2)}
B, S, S_ODD, TRAIN_STEPS = 32, 4, 3, 3
SYM = symreg.Symmetry(Cyclic(8), Regular())


def mlp(params, x):
    return jnp.tanh(x @ params["w1"]) @ params["w2"]


def mlp_params():
    k1, k2 = jax.random.split(jax.random.key(0))
    return {"w1": jax.random.normal(k1, (8, 16)) / 3, "w2": jax.random.normal(k2, (16, 8)) / 4}


class Net(nn.Module):
    """Dense → BatchNorm → tanh → Dense: batch statistics must be global, not per device.

    The first Dense has no bias: BatchNorm removes it, so its exact gradient is 0 and its
    float gradient is rounding noise, which an optimizer would amplify into a difference.
    """

    @nn.compact
    def __call__(self, x, train: bool):
        h = nn.Dense(16, use_bias=False)(x)
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
        return nn.Dense(1)(nn.tanh(h))


def relative_difference(reference, sharded) -> float:
    """max |a - b| / max |a| over every leaf of two pytrees."""
    pairs = zip(jax.tree.leaves(reference), jax.tree.leaves(sharded), strict=True)
    worst = 0.0
    for a, b in pairs:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        worst = max(worst, float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30)))
    return worst


def collectives(hlo: str) -> dict[str, int]:
    names = (*MOVES, "all-reduce")
    counts = {c: len(re.findall(rf"\b{c}(-start)?\(", hlo)) for c in names}
    return {c: n for c, n in counts.items() if n}


def run_compiled(fn, *args):
    """Compiles fn on its arguments (shardings included) and runs it; returns (out, hlo)."""
    compiled = jax.jit(fn).lower(*args).compile()
    out = jax.block_until_ready(compiled(*args))
    return out, compiled.as_text()


def kernel_fns():
    """The functions under test, each (params, x, y, key) → outputs; x and y are sharded."""

    def err(shared, num_samples=S):
        return lambda p, x, y, k: symreg.equivariance_error(
            mlp, p, x, k, symmetry=SYM, num_samples=num_samples, share_elements=shared
        )

    pen = lambda p, x, k: symmetry_penalty(mlp, p, x, k, symmetry=SYM, num_samples=S)
    # B' = B/2: one example of each pair at a drawn offset; each device keeps its own rows.
    sub = lambda p, x, k: symmetry_penalty(
        mlp, p, x, k, symmetry=SYM, num_samples=S, penalty_batch_size=B // 2
    )
    mse = lambda pred, t: jnp.mean((pred - t) ** 2)
    objective = regularized_loss(mse, mlp, penalty=symreg.SymmetryPenalty(SYM, num_samples=S))
    return {
        "sampled_iid": err(False),
        "sampled_shared": err(True),
        "sampled_odd_S": err(False, S_ODD),  # S not divisible by "samples": B split only
        "exact": lambda p, x, y, k: symreg.exact_equivariance_error(mlp, p, x, symmetry=SYM),
        "penalty_and_grad": lambda p, x, y, k: jax.value_and_grad(pen)(p, x, k),
        "penalty_sub_batch_and_grad": lambda p, x, y, k: jax.value_and_grad(sub)(p, x, k),
        "regularized_loss_and_grad": lambda p, x, y, k: jax.value_and_grad(objective, has_aux=True)(
            p, x, y, k, jnp.float32(0.5)
        ),
    }


def expected_error_spec(samples: int, num_rows: int) -> tuple:
    """(S or G, B) errors: B on "data", and S on "samples" when that axis divides S."""
    return ("samples" if samples > 1 and num_rows % samples == 0 else None, "data")


def kernel_references(data):
    """The one-device results of every kernel function, computed once for both meshes."""
    return {name: jax.block_until_ready(jax.jit(fn)(*data)) for name, fn in kernel_fns().items()}


def check_kernels(mesh_name, mesh, data, references):
    params, x, y, key = data
    records = []
    for name, fn in kernel_fns().items():
        reference = references[name]
        args = (replicate(params, mesh), shard_batch(x, mesh), shard_batch(y, mesh), key)
        with jax.set_mesh(mesh):
            out, hlo = run_compiled(fn, *args)
        first = jax.tree.leaves(out)[0]
        record = {
            "check": name,
            "mesh": mesh_name,
            "rel_diff": relative_difference(reference, out),
            "collectives": collectives(hlo),
            "devices": len(first.sharding.device_set),
        }
        if name.startswith(("sampled", "exact")):
            record["spec"] = list(first.sharding.spec)
            n = mesh.shape.get("samples", 1)
            record["expected_spec"] = list(expected_error_spec(n, first.shape[0]))
            record["shape"] = list(first.shape)
            record["shard_shape"] = list(first.addressable_shards[0].data.shape)
        else:  # a scalar and the gradient: replicated on every device
            record["replicated"] = all(a.sharding.is_fully_replicated for a in jax.tree.leaves(out))
        records.append(record)
    return records


def train_state(x):
    model = Net()
    variables = model.init(jax.random.key(3), x, train=False)
    return SymmetryTrainState.create(
        apply_fn=model.apply,
        params=variables["params"],
        batch_stats=variables["batch_stats"],
        tx=optax.sgd(1e-2, momentum=0.9),
        tuner=0.5,
        key=jax.random.key(4),
    )


def run_steps(step, state, x, y):
    losses = []
    for _ in range(TRAIN_STEPS):
        state, metrics = step(state, x, y)
        losses.append(metrics["loss"].block_until_ready())  # sync: see the README's traps
    return state, losses


def train_step_fn():
    mse = lambda pred, t: jnp.mean((pred - t) ** 2)
    return make_train_step(
        mse, penalty=symreg.SymmetryPenalty(SYM, num_samples=S), apply_kwargs={"train": True}
    )


def train_reference(data):
    """(initial state, final state, losses) of TRAIN_STEPS one-device steps."""
    _, x, y, _ = data
    state = train_state(x)
    return (state, *run_steps(jax.jit(train_step_fn()), state, x, y))


def check_train_step(mesh_name, mesh, data, reference):
    _, x, y, _ = data
    state, ref_state, ref_losses = reference
    step_fn = train_step_fn()
    args = (replicate(state, mesh), shard_batch(x, mesh), shard_batch(y, mesh))
    with jax.set_mesh(mesh):
        compiled = jax.jit(step_fn).lower(*args).compile()
        new_state, losses = run_steps(compiled, *args)
    leaves = jax.tree.leaves((new_state.params, new_state.batch_stats))
    return [
        {
            "check": "linen_train_step",
            "mesh": mesh_name,
            "rel_diff": max(
                relative_difference(ref_losses, losses),
                relative_difference(
                    (ref_state.params, ref_state.batch_stats),
                    (new_state.params, new_state.batch_stats),
                ),
            ),
            "collectives": collectives(compiled.as_text()),
            "devices": min(len(a.sharding.device_set) for a in leaves),
            "replicated": all(a.sharding.is_fully_replicated for a in leaves),
        }
    ]


def check_uneven_batch(mesh_name, mesh):
    """shard_batch refuses a batch that the data axis does not divide."""
    try:
        shard_batch(jnp.ones((B + 2, 8)), mesh)
    except ValueError as e:
        return [{"check": "uneven_batch", "mesh": mesh_name, "error": str(e)}]
    return [{"check": "uneven_batch", "mesh": mesh_name, "error": None}]


def failures(record) -> list[str]:
    """Why a record fails its bounds (empty when it passes)."""
    if record["check"] == "uneven_batch":
        return [] if record["error"] else ["shard_batch accepted an uneven batch"]
    out = []
    if not record["rel_diff"] <= RTOL:
        out.append(f"relative difference {record['rel_diff']:.3g} > {RTOL}")
    if record["devices"] != NUM_DEVICES:
        out.append(f"outputs on {record['devices']} devices, expected {NUM_DEVICES}")
    moved = {c: n for c, n in record["collectives"].items() if c in MOVES}
    if moved:
        out.append(f"data movement in the compiled program: {moved}")
    if "expected_spec" in record and record["spec"] != record["expected_spec"]:
        out.append(f"output spec {record['spec']}, expected {record['expected_spec']}")
    if record.get("replicated") is False:
        out.append("scalar/params/gradients are not replicated")
    return out


def main() -> int:
    if jax.device_count() != NUM_DEVICES:
        print(f"expected {NUM_DEVICES} devices, got {jax.device_count()}", file=sys.stderr)
        return 2
    kx, ky, kg = jax.random.split(jax.random.key(1), 3)
    x = jax.random.normal(kx, (B, 8))
    data = (mlp_params(), x, jnp.sum(x**2, -1, keepdims=True), kg)
    kernels, training = kernel_references(data), train_reference(data)
    bad = []
    for mesh_name, (n_data, n_samples) in MESHES.items():
        mesh = make_mesh(n_data, n_samples)
        records = check_kernels(mesh_name, mesh, data, kernels)
        records += check_train_step(mesh_name, mesh, data, training)
        for record in records + check_uneven_batch(mesh_name, mesh):
            record["failures"] = failures(record)
            print(json.dumps(record), flush=True)
            bad += [f"{record['check']} on {mesh_name}: {f}" for f in record["failures"]]
    if bad:
        print("FAILED\n" + "\n".join(bad), file=sys.stderr)
        return 1
    print("ALL OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
