"""Acceptance checks of the tuning rules: a linear-Gaussian model and an MLP, on excess risk.

Every comparison is on excess risk (risk − σ²): what the models control. A ratio of risks that
include σ² is diluted by the noise floor (with σ² = 1 a rule that always returns the cap passed
a 1.05 check on risk while losing 25% of excess risk), so each check is paired with a test that
the cap, used as a constant weight, fails it.

1. Linear-Gaussian (closed forms, exact population risk). d = 10, x ~ N(0, I), y = θᵀx + ξ,
   σ = 1, n = 100; C_6 shifts the first 6 coordinates and fixes the last 4, so dim E = 5 and
   k_A = 5; ‖(I − Φ)θ‖² = 0.1225, i.e. η₂ = 0.245. The model minimizes
   (1/n)Σ(y − wᵀx)² + β·ED_2(w) with ED_2(w) = 2‖(I − Φ)w‖². Per data set: η̂ from
   `estimate_data_error(method="crossfit", regressor=LinearRegressor)`, v = 2σ̂²k_A/(n − d − 1)
   (`symreg.theory.estimation_variance`, σ̂² from the residuals) and β̂ =
   `symreg.tuning.weight_from_variance`. The excess risk ‖w − θ‖², averaged over R data sets,
   must be within 5% of the best of a grid of 19 weights (averaged over the same data sets).
   (At n = 40 the estimate's s.e. exceeds η and no rule from the data reaches 5%: 1.18–1.25.)

2. Nonlinear: an MLP on 2-D points, y = f_sym(x) + ε·f_break(x) + noise, SO(2), three levels
   ε ∈ {0, 0.05, 0.1} (η₂ = 10ε²), two data sets each, through the main job
   (`symreg.experiments.tradeoff.run_task`: `symreg.flax.calibrate`, then every run of the
   library's train step in one vmapped call). Excess test error: ‖f − f*‖² on 2048 fresh
   inputs, averaged over the four data sets. At ε = 0 the excess errors are ~0.003–0.005, and
   their ratio says little: there the check is that the tuned model beats the unregularized
   one; the 5% check applies where the data break the symmetry.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg import theory, tuning
from symreg.actions import Regular, Trivial, Vector
from symreg.estimators import LinearRegressor, estimate_data_error
from symreg.experiments.config import QUICK
from symreg.experiments.tasks import NormalInputs, SyntheticTask
from symreg.experiments.tradeoff import run_task
from symreg.groups import SO2, Cyclic

#: The tuned model's (expected) test risk must be within this factor of the grid's best.
RISK_TOLERANCE = 1.05
#: Dual ascent must bring the model error within this fraction of its target.
DUAL_RTOL = 0.10

# --- 1. linear-Gaussian ---------------------------------------------------------------------

D, N, SIGMA, DATA_SETS = 10, 100, 1.0, 200
LINEAR_GRID = np.geomspace(1e-3, 1e3, 19)
LINEAR_SYM = symreg.Symmetry(Cyclic(6), (Regular(), Trivial()))
#: Φ = E_g ψ(g): the mean of the 6 shifts on the first block, the identity on the second.
PHI = np.block([[np.full((6, 6), 1 / 6), np.zeros((6, 4))], [np.zeros((4, 6)), np.eye(4)]])
BREAK = np.eye(D) - PHI
_U = np.zeros(D)
_U[:2] = [1 / np.sqrt(2), -1 / np.sqrt(2)]  # a unit vector in the breaking space (sum 0)
THETA = np.concatenate([np.full(6, 0.5), [1.0, -1.0, 0.5, 2.0]]) + 0.35 * _U
FEATURES = LinearRegressor(features=lambda z: z)  # wᵀx, no intercept (one compilation)


def _penalized_fit(x, y, beta):
    """argmin (1/n)‖y − Xw‖² + β·2‖(I − Φ)w‖², the closed form."""
    gram = x.T @ x / x.shape[0] + 2.0 * beta * jnp.asarray(BREAK, jnp.float32)
    return jnp.linalg.solve(gram, x.T @ y / x.shape[0])


def _linear_excess(w):
    """The excess risk ‖w − θ‖² (the population risk less σ²)."""
    return jnp.sum(jnp.square(w - jnp.asarray(THETA, jnp.float32)))


@pytest.fixture(scope="module")
def linear_runs():
    def draw(k):
        kx, kn = jax.random.split(k)
        x = jax.random.normal(kx, (N, D))
        return x, x @ jnp.asarray(THETA, jnp.float32) + SIGMA * jax.random.normal(kn, (N,))

    xs, ys = jax.vmap(draw)(jax.random.split(jax.random.key(0), DATA_SETS))
    keys = jax.random.split(jax.random.key(1), DATA_SETS)
    estimates = [
        estimate_data_error(
            (xs[r, :, :6], xs[r, :, 6:]),
            ys[r],
            symmetry=LINEAR_SYM,
            key=keys[r],
            method="crossfit",
            regressor=FEATURES,
            folds=3,
        )  # fmt: skip
        for r in range(DATA_SETS)
    ]
    residual = lambda x, y: jnp.sum(jnp.square(y - x @ jnp.linalg.lstsq(x, y)[0])) / (N - D)
    noise_var = np.asarray(jax.vmap(residual)(xs, ys))
    variances = [float(theory.estimation_variance(float(s2), 5, N, D)) for s2 in noise_var]
    betas = [
        float(tuning.weight_from_variance(e, variance=v))
        for e, v in zip(estimates, variances, strict=True)
    ]
    excess = jax.vmap(lambda x, y, b: _linear_excess(_penalized_fit(x, y, b)))
    mean_excess = lambda b: float(excess(xs, ys, jnp.asarray(b, jnp.float32)).mean())
    constant = lambda b: mean_excess(jnp.full(DATA_SETS, b))
    symmetrized = jax.vmap(
        lambda x, y: _linear_excess(jnp.asarray(PHI, jnp.float32) @ _penalized_fit(x, y, 0.0))
    )
    return {
        "grid": np.asarray([constant(b) for b in LINEAR_GRID]),
        "tuned": mean_excess(betas),
        "ols": constant(0.0),
        "cap": constant(LINEAR_GRID[-1]),
        "symmetrized": float(symmetrized(xs, ys).mean()),
        "betas": np.asarray(betas),
        "eta_hat": np.asarray([float(e.value) for e in estimates]),
    }


def test_linear_setup_matches_the_brief():
    assert np.trace(PHI) == pytest.approx(5.0)
    assert np.sum(np.square(BREAK @ THETA)) == pytest.approx(0.1225)
    # Φ is the projection E_g ψ(g) of the action used by the estimator.
    shifts = np.stack([np.roll(np.eye(6), k, axis=0) for k in range(6)]).mean(0)
    np.testing.assert_allclose(PHI[:6, :6], shifts, atol=1e-12)


def _within_tolerance(value: float, best: float) -> bool:
    return value <= RISK_TOLERANCE * best


@pytest.mark.slow
def test_linear_gaussian_tuned_weight_is_within_5_percent_of_the_grid(linear_runs):
    best = linear_runs["grid"].min()
    print(
        f"\nlinear-Gaussian: tuned excess {linear_runs['tuned']:.4f}, grid best {best:.4f} at "
        f"β = {LINEAR_GRID[linear_runs['grid'].argmin()]:.3g} (ratio {linear_runs['tuned'] / best:.4f}); "
        f"OLS {linear_runs['ols']:.4f}, symmetrized {linear_runs['symmetrized']:.4f}, cap "
        f"{linear_runs['cap']:.4f}; median β̂ {np.median(linear_runs['betas']):.3g}"
    )
    assert len(LINEAR_GRID) >= 15
    assert _within_tolerance(linear_runs["tuned"], best)
    # The rule also beats both ends: no penalty (OLS) and the exactly symmetrized fit Φŵ.
    assert linear_runs["tuned"] < linear_runs["ols"]
    assert linear_runs["tuned"] < linear_runs["symmetrized"]


@pytest.mark.slow
def test_linear_gaussian_check_fails_plausible_wrong_rules(linear_runs):
    """The check can fail: the cap as a constant weight, and no penalty, both miss 5%."""
    best = linear_runs["grid"].min()
    assert not _within_tolerance(linear_runs["cap"], best), linear_runs["cap"] / best
    assert not _within_tolerance(linear_runs["ols"], best), linear_runs["ols"] / best


# --- 2. nonlinear: an MLP, SO(2) ------------------------------------------------------------

LEVELS = (0.0, 0.05, 0.1)
#: The main job's quick settings, on 4 data sets (2 left the ratio to chance), no digits, and a
#: shorter estimator fit.
NONLINEAR = dataclasses.replace(QUICK, mode="test", digits_n_train=0, seeds=4, estimator_steps=300)
#: A dual-ascent weight at or below this has let its constraint go slack (its floor is 1e-4).
SLACK_WEIGHT = 1e-3


def _f_sym(x):
    r2 = jnp.sum(jnp.square(x), -1)
    return jnp.cos(1.5 * jnp.sqrt(r2 + 1e-6)) + 0.3 * r2


def _f_break(x):  # angular frequencies 2 and 1: Q f_break = 0 and ED_2(f_break) = 2·(4 + 1)
    return x[:, 0] ** 2 - x[:, 1] ** 2 + x[:, 0]


POINTS = SyntheticTask(
    name="points",
    title="SO(2) on 2-D points",
    symmetry=symreg.Symmetry(SO2(), Vector()),
    sample_inputs=NormalInputs((2,)),
    f_sym=_f_sym,
    f_break=_f_break,
    eps=0.0,
    noise=0.5,
)


@pytest.fixture(scope="module")
def nonlinear_runs():
    return {
        eps: run_task(
            POINTS.with_eps(eps), NONLINEAR, jax.random.fold_in(jax.random.key(3), i)
        ).to_dict()
        for i, eps in enumerate(LEVELS)
    }


def _excess(result, kind):
    """Excess test error (test − σ²) of the model of this kind, averaged over data sets."""
    return (
        next(m["test_error"] for m in result["models"] if m["kind"] == kind) - result["test_offset"]
    )


def _grid_excess(result) -> np.ndarray:
    grid = [m["test_error"] for m in result["models"] if m["kind"] == "grid"]
    return np.asarray(grid) - result["test_offset"]


@pytest.mark.slow
def test_nonlinear_tuned_weight_is_within_5_percent_of_the_grid(nonlinear_runs):
    assert len(NONLINEAR.grid) >= 7
    exact = nonlinear_runs[0.0]
    assert _excess(exact, "tuned") < _excess(exact, "unregularized")
    for eps, r in nonlinear_runs.items():
        best = _grid_excess(r).min()
        print(
            f"\nε = {eps}: η = {r['eta_true']:.4f}, η̂ = {r['eta_hat']:.4f} ± {r['eta_se']:.3f}; "
            f"tuned β̂ = {r['tuned_weight']:.3g} excess {_excess(r, 'tuned'):.4f}; grid best "
            f"β = {r['grid_best_weight']:.3g} excess {best:.4f} "
            f"(ratio {_excess(r, 'tuned') / best:.4f}); unregularized "
            f"{_excess(r, 'unregularized'):.4f}; symmetrized {_excess(r, 'symmetrized'):.4f}; "
            f"cap {_grid_excess(r)[-1]:.4f}"
        )
        if eps > 0:
            assert _within_tolerance(_excess(r, "tuned"), best), eps


@pytest.mark.slow
def test_nonlinear_check_fails_the_cap(nonlinear_runs):
    """Where the data break the symmetry, the grid's largest weight as a constant misses 5%."""
    for eps in LEVELS[1:]:
        grid = _grid_excess(nonlinear_runs[eps])
        assert not _within_tolerance(grid[-1], grid.min()), (eps, grid[-1] / grid.min())


@pytest.mark.slow
def test_nonlinear_tuned_beats_both_ends_when_approximately_symmetric(nonlinear_runs):
    for eps in LEVELS[1:]:
        r = nonlinear_runs[eps]
        assert r["eta_true"] > 0
        assert _excess(r, "tuned") < _excess(r, "unregularized"), eps
        assert _excess(r, "tuned") < _excess(r, "symmetrized"), eps


def test_calibrated_weight_does_not_depend_on_the_test_set():
    """β̂ and ε̂ come from the training data alone: another test set leaves them unchanged."""
    from symreg.experiments.tradeoff import _context, calibrate_one

    small = dataclasses.replace(NONLINEAR, n_train=128, steps=60, seeds=1)
    task = POINTS.with_eps(0.1)
    a = calibrate_one(_context(task, small, jax.random.key(5)), 0)
    b = calibrate_one(_context(task, dataclasses.replace(small, n_test=512), jax.random.key(5)), 0)
    assert a.weight == b.weight and a.target == b.target
    # and it does depend on the training data (a check that can fail)
    c = calibrate_one(_context(task, small, jax.random.key(6)), 0)
    assert c.weight != a.weight


@pytest.mark.slow
def test_dual_ascent_reaches_its_target(nonlinear_runs):
    """The constrained quantity, ED_2 on the training inputs (many group samples), per data set:
    within 10% of the target, or below it with the constraint slack. Slack means the weight
    reached its floor, or the unregularized run (β = 0) is itself below the target, so that
    no weight is needed to meet it and dual ascent only lets β fall."""
    reached = 0
    for eps in LEVELS[1:]:
        per_seed = nonlinear_runs[eps]["per_seed"]
        rows = zip(per_seed["target"], per_seed["dual_train_model_error"],
                   per_seed["dual_final_weight"], per_seed["ed0_train"], strict=True)  # fmt: skip
        for target, error, weight, unregularized in rows:
            print(f"\nε = {eps}: dual target {target:.4g}, model error {error:.4g}, β {weight:.3g}, "
                  f"unregularized error {unregularized:.4g}")  # fmt: skip
            assert target > 0
            close = abs(error - target) <= DUAL_RTOL * target
            slack = error < target and (weight <= SLACK_WEIGHT or unregularized < target)
            assert close or slack, (eps, target, error, weight, unregularized)
            reached += close
    assert reached >= 4  # most runs have an active constraint, and meet it


def test_nonlinear_task_breaks_only_through_f_break():
    x = POINTS.sample_inputs(jax.random.key(0), 4096)
    err = symreg.equivariance_error(
        lambda p, x: _f_sym(x), None, x, jax.random.key(1), symmetry=POINTS.symmetry, num_samples=4
    )
    assert float(err.max()) < 1e-8
    assert dataclasses.replace(POINTS, eps=0.1).eps == 0.1
