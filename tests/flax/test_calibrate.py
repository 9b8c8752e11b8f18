"""symreg.flax.calibrate: the user's own model on K folds → η̂, v̂, σ̂², β̂, ε̂.

Oracle: a linear model y = θᵀx + σξ, x ~ N(0, I_d), invariance under Symmetric(d) permuting
the entries. The invariant linear maps are c·Σx_i, so η₂ = 2‖θ − θ̄1‖² (θ̄ the mean entry), and
least squares on m examples has k_A = d − 1 symmetry-breaking directions with estimation
variance v(m) = 2σ²k_A/(m − d − 1) in ED_2 units (docs/architecture.md, "Calibration").
Every statistical bound is in standard errors with fixed keys.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
import pytest
from flax import nnx

import symreg
from symreg.actions import Permutation
from symreg.flax import Calibration, NNXTrainState, SymmetryTrainState, calibrate
from symreg.groups import Symmetric
from symreg.tuning import dual_ascent, target_from_variance, weight_from_variance

D, N, SIGMA, FOLDS, STEPS = 4, 2000, 0.5, 4, 400
#: Adam decayed to 0, so that every fold fit ends at its least-squares solution.
TX = optax.adam(optax.cosine_decay_schedule(0.05, STEPS))
THETA = jnp.array([1.0, 0.6, 0.2, -0.2])
SYM = symreg.Symmetry(Symmetric(D), Permutation())
Z = 4.0  # standard errors


def eta_true() -> float:
    return float(2 * jnp.sum((THETA - THETA.mean()) ** 2))


def v_true(m: int) -> float:
    return 2 * SIGMA**2 * (D - 1) / (m - D - 1)


def mse(pred, target):
    return jnp.mean(jnp.sum((pred - target) ** 2, -1))


def data(key=None, n=N):
    kx, kn = jax.random.split(jax.random.key(0) if key is None else key)
    x = jax.random.normal(kx, (n, D))
    y = (x @ THETA + SIGMA * jax.random.normal(kn, (n,)))[:, None]
    return x, y


def nnx_state(seed=0):
    model = nnx.Linear(D, 1, rngs=nnx.Rngs(seed))
    return NNXTrainState.create(model, TX, key=jax.random.key(1))


def linen_state(seed=0):
    model = nn.Dense(1)
    params = model.init(jax.random.key(seed), jnp.ones((1, D)))["params"]
    return SymmetryTrainState.create(
        apply_fn=model.apply, params=params, tx=TX, key=jax.random.key(1)
    )


@pytest.fixture(scope="module")
def cal() -> Calibration:
    x, y = data()
    return calibrate(nnx_state(), mse, x, y, symmetry=SYM, key=jax.random.key(2), steps=STEPS)


def test_estimate_matches_the_oracle(cal):
    err = abs(float(cal.estimate.value) - eta_true())
    assert err <= Z * float(cal.estimate.stderr), (cal, eta_true())
    assert float(cal.estimate.stderr) < 0.15 * eta_true()


def test_variance_matches_least_squares_at_full_n():
    """v̂ against 2σ²k_A/(m − d − 1)·m/N; d = 16 and K = 8 so that v̂ is precise enough for a
    wrong scaling (the fold-size variance, not scaled to N) to fail the same bound."""
    d, n, folds = 16, 4000, 8
    kx, kn = jax.random.split(jax.random.key(7))
    x = jax.random.normal(kx, (n, d))
    theta = jnp.linspace(-1.0, 1.0, d)
    y = (x @ theta + SIGMA * jax.random.normal(kn, (n,)))[:, None]
    state = NNXTrainState.create(nnx.Linear(d, 1, rngs=nnx.Rngs(0)), TX, key=jax.random.key(1))
    sym = symreg.Symmetry(Symmetric(d), Permutation())
    cal = calibrate(state, mse, x, y, symmetry=sym, key=jax.random.key(8), steps=STEPS,
                    folds=folds, num_samples=8)  # fmt: skip
    m = n // folds
    want = 2 * SIGMA**2 * (d - 1) / (m - d - 1) * m / n
    bound = Z * float(cal.variance.stderr)
    assert abs(float(cal.variance.value) - want) <= bound, (cal, want)
    assert abs(float(cal.variance.value) * folds - want) > bound  # unscaled: fails


def test_noise_matches_sigma2(cal):
    assert abs(float(cal.noise_var.value) - SIGMA**2) <= Z * float(cal.noise_var.stderr), cal


def test_weight_and_target_follow_the_rules(cal):
    v = float(cal.variance.value)
    assert isinstance(cal.weight, float) and isinstance(cal.target, float)
    assert cal.weight == pytest.approx(float(weight_from_variance(cal.estimate, variance=v)))
    assert cal.target == pytest.approx(float(target_from_variance(cal.estimate, variance=v)))
    assert 0 < cal.target < float(cal.estimate.value)  # ε̂ = α̂·η̃ lies below η̂
    assert cal.weight == pytest.approx(v / (2 * float(cal.estimate.value)), rel=0.05)


def test_linen_and_nnx_agree():
    """The same linear model through both frameworks: the same fits, the same statistics."""
    x, y = data(n=400)
    a = calibrate(nnx_state(), mse, x, y, symmetry=SYM, key=jax.random.key(3), steps=200)
    b = calibrate(linen_state(), mse, x, y, symmetry=SYM, key=jax.random.key(3), steps=200)
    # both least-squares fits converge to the same solution whatever the initialization
    for field in ("estimate", "variance", "noise_var"):
        va, vb = float(getattr(a, field).value), float(getattr(b, field).value)
        assert va == pytest.approx(vb, rel=2e-3, abs=1e-5), field


def test_minibatches_and_summary():
    x, y = data(n=400)
    cal = calibrate(
        linen_state(), mse, x, y, symmetry=SYM, key=jax.random.key(4), steps=300, batch_size=32
    )
    assert abs(float(cal.estimate.value) - eta_true()) <= Z * float(cal.estimate.stderr)
    text = str(cal)
    assert text.startswith("Calibration(η̂ = ") and "β̂ = " in text and "K = 4, N = 400" in text


def test_outputs_feed_the_train_state_and_dual_ascent(cal):
    ctrl = dual_ascent(cal.target, step_size=0.1, max_weight=10 * cal.weight + 1,
                       init_weight=cal.weight)  # fmt: skip
    assert float(ctrl.init().weight) == pytest.approx(cal.weight)
    state = SymmetryTrainState.create(
        apply_fn=linen_state().apply_fn, params=linen_state().params, tx=optax.sgd(0.1),
        tuner=cal.weight, key=jax.random.key(0),
    )  # fmt: skip
    assert float(state.tuner_state.weight) == pytest.approx(cal.weight)


def test_rules_take_jax_scalars():
    ctrl = dual_ascent(jnp.float32(0.2), step_size=jnp.float32(1.0), max_weight=10.0)
    assert float(ctrl.init().target) == pytest.approx(0.2)
    state = nnx_state()
    again = NNXTrainState.create(nnx.Linear(D, 1, rngs=nnx.Rngs(0)), optax.sgd(0.1),
                                 tuner=jnp.float32(0.5), key=jax.random.key(0))  # fmt: skip
    assert float(again.tuner_state.weight) == 0.5 and state is not None


def test_nan_target_keeps_the_weight():
    ctrl = dual_ascent(0.1, step_size=1.0, max_weight=10.0, init_weight=2.0)
    st = ctrl.init()._replace(target=jnp.float32(jnp.nan))
    assert float(ctrl.update(st, 5.0).weight) == 2.0
    assert float(ctrl.update(ctrl.init(), 5.0).weight) != 2.0  # a finite target moves it


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"folds": 2}, ValueError, "folds must be >= 3"),
        ({"batch_size": 500}, ValueError, "batch_size must be <="),
        ({"steps": 0}, ValueError, "steps"),
        ({"key": 3}, TypeError, "key"),
        ({"symmetry": "perm"}, TypeError, "symmetry"),
        ({"apply_kwargs": {"train": False}}, ValueError, "apply_kwargs is for linen"),
        ({"fold_inits": "fresh"}, ValueError, "fold_inits must be one of"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    x, y = data(n=400)
    args = {"symmetry": SYM, "key": jax.random.key(0), "steps": 10} | kwargs
    with pytest.raises(error, match=match):
        calibrate(nnx_state(), mse, x, y, **args)


def test_bad_state_and_data():
    x, y = data(n=400)
    with pytest.raises(TypeError, match="state must be"):
        calibrate(object(), mse, x, y, symmetry=SYM, key=jax.random.key(0), steps=10)
    with pytest.raises(ValueError, match="same number of examples"):
        calibrate(nnx_state(), mse, x, y[:-1], symmetry=SYM, key=jax.random.key(0), steps=10)
    bn = nn.BatchNorm(use_running_average=False)
    variables = bn.init(jax.random.key(0), jnp.ones((2, D)))
    state = SymmetryTrainState.create(
        apply_fn=bn.apply, params=variables["params"], tx=optax.sgd(0.1),
        batch_stats=variables["batch_stats"], key=jax.random.key(0),
    )  # fmt: skip
    with pytest.raises(ValueError, match="batch_stats"):
        calibrate(state, mse, x, y, symmetry=SYM, key=jax.random.key(0), steps=10)


def _init_leak(fold_inits: str):
    """A linear model from a large random init, stopped early: every fit keeps ~0.16 of its
    initialization, whose symmetry-breaking part (‖Pθ₀‖² ≈ 60) dwarfs η₂ ≈ 0.76."""
    d, steps = 16, 45  # (1 − 2·0.02)^45 ≈ 0.16
    theta = 1.0 + 0.25 * jnp.linspace(-1.0, 1.0, d)
    kx, kn, k0 = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (N, d))
    y = (x @ theta + SIGMA * jax.random.normal(kn, (N,)))[:, None]
    params = {"kernel": 2.0 * jax.random.normal(k0, (d, 1)), "bias": jnp.zeros(1)}
    state = SymmetryTrainState.create(
        apply_fn=nn.Dense(1).apply, params=params, tx=optax.sgd(0.02), key=jax.random.key(1)
    )
    cal = calibrate(
        state, mse, x, y, key=jax.random.key(5), steps=steps, fold_inits=fold_inits,
        symmetry=symreg.Symmetry(Symmetric(d), Permutation()),
    )  # fmt: skip
    return cal.estimate, float(2 * jnp.sum((theta - theta.mean()) ** 2))


def test_shuffled_fold_inits_keep_the_estimate_unbiased():
    """Fits that keep part of their initialization: with one shuffled initialization per fold
    η̂ matches η₂; from the one shared initialization (the rule before) it is far too low."""
    est, eta = _init_leak("shuffle")
    assert abs(float(est.value) - eta) <= Z * float(est.stderr), (est, eta)
    est, eta = _init_leak("shared")
    assert eta - float(est.value) > Z * float(est.stderr), (est, eta)


def test_shuffled_inits_permute_each_array():
    from symreg.flax._calibrate import _shuffled

    params = {"w": jnp.arange(12.0).reshape(3, 4), "b": jnp.zeros(4), "s": jnp.float32(2.0)}
    out = _shuffled(params, jax.random.key(0), folds=3)
    assert out["w"].shape == (3, 3, 4) and out["s"].shape == (3,)
    for k in range(3):
        assert sorted(out["w"][k].ravel().tolist()) == list(range(12))
    assert len({tuple(out["w"][k].ravel().tolist()) for k in range(3)}) == 3
    assert not out["b"].any() and (out["s"] == 2.0).all()
