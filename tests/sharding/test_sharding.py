"""Tests of symreg.sharding and of the kernels, penalty and train step on a device mesh.

The multi-device checks need 8 (simulated CPU) devices, but this pytest session's JAX is
already initialized with one: tests/sharding/sharding_worker.py runs them in its own process with
XLA_FLAGS=--xla_force_host_platform_device_count=8 and prints one JSON record per (check,
mesh); the tests here assert on those records. The API tests run here, on one device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest
from jax.sharding import AxisType, PartitionSpec

import symreg
from symreg.actions import Regular
from symreg.equivariance._pairs import sample_shards
from symreg.groups import Cyclic
from symreg.sharding import DATA_AXIS, SAMPLE_AXIS, make_mesh, replicate, shard_batch
from symreg.sharding._place import _replicate_across_processes

WORKER = Path(__file__).resolve().parent / "sharding_worker.py"
#: The worker takes about 20 s of CPU; the limit leaves room for a loaded CI machine.
WORKER_TIMEOUT_S = 240
NUM_DEVICES = 8
#: Sharded and one-device results agree to float32 rounding (summation order differs).
RTOL = 1e-6
#: name → (size of "data", size of "samples"), as in the worker.
MESHES = {"data8": (8, 1), "data4_samples2": (4, 2)}
CHECKS = (
    "sampled_iid",
    "sampled_shared",
    "sampled_odd_S",
    "exact",
    "penalty_and_grad",
    "penalty_sub_batch_and_grad",
    "regularized_loss_and_grad",
    "linen_train_step",
)
#: Collectives that would mean the batch layout was not kept (a reduction is expected).
MOVES = ("all-gather", "all-to-all", "collective-permute", "reduce-scatter")


def run_worker():
    """Runs the worker: (return code, {(check, mesh): record}, stdout and stderr)."""
    flags = f"--xla_force_host_platform_device_count={NUM_DEVICES}"
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")  # CPU even where a GPU is
    proc = subprocess.run(
        [sys.executable, str(WORKER)],
        capture_output=True,
        text=True,
        env=env,
        timeout=WORKER_TIMEOUT_S,
    )
    records = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            records[(record["check"], record["mesh"])] = record
    return proc.returncode, records, proc.stdout + proc.stderr


def problems(record, mesh) -> list[str]:
    """What is wrong with one (check, mesh) record of a sharded run."""
    out = []
    if not record["rel_diff"] <= RTOL:
        out.append(f"differs from one device by {record['rel_diff']:.3g} (relative)")
    if record["devices"] != NUM_DEVICES:
        out.append(f"outputs on {record['devices']} devices")
    moved = {c: n for c, n in record["collectives"].items() if c in MOVES}
    if moved:
        out.append(f"moves data between devices: {moved}")
    if "spec" in record:  # per-pair errors stay split: B on "data" (and S on "samples")
        (rows, batch), (n_data, n_samples) = record["shape"], MESHES[mesh]
        split = n_samples if record["spec"][0] == SAMPLE_AXIS else 1
        if record["spec"] != record["expected_spec"]:
            out.append(f"errors sharded {record['spec']}, expected {record['expected_spec']}")
        if record["shard_shape"] != [rows // split, batch // n_data]:
            out.append(f"a device holds {record['shard_shape']} of {[rows, batch]}")
    elif not record["replicated"]:  # the loss, gradient, parameters and batch statistics
        out.append("scalars/parameters are not replicated")
    return out


@pytest.mark.slow
def test_sharded_runs_equal_one_device_and_stay_split():
    """Every check on both meshes: equal results, sharded outputs, no data movement.

    One test, so that the worker (about 20 s of CPU) runs once even under pytest-xdist.
    """
    returncode, records, output = run_worker()
    assert returncode == 0 and "ALL OK" in output, output[-4000:]
    bad = []
    for mesh in MESHES:
        for check in CHECKS:
            record = records.get((check, mesh))
            found = problems(record, mesh) if record else ["no record"]
            bad += [f"{check} on {mesh}: {p}" for p in found]
        uneven = records.get(("uneven_batch", mesh), {}).get("error")
        if not (uneven and "multiple of" in uneven):
            bad.append(f"shard_batch accepted a batch that {mesh} does not divide")
    assert not bad, "\n".join(bad)


# --- the API on one device ------------------------------------------------------------------


def test_make_mesh_axes_are_auto():
    mesh = make_mesh()
    assert mesh.axis_names == (DATA_AXIS,) and mesh.size == jax.device_count()
    assert mesh.axis_types == (AxisType.Auto,)
    two = make_mesh(1, 1, devices=jax.devices()[:1])
    assert two.axis_names == (DATA_AXIS,)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"data": 2 * jax.device_count()}, ValueError),
        ({"samples": 0}, ValueError),
        ({"samples": 2 * jax.device_count() + 1}, ValueError),
        ({"data": 1.5}, TypeError),
    ],
)
def test_make_mesh_rejects_bad_sizes(kwargs, error):
    with pytest.raises(error, match="data|samples"):
        make_mesh(**kwargs)


def test_shard_batch_and_replicate_place_every_leaf():
    mesh = make_mesh()
    batch = shard_batch({"a": jnp.ones((4, 2)), "b": jnp.zeros(4)}, mesh)
    assert all(v.sharding.spec == PartitionSpec(DATA_AXIS) for v in batch.values())
    params = replicate({"w": jnp.ones((2, 3)), "key": jax.random.key(0)}, mesh)
    assert all(v.sharding.is_fully_replicated for v in params.values())
    assert jax.random.key_data(params["key"]).shape == (2,)


@pytest.mark.parametrize(
    "x, mesh, axis, error, match",
    [
        (jnp.float32(1.0), "mesh", DATA_AXIS, ValueError, "scalar"),
        (jnp.ones(4), "mesh", "model", ValueError, "axis"),
        (jnp.ones(4), "mesh", (), ValueError, "axis"),
        (jnp.ones(4), None, DATA_AXIS, TypeError, "Mesh"),
    ],
)
def test_shard_batch_rejects_bad_arguments(x, mesh, axis, error, match):
    mesh = make_mesh() if mesh == "mesh" else mesh
    with pytest.raises(error, match=match):
        shard_batch(x, mesh, axis)


def test_replicate_rejects_a_non_mesh():
    with pytest.raises(TypeError, match="Mesh"):
        replicate(jnp.ones(3), "data")


def test_sample_axis_is_used_only_under_a_context_mesh_that_divides_s():
    assert sample_shards(4) == 1  # no context mesh
    mesh = jax.make_mesh((1, 1), (DATA_AXIS, SAMPLE_AXIS), axis_types=(AxisType.Auto,) * 2)
    with jax.set_mesh(mesh):
        assert sample_shards(4) == 1  # an axis of size 1 splits nothing
    explicit = jax.make_mesh((1,), (SAMPLE_AXIS,), axis_types=(AxisType.Explicit,))
    with jax.set_mesh(explicit):
        assert sample_shards(4) == 1


def test_kernel_under_a_one_device_context_mesh_matches():
    """The same call under `jax.set_mesh` (one device) retraces and gives the same errors."""
    sym = symreg.Symmetry(Cyclic(4), Regular())
    f = lambda w, x: jnp.tanh(x * w)  # breaks the circular-shift symmetry through w
    w, x = jnp.arange(1.0, 5.0), jax.random.normal(jax.random.key(0), (4, 4))
    plain = symreg.equivariance_error(f, w, x, jax.random.key(1), symmetry=sym, num_samples=2)
    mesh = make_mesh(1, 1, devices=jax.devices()[:1])
    with jax.set_mesh(mesh):
        placed = symreg.equivariance_error(
            f,
            replicate(w, mesh),
            shard_batch(x, mesh),
            jax.random.key(1),
            symmetry=sym,
            num_samples=2,
        )
    assert float(jnp.max(plain)) > 0.0
    assert jnp.array_equal(plain, placed)


def test_multi_process_replication_keeps_keys_nan_and_scalars():
    """The multi-process path of `replicate` (run here on one process, where it also works)."""
    mesh = make_mesh()
    sharding = jax.sharding.NamedSharding(mesh, PartitionSpec())
    tree = {"key": jax.random.key(3), "target": jnp.float32(jnp.nan), "step": 0}
    out = jax.tree.map(lambda a: _replicate_across_processes(a, sharding), tree)
    assert all(a.sharding.is_fully_replicated for a in jax.tree.leaves(out))
    assert jnp.array_equal(jax.random.key_data(out["key"]), jax.random.key_data(tree["key"]))
    assert bool(jnp.isnan(out["target"])) and int(out["step"]) == 0
