"""Smoke test of benchmarks/bench_calibrate.py on one small data set (timings are measured by
the benchmark, never tested), and the warm-up and no-recompile properties it relies on."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import optax
import pytest
from flax import nnx

import symreg
from symreg.actions import Permutation
from symreg.experiments import QUICK
from symreg.flax import NNXTrainState, calibrate, make_train_step
from symreg.flax._calibrate import _fit_folds
from symreg.groups import Symmetric

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_calibrate  # noqa: E402

SYM = symreg.Symmetry(Symmetric(3), Permutation())


def test_record_has_every_piece_and_its_cost():
    small = dataclasses.replace(QUICK, n_train=96, n_test=64, steps=20, hidden=(8,))
    r = bench_calibrate.one("cloud2d", 0, small, rounds=2)
    pieces = {"plain", "calibrate", "tuned", "validation_grid"}
    assert set(r["seconds"]) == set(r["seconds_cold"]) == pieces
    assert all(t > 0 for t in r["seconds"].values())
    assert set(r["excess"]) == {"plain", "tuned", "validation_grid"}
    assert r["weight"] > 0 and r["tuned_cost_over_validation"] > 0
    ratios = r["ratio_to_plain"]
    assert ratios["calibrate_plus_tuned"] == ratios["calibrate"] + ratios["tuned"]
    assert r["rounds"] == 2 and r["penalty_batch_size"] is None


TX = optax.sgd(0.1)  # one optimizer object: the compiled fold program is keyed on it


def _state(tuner=0.0):
    model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
    return NNXTrainState.create(model, TX, tuner=tuner, key=jax.random.key(1))


def test_calibrate_compiles_its_fold_program_once():
    x = jax.random.normal(jax.random.key(0), (60, 3))
    y = (x.sum(1) + 0.5 * x[:, 0])[:, None]
    mse = lambda p, t: jnp.mean((p - t) ** 2)
    calibrate(_state(), mse, x, y, symmetry=SYM, key=jax.random.key(1), steps=5)
    before = _fit_folds._cache_size()
    calibrate(_state(), mse, x, y, symmetry=SYM, key=jax.random.key(2), steps=5)
    assert _fit_folds._cache_size() == before
    calibrate(_state(), mse, x, y, symmetry=SYM, key=jax.random.key(2), steps=6)
    assert _fit_folds._cache_size() == before + 1  # another number of steps: a new program


def test_warmup_ramps_the_applied_weight_and_keeps_the_controllers():
    x = jax.random.normal(jax.random.key(0), (16, 3))
    y = x[:, :1]
    mse = lambda p, t: jnp.mean((p - t) ** 2)
    step = jax.jit(
        make_train_step(mse, penalty=symreg.SymmetryPenalty(SYM), warmup_steps=4, framework="nnx")
    )
    state = _state(tuner=2.0)
    applied = []
    for _ in range(6):
        state, metrics = step(state, x, y)
        applied.append(float(metrics["weight"]))
    assert applied == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0, 2.0])
    assert float(state.tuner_state.weight) == 2.0  # the constant weight itself is kept
    with pytest.raises(ValueError, match="penalty_every=1"):
        make_train_step(mse, penalty=symreg.SymmetryPenalty(SYM), warmup_steps=4, penalty_every=2)
