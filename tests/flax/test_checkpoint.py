"""Checkpoint and resume with orbax-checkpoint (the recipe in `symreg.flax.SymmetryTrainState`).

A `SymmetryTrainState` carries everything a run needs (parameters, optimizer state, the
tuner's state, the PRNG key, the step), so orbax's `StandardSave`/`StandardRestore` into a
template built like the original resumes a run exactly: the resumed losses and weights equal
the uninterrupted run's bitwise on CPU. A save killed halfway (SIGKILL during orbax's commit,
in tests/flax/checkpoint_worker.py) leaves the previous checkpoint the latest and loadable.
"""

from __future__ import annotations

import importlib.util
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import symreg
from symreg.actions import Vector
from symreg.flax import NNXTrainState, SymmetryTrainState, make_train_step
from symreg.groups import SO2
from symreg.tuning import dual_ascent

ocp = pytest.importorskip("orbax.checkpoint")

WORKER = Path(__file__).resolve().parent / "checkpoint_worker.py"
#: The worker needs a few seconds (imports, a 16 MB save); room for a loaded CI machine.
WORKER_TIMEOUT_S = 120
SYM = symreg.Symmetry(SO2(), Vector())
STEPS_BEFORE, STEPS_AFTER = 3, 3


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.tanh(nn.Dense(16)(x)))[..., 0]


def mse(pred, target):
    return jnp.mean((pred - target) ** 2)


STEP = jax.jit(make_train_step(mse, penalty=symreg.SymmetryPenalty(SYM, num_samples=4)))


def data():
    x = jax.random.normal(jax.random.key(10), (64, 2))
    return x, jnp.sum(x**2, -1) + 0.1 * x[:, 0]


def linen_state(seed: int) -> SymmetryTrainState:
    params = MLP().init(jax.random.key(seed), jnp.ones((1, 2)))["params"]
    tuner = dual_ascent(1e-3, step_size=0.05, max_weight=10.0, init_weight=0.5, log_space=True)
    return SymmetryTrainState.create(
        apply_fn=MLP().apply,
        params=params,
        tx=optax.adam(1e-2),
        tuner=tuner,
        key=jax.random.key(seed),
    )


def run(step, state, num_steps: int):
    x, y = data()
    losses = []
    for _ in range(num_steps):
        state, metrics = step(state, x, y)
        losses.append(np.asarray(metrics["loss"]))
    return state, losses


def as_numpy(tree) -> list[np.ndarray]:
    unkey = lambda a: jax.random.key_data(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key) else a
    return [np.asarray(unkey(jnp.asarray(a))) for a in jax.tree.leaves(tree)]


def assert_bitwise_equal(a, b) -> None:
    left, right = as_numpy(a), as_numpy(b)
    assert len(left) == len(right)
    for u, v in zip(left, right, strict=True):
        np.testing.assert_array_equal(u, v)


def save(directory: Path, state) -> None:
    manager = ocp.CheckpointManager(directory)
    manager.save(int(np.asarray(state.tuner_state.count)), args=ocp.args.StandardSave(state))
    manager.wait_until_finished()
    manager.close()


def restore(directory: Path, template):
    manager = ocp.CheckpointManager(directory)
    restored = manager.restore(manager.latest_step(), args=ocp.args.StandardRestore(template))
    manager.close()
    return restored


def check_resume(step, make_state, directory: Path) -> None:
    """Uninterrupted run vs. save after STEPS_BEFORE, restore into a fresh template, go on."""
    middle, _ = run(step, make_state(0), STEPS_BEFORE)
    save(directory, middle)
    final, losses = run(step, middle, STEPS_AFTER)
    restored = restore(directory, make_state(1))  # another seed: nothing leaks from it
    assert_bitwise_equal(restored, middle)
    resumed, resumed_losses = run(step, restored, STEPS_AFTER)
    np.testing.assert_array_equal(np.stack(resumed_losses), np.stack(losses))
    assert_bitwise_equal(resumed, final)


@pytest.mark.slow
def test_linen_resume_is_bitwise_identical(tmp_path):
    check_resume(STEP, linen_state, tmp_path / "linen")


def nnx_state(seed: int) -> NNXTrainState:
    model = nnx.Sequential(
        nnx.Linear(2, 16, rngs=nnx.Rngs(seed)), nnx.tanh, nnx.Linear(16, 1, rngs=nnx.Rngs(seed))
    )
    tuner = dual_ascent(1e-3, step_size=10.0, max_weight=10.0, init_weight=0.5)
    return NNXTrainState.create(model, optax.adam(1e-2), tuner=tuner, key=jax.random.key(seed))


def test_nnx_resume_is_bitwise_identical(tmp_path):
    step = jax.jit(
        make_train_step(
            lambda p, t: mse(p[..., 0], t),
            penalty=symreg.SymmetryPenalty(SYM, num_samples=4),
            framework="nnx",
        )
    )
    check_resume(step, nnx_state, tmp_path / "nnx")


def load_worker():
    spec = importlib.util.spec_from_file_location("checkpoint_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for(proc: subprocess.Popen, marker: str, deadline: float) -> list[str]:
    """Lines of the worker's stdout up to `marker`; fails past the deadline or at its exit."""
    lines = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if not ready:
            continue
        line = proc.stdout.readline()
        if not line:
            break  # the worker exited
        lines.append(line.strip())
        if line.strip() == marker:
            return lines
    proc.kill()
    pytest.fail(f"worker did not print {marker!r}: {lines}; stderr: {proc.stderr.read()[-2000:]}")


@pytest.mark.slow
def test_a_save_killed_halfway_leaves_the_last_checkpoint(tmp_path):
    directory = tmp_path / "killed"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = wait_for(proc, "WRITTEN 2", time.monotonic() + WORKER_TIMEOUT_S)
        os.kill(proc.pid, signal.SIGKILL)  # step 2's data is on disk, its commit is not
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert lines[-2:] == ["SAVED 1", "WRITTEN 2"]
    names = sorted(p.name for p in directory.iterdir())
    assert "1" in names and "2" not in names, names
    assert any(n.startswith("2.") and "tmp" in n for n in names), names  # the half-done save

    worker = load_worker()
    manager = ocp.CheckpointManager(directory)
    assert manager.all_steps() == [1]
    restored = manager.restore(1, args=ocp.args.StandardRestore(worker.make_state(0)))
    manager.close()
    assert_bitwise_equal(restored, worker.make_state(1))
