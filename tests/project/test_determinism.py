"""Determinism: the same key gives bitwise-identical results; other keys, other samples.

Within one process and device, every computation that takes a key (samplers, kernels, the
penalty and its gradient, a few train steps with dual-ascent tuning, an estimator) is run twice with the
same key and must be bitwise identical (no hidden state: global counters, NumPy randomness);
with another key the sampled ones must differ. (Recompiling from a cleared cache was checked
to change nothing too, but doubles the cost, so it is not part of the suite.) A short training run on
8 simulated CPU devices (the batch split over them) must agree with the one-device run within
`MESH_RTOL`: this file, run as a script, is that run (it needs its own process, since the
device count is fixed when JAX starts).

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/project/test_determinism.py
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # only as a script: pytest's JAX keeps its single device
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    os.environ["JAX_PLATFORMS"] = "cpu"

import json  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

import symreg  # noqa: E402
from symreg.actions import Vector  # noqa: E402
from symreg.estimators import LinearRegressor, estimate_data_error  # noqa: E402
from symreg.flax import SymmetryTrainState, make_train_step  # noqa: E402
from symreg.groups import SO2, SO3, Cyclic, Symmetric  # noqa: E402
from symreg.tuning import dual_ascent  # noqa: E402

#: One device and 8 devices agree up to float32 rounding of reductions split over devices.
MESH_RTOL = 1e-6
#: The script's wall-clock limit (about 10 s of CPU alone; room for a loaded CI machine).
MESH_TIMEOUT_S = 240
NUM_DEVICES = 8
TRAIN_STEPS = 4
B, WIDTH, S = 64, 16, 4
SYM = symreg.Symmetry(SO2(), Vector())


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.tanh(nn.Dense(WIDTH)(x))
        return nn.Dense(1)(x)[..., 0]


def data() -> tuple[jax.Array, jax.Array]:
    """An almost rotation-invariant regression on R²: y = |x|² + 0.1·x₀."""
    x = jax.random.normal(jax.random.key(10), (B, 2))
    return x, jnp.sum(x**2, -1) + 0.1 * x[:, 0]


def mse(pred, target):
    return jnp.mean((pred - target) ** 2)


#: Jitted once for the module, so that repeated runs reuse the compiled programs.
INIT = jax.jit(MLP().init)
STEP = jax.jit(make_train_step(mse, penalty=symreg.SymmetryPenalty(SYM, num_samples=S)))
SAMPLE = jax.jit(
    lambda k0, k1, k2: (
        SO3().sample(k0, (8, 3)),
        SO3().sample(k1, (8, 3), sampling="stratified"),
        Symmetric(5).sample(k2, (12,), sampling="stratified"),
    )
)


def train_state(key: jax.Array) -> SymmetryTrainState:
    params = INIT(jax.random.key(11), jnp.ones((1, 2)))["params"]
    tuner = dual_ascent(1e-3, step_size=10.0, max_weight=10.0, init_weight=0.5)
    return SymmetryTrainState.create(
        apply_fn=MLP().apply, params=params, tx=optax.adam(1e-2), tuner=tuner, key=key
    )


def train(key: jax.Array, x: jax.Array, y: jax.Array, place=lambda t: t) -> dict:
    """TRAIN_STEPS jitted steps; every step is synced (many unsynced calls abort jax 0.10)."""
    state, x, y = place((train_state(key), x, y))
    losses, weights = [], []
    for _ in range(TRAIN_STEPS):
        state, metrics = STEP(state, x, y)
        losses.append(metrics["loss"].block_until_ready())
        weights.append(metrics["weight"])
    return {"losses": losses, "weights": weights, "params": state.params, "key": state.key}


def model_fn(params, x):
    return MLP().apply({"params": params}, x)


def computations(key: jax.Array) -> dict[str, object]:
    """Everything keyed that should be a pure function of `key` (plus two keyless kernels)."""
    x, y = data()
    params = train_state(key).params
    ks = jax.random.split(key, 9)
    kern = dict(symmetry=SYM, num_samples=S)
    penalty = lambda p: symreg.symmetry_penalty(model_fn, p, x, ks[6], **kern)
    c4 = symreg.Symmetry(Cyclic(4), Vector())
    return {
        "samples_iid_and_stratified": SAMPLE(*ks[:3]),
        "error_iid": symreg.equivariance_error(model_fn, params, x, ks[3], **kern),
        "error_stratified": symreg.equivariance_error(
            model_fn, params, x, ks[4], sampling="stratified", **kern
        ),
        "error_chunked": symreg.equivariance_error(
            model_fn, params, x, ks[5], chunk_size=40, **kern
        ),
        "penalty_and_grad": jax.value_and_grad(penalty)(params),
        "train": train(ks[7], x, y),
        "estimate_crossfit": estimate_data_error(
            x, y, symmetry=SYM, key=ks[8], regressor=LinearRegressor(degree=2), folds=4
        ),
        "exact": symreg.exact_equivariance_error(model_fn, params, x, symmetry=c4),
        "lie": symreg.lie_derivative_error(model_fn, params, x, symmetry=SYM),
    }


KEYLESS = ("exact", "lie")


def as_numpy(tree):
    """Leaves as NumPy arrays (typed keys as their raw data), for bitwise comparison."""
    unkey = lambda a: jax.random.key_data(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key) else a
    return [np.asarray(unkey(a)) for a in jax.tree.leaves(tree)]


@pytest.fixture(scope="module")
def first_run():
    return computations(jax.random.key(0))


@pytest.mark.slow
def test_same_key_is_bitwise_identical(first_run):
    again = computations(jax.random.key(0))
    for name, value in first_run.items():
        for a, b in zip(as_numpy(value), as_numpy(again[name]), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_other_keys_give_other_samples(first_run):
    other = computations(jax.random.key(1))
    for name, value in first_run.items():
        if name in KEYLESS:
            continue
        first = np.concatenate([a.ravel().astype(np.float64) for a in as_numpy(value)])
        second = np.concatenate([a.ravel().astype(np.float64) for a in as_numpy(other[name])])
        assert not np.array_equal(first, second), name


def relative_difference(reference, other) -> float:
    pairs = zip(as_numpy(reference), as_numpy(other), strict=True)
    return max(float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(a))))) for a, b in pairs)


def mesh_run() -> dict:
    """One-device and 8-device training runs from the same key; their largest difference."""
    from symreg.sharding import make_mesh, replicate, shard_batch

    x, y = data()
    reference = train(jax.random.key(0), x, y)
    mesh = make_mesh()

    def place(args):
        state, xb, yb = args
        return replicate(state, mesh), shard_batch(xb, mesh), shard_batch(yb, mesh)

    with jax.set_mesh(mesh):
        sharded = train(jax.random.key(0), x, y, place)
    floats = lambda r: (r["losses"], r["weights"], r["params"])
    return {
        "devices": len(sharded["losses"][0].sharding.device_set),
        "param_devices": min(
            len(a.sharding.device_set) for a in jax.tree.leaves(sharded["params"])
        ),
        "rel_diff": relative_difference(floats(reference), floats(sharded)),
        "same_key": all(
            np.array_equal(a, b)
            for a, b in zip(*map(as_numpy, (reference["key"], sharded["key"])), strict=True)
        ),
        "losses": [float(v) for v in reference["losses"]],
    }


@pytest.mark.slow
def test_eight_devices_agree_with_one():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        capture_output=True,
        text=True,
        env=env,
        timeout=MESH_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["param_devices"] == NUM_DEVICES, record
    assert record["rel_diff"] <= MESH_RTOL, record
    assert record["same_key"], record


if __name__ == "__main__":
    assert jax.device_count() == NUM_DEVICES, jax.devices()
    print(json.dumps(mesh_run()))
