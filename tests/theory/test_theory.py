"""symreg.theory: the closed forms against Monte Carlo least squares on the project's groups.

Every statistical check compares a Monte Carlo mean with its closed form within NUM_SE standard
errors, and also requires NUM_SE standard errors to be a small fraction of the value, so that
the bound is tight. The risk is the exact population risk of the linear-Gaussian model,
R(w) = σ_X² ‖w − θ‖² + σ_ξ² (times k for outputs in R^k), never a sampled test set.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg import theory
from symreg.actions import Permutation, Regular, Trivial
from symreg.groups import Cyclic, Symmetric

NUM_SE = 4.0  # |Monte Carlo − closed form| <= NUM_SE standard errors
MAX_REL_HALF_WIDTH = 0.06  # NUM_SE s.e. must be below this fraction of the closed form
REPS = 20_000  # least-squares fits per Monte Carlo check
MIN_NORM_REPS = 50_000  # the minimum-norm noise term has heavier tails (E[(XXᵀ)⁻²] is large)
F32_ATOL = 1e-5  # float32 round-off on exact (non-random) identities

# A symmetry of R^d as (spec, block sizes): the flat vector is split into blocks, one per action.
C4_ON_8 = (symreg.Symmetry(Cyclic(4), (Regular(), Trivial())), (4, 4))  # dim E = 1 + 4
S3_ON_8 = (symreg.Symmetry(Symmetric(3), (Permutation(), Trivial())), (3, 5))  # dim E = 1 + 5
C5_REGULAR = (symreg.Symmetry(Cyclic(5), Regular(), Regular()), (5,))  # ψ = φ regular
S3_PERM = (symreg.Symmetry(Symmetric(3), Permutation(), Permutation()), (3,))  # ψ = φ on R^3


def _blocks(x, sizes):
    """Splits the last axis of x into blocks of `sizes`: a tuple, or x itself for one block."""
    parts = tuple(jnp.split(x, np.cumsum(sizes)[:-1], axis=-1))
    return parts if len(sizes) > 1 else parts[0]


def _flat_model(sizes):
    """The linear model f(w, x) = x @ w on inputs given as blocks."""
    if len(sizes) == 1:
        return lambda w, x: x @ w
    return lambda w, x: jnp.concatenate(x, axis=-1) @ w


def _apply_flat(act, g, x, sizes):
    """Applies a (possibly tuple) action to the flat vector x split into blocks of `sizes`."""
    out = act(g, _blocks(x, sizes))
    return jnp.concatenate(out) if isinstance(out, tuple) else out


@functools.cache
def rep_matrices(case, *, output=False):
    """ψ(g) (or φ(g)) for every group element, (G, d, d): the action on the identity's columns."""
    symmetry, sizes = case
    act = symmetry.act_output if output else symmetry.act_input
    eye = jnp.eye(sum(sizes), dtype=jnp.float32)

    def matrix(g):
        return jax.vmap(lambda e: _apply_flat(act, g, e, sizes))(eye).T

    return jax.vmap(matrix)(symmetry.group.elements())


def equivariant_projection(w, psi, phi):
    """Φ(W) = E_g φ(g)ᵀ W ψ(g), on W stored transposed: w = Wᵀ of shape (..., d, k)."""
    return jnp.einsum("gji,...jk,gkl->...il", psi, w, phi) / psi.shape[0]


@functools.partial(jax.jit, static_argnames=("n", "reps"))
def fit_least_squares(key, theta, noise_sd, x_sd, *, n, reps):
    """ŵ on `reps` independent data sets of n samples; minimum-norm (pinv) when n < d.

    theta has shape (d,) (scalar outputs) or (d, k) (Wᵀ, outputs in R^k); x ~ N(0, x_sd² I).
    """
    d = theta.shape[0]

    def one(k):
        kx, kn = jax.random.split(k)
        x = x_sd * jax.random.normal(kx, (n, d))
        y = x @ theta + noise_sd * jax.random.normal(kn, (n,) + theta.shape[1:])
        if n >= d:
            return jnp.linalg.lstsq(x, y)[0]
        return jnp.linalg.pinv(x) @ y

    return jax.vmap(one)(jax.random.split(key, reps))


def risk(w, theta, x_var, noise_var):
    """Exact population risk E‖y − Wx‖² of fits w (..., d[, k]) for x ~ N(0, σ_X² I)."""
    axes = tuple(range(-theta.ndim, 0))
    k = 1 if theta.ndim == 1 else theta.shape[1]
    return x_var * jnp.sum(jnp.square(w - theta), axis=axes) + k * noise_var


def mean_se(samples):
    s = np.asarray(samples, np.float64)
    return float(s.mean()), float(s.std(ddof=1) / np.sqrt(s.size))


def assert_matches(samples, expected, *, label=""):
    """Monte Carlo mean within NUM_SE s.e. of the closed form, with a tight NUM_SE s.e."""
    mean, se = mean_se(samples)
    expected = float(expected)
    assert abs(mean - expected) <= NUM_SE * se, (
        f"{label}: MC {mean:.5f} ± {se:.5f} vs {expected:.5f}"
    )
    assert NUM_SE * se <= MAX_REL_HALF_WIDTH * abs(expected), f"{label}: s.e. {se:.5f} too wide"
    return mean, se


def invariant_theta(phi, norm2, seed):
    """A random θ ∈ E (θ = Φθ) with ‖θ‖² = norm2."""
    t = phi @ jnp.asarray(np.random.default_rng(seed).normal(size=phi.shape[0]), jnp.float32)
    return t * jnp.sqrt(norm2 / jnp.sum(t * t))


# --- fixed_space_projection and character_inner on the project's groups ---------------------


@pytest.mark.parametrize(
    ("case", "dim_fixed"), [(C4_ON_8, 5), (S3_ON_8, 6), (C5_REGULAR, 1), (S3_PERM, 1)]
)
def test_fixed_space_projection_is_an_orthogonal_projection(case, dim_fixed):
    psi = rep_matrices(case)
    d = psi.shape[1]
    np.testing.assert_allclose(
        jnp.einsum("gji,gjk->gik", psi, psi), np.broadcast_to(np.eye(d), psi.shape), atol=F32_ATOL
    )
    phi = theory.fixed_space_projection(psi)
    np.testing.assert_allclose(phi, phi.T, atol=F32_ATOL)
    np.testing.assert_allclose(phi @ phi, phi, atol=F32_ATOL)
    assert float(jnp.trace(phi)) == pytest.approx(dim_fixed, abs=F32_ATOL)
    for g in range(psi.shape[0]):  # Φ projects on the fixed space: ψ(g) Φ = Φ
        np.testing.assert_allclose(psi[g] @ phi, phi, atol=F32_ATOL)


@pytest.mark.parametrize(
    ("case", "expected"),
    [(C5_REGULAR, 5.0), (S3_PERM, 2.0), (C4_ON_8, 28.0)],  # (8² + 3·4²)/4
)
def test_character_inner_is_the_dimension_of_equivariant_maps(case, expected):
    psi = rep_matrices(case)
    assert float(theory.character_inner(psi, psi)) == pytest.approx(expected, abs=F32_ATOL)
    trivial = jnp.ones((psi.shape[0], 1, 1))  # φ trivial: E_g χ_ψ(g) = dim E
    dim_e = float(jnp.trace(theory.fixed_space_projection(psi)))
    assert float(theory.character_inner(psi, trivial)) == pytest.approx(dim_e, abs=F32_ATOL)


@pytest.mark.parametrize("case", [C4_ON_8, S3_ON_8, C5_REGULAR, S3_PERM])
def test_ed2_of_a_linear_map_is_twice_its_breaking_energy(case):
    """η₂ = ED_2(x ↦ Wx) = 2 σ_X² ‖W − Φ(W)‖², measured by symreg.exact_equivariance_error."""
    symmetry, sizes = case
    psi = rep_matrices(case)
    invariant = isinstance(symmetry.act_out, Trivial)
    phi = jnp.ones((psi.shape[0], 1, 1)) if invariant else rep_matrices(case, output=True)
    d, k, x_var = psi.shape[1], phi.shape[1], 1.7
    w = jnp.asarray(np.random.default_rng(1).normal(size=(d, k)), jnp.float32)
    sym_w = equivariant_projection(w, psi, phi)
    if invariant:
        w, sym_w = w[:, 0], sym_w[:, 0]
    expected = 2 * x_var * float(jnp.sum(jnp.square(w - sym_w)))

    def ed2(weights, x):
        errs = symreg.exact_equivariance_error(_flat_model(sizes), weights, x, symmetry=symmetry)
        return errs.mean(axis=0)  # E_g, one value per example

    # ED_2 of a linear map is quadratic in x, so it depends on μ_X only through E[xxᵀ]; the d
    # inputs √(σ_X² d) e_j have E[xxᵀ] = σ_X² I, as x ~ N(0, σ_X² I) does, with no sampling error.
    design = _blocks(np.sqrt(x_var * d) * jnp.eye(d), sizes)
    assert float(ed2(w, design).mean()) == pytest.approx(expected, rel=10 * F32_ATOL)
    assert float(ed2(sym_w, design).mean()) == pytest.approx(0.0, abs=F32_ATOL)


# --- Elesedy–Zaidi closed forms against Monte Carlo least squares ---------------------------


def _setup(case):
    psi = rep_matrices(case)
    phi = theory.fixed_space_projection(psi)
    return phi, psi.shape[1], jnp.trace(phi)


@pytest.mark.parametrize(
    ("case", "n", "noise_var", "seed"), [(C4_ON_8, 20, 1.0, 10), (S3_ON_8, 20, 0.5, 11)]
)
def test_invariant_gap_matches_monte_carlo(case, n, noise_var, seed):
    phi, d, dim_e = _setup(case)
    x_var = 2.0  # the gap does not depend on σ_X² or θ when n > d + 1
    theta = invariant_theta(phi, 3.0, seed)
    w = fit_least_squares(
        jax.random.key(seed), theta, np.sqrt(noise_var), np.sqrt(x_var), n=n, reps=REPS
    )
    delta = risk(w, theta, x_var, noise_var) - risk(w @ phi, theta, x_var, noise_var)
    expected = theory.elesedy_zaidi_gap(n, d, dim_e, noise_var, x_var=x_var)
    mean, se = assert_matches(delta, expected, label="invariant")
    # The bound is tight enough to reject the plausible off-by-one σ²(d − dim E)/(n − d).
    assert abs(mean - noise_var * (d - float(dim_e)) / (n - d)) > NUM_SE * se


@pytest.mark.parametrize(("case", "n", "seed"), [(C4_ON_8, 2, 12), (S3_ON_8, 2, 13)])
def test_min_norm_gap_matches_monte_carlo(case, n, seed):
    phi, d, dim_e = _setup(case)
    x_var, noise_var, norm2 = 1.5, 1.0, 10.0
    theta = invariant_theta(phi, norm2, seed)
    # Two right-hand sides on the same X: signal without noise, noise without signal. The
    # minimum-norm fit is linear in y, so their sum is the fit of y = Xθ + ξ.
    thetas = jnp.stack([theta, jnp.zeros_like(theta)], axis=1)
    noise_sd = jnp.array([0.0, np.sqrt(noise_var)])
    w = fit_least_squares(
        jax.random.key(seed), thetas, noise_sd, np.sqrt(x_var), n=n, reps=MIN_NORM_REPS
    )
    fits = {
        "signal": (w[..., 0], theta, 0.0, norm2),
        "noise": (w[..., 1], 0 * theta, noise_var, 0.0),
    }
    fits["both"] = (w[..., 0] + w[..., 1], theta, noise_var, norm2)
    for label, (fit, truth, nv, tn2) in fits.items():
        delta = risk(fit, truth, x_var, nv) - risk(fit @ phi, truth, x_var, nv)
        expected = theory.elesedy_zaidi_gap(n, d, dim_e, nv, x_var=x_var, theta_norm2=tn2)
        assert_matches(delta, expected, label=f"min-norm {label}")


@pytest.mark.parametrize(("case", "n", "seed"), [(C5_REGULAR, 16, 14), (S3_PERM, 10, 15)])
def test_equivariant_gap_matches_monte_carlo(case, n, seed):
    psi, phi_out = rep_matrices(case), rep_matrices(case, output=True)
    d, k, x_var, noise_var = psi.shape[1], phi_out.shape[1], 0.7, 1.3
    w0 = jnp.asarray(np.random.default_rng(seed).normal(size=(d, k)), jnp.float32)
    theta = equivariant_projection(w0, psi, phi_out)  # Wᵀ of an equivariant W
    w = fit_least_squares(
        jax.random.key(seed), theta, np.sqrt(noise_var), np.sqrt(x_var), n=n, reps=REPS
    )
    sym_w = equivariant_projection(w, psi, phi_out)
    delta = risk(w, theta, x_var, noise_var) - risk(sym_w, theta, x_var, noise_var)
    inner = theory.character_inner(psi, phi_out)
    expected = theory.elesedy_zaidi_gap_equivariant(n, d, k, noise_var, inner)
    assert_matches(delta, expected, label="equivariant")


def breaking_theta(phi, norm2, breaking_norm2, seed):
    """θ = θ_E + θ_B with θ_E ∈ E, ‖θ_E‖² = norm2 and ‖(I − Φ)θ‖² = breaking_norm2."""
    rest = jnp.asarray(np.random.default_rng(seed + 1).normal(size=phi.shape[0]), jnp.float32)
    rest = rest - phi @ rest
    rest = rest * jnp.sqrt(breaking_norm2 / jnp.sum(rest * rest))
    return invariant_theta(phi, norm2, seed) + rest


@pytest.mark.parametrize(
    ("case", "n", "x_var", "noise_var", "breaking_norm2", "seed"),
    [(C4_ON_8, 20, 1.0, 1.0, 0.6, 16), (S3_ON_8, 20, 2.0, 0.5, 0.01, 17)],  # hurts / helps
)
def test_misspecified_gap_matches_monte_carlo(case, n, x_var, noise_var, breaking_norm2, seed):
    phi, d, dim_e = _setup(case)
    theta = breaking_theta(phi, 3.0, breaking_norm2, seed)
    w = fit_least_squares(
        jax.random.key(seed), theta, np.sqrt(noise_var), np.sqrt(x_var), n=n, reps=REPS
    )
    diff = risk(w @ phi, theta, x_var, noise_var) - risk(w, theta, x_var, noise_var)
    expected = theory.misspecified_gap(n, d, dim_e, noise_var, breaking_norm2, x_var=x_var)
    assert_matches(diff, expected, label="misspecified")


def test_gaps_are_infinite_in_the_interpolation_regime():
    d = 8
    for n in (d - 1, d, d + 1):
        assert np.isposinf(theory.elesedy_zaidi_gap(n, d, 5, 1.0))
        assert np.isposinf(theory.elesedy_zaidi_gap_equivariant(n, d, 2, 1.0, 3.0))
        assert np.isnan(theory.elesedy_zaidi_gap(n, d, 5, 0.0))  # σ_ξ² = 0: not covered
    assert np.isfinite(theory.elesedy_zaidi_gap(d + 2, d, 5, 1.0))
    assert np.isfinite(theory.elesedy_zaidi_gap(d - 2, d, 5, 1.0, theta_norm2=1.0))


def test_gap_broadcasts_and_traces():
    noise = jnp.array([0.0, 1.0, 2.0])
    gap = theory.elesedy_zaidi_gap(20, 8, 5, noise, x_var=2.0)
    np.testing.assert_allclose(gap, noise * 3 / 11, rtol=1e-6)
    jitted = jax.jit(lambda s, t: theory.elesedy_zaidi_gap(2, 8, 5, s, theta_norm2=t))
    np.testing.assert_allclose(
        jitted(1.0, 2.0), theory.elesedy_zaidi_gap(2, 8, 5, 1.0, theta_norm2=2.0)
    )
    assert theory.elesedy_zaidi_gap(8, 8, 5, noise).shape == (3,)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: theory.elesedy_zaidi_gap(0, 8, 5, 1.0), ValueError, "n must be >= 1"),
        (lambda: theory.elesedy_zaidi_gap(2.5, 8, 5, 1.0), TypeError, "n must be"),
        (lambda: theory.elesedy_zaidi_gap(20, 0, 0, 1.0), ValueError, "d must be >= 1"),
        (lambda: theory.elesedy_zaidi_gap(20, 8, 9, 1.0), ValueError, "dim_fixed"),
        (lambda: theory.elesedy_zaidi_gap(20, 8, -1, 1.0), ValueError, "dim_fixed"),
        (lambda: theory.elesedy_zaidi_gap(20, 8, 5, -1.0), ValueError, "noise_var"),
        (lambda: theory.elesedy_zaidi_gap(20, 8, 5, "a"), TypeError, "noise_var"),
        (lambda: theory.elesedy_zaidi_gap(20, 8, 5, 1.0, x_var=0.0), ValueError, "x_var"),
        (lambda: theory.elesedy_zaidi_gap(2, 8, 5, 1.0), ValueError, "theta_norm2"),
        (lambda: theory.elesedy_zaidi_gap(2, 8, 5, 1.0, theta_norm2=-1), ValueError, "theta_norm2"),
        (lambda: theory.elesedy_zaidi_gap_equivariant(16, 5, 0, 1.0, 5.0), ValueError, "k must"),
        (
            lambda: theory.elesedy_zaidi_gap_equivariant(16, 5, 5, 1.0, 26.0),
            ValueError,
            "character_inner",
        ),
        (
            lambda: theory.elesedy_zaidi_gap_equivariant(2, 5, 5, 1.0, 5.0),
            ValueError,
            "n must be >= d - 1",
        ),
        (
            lambda: theory.elesedy_zaidi_gap_equivariant(16, 5, 5, -1.0, 5.0),
            ValueError,
            "noise_var",
        ),
        (lambda: theory.misspecified_gap(9, 8, 5, 1.0, 0.1), ValueError, "n must be > d"),
        (lambda: theory.misspecified_gap(20, 8, 5, 1.0, -0.1), ValueError, "breaking_norm2"),
        (lambda: theory.fixed_space_projection(jnp.ones((4, 3))), ValueError, "matrices"),
        (lambda: theory.fixed_space_projection(jnp.ones((4, 3, 2))), ValueError, "matrices"),
        (
            lambda: theory.character_inner(jnp.ones((4, 3, 3)), jnp.ones((2, 1, 1))),
            ValueError,
            "psi and phi",
        ),
    ],
)
def test_invalid_arguments_raise_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- the trade-off closed forms -----------------------------------------------------------------


def test_tradeoff_values_at_known_points():
    assert float(theory.approximation_error(4.0, 1.0)) == pytest.approx(0.5)
    assert float(theory.approximation_error(4.0, 0.0)) == pytest.approx(2.0)  # η/2 when exact
    assert float(theory.estimation_variance(1.0, 5, 40, 10)) == pytest.approx(10 / 29)
    assert float(theory.estimation_variance(2.0, 3, 20, 8)) == pytest.approx(12 / 11)
    assert float(theory.optimal_shrinkage(3.0, 1.0)) == pytest.approx(0.75)
    assert float(theory.optimal_shrinkage(0.0, 1.0)) == 0.0
    assert float(theory.optimal_target(3.0, 1.0)) == pytest.approx(2.25)
    assert float(theory.optimal_weight(1.0, 5, 40, 0.25)) == pytest.approx(0.5)
    assert np.isposinf(theory.optimal_weight(1.0, 5, 40, 0.0))
    for n in (5, 9, 10):  # n <= d + 1
        assert np.isposinf(theory.estimation_variance(1.0, 3, n, 9))


def test_approximation_error_vanishes_from_eps_equal_eta_on():
    eta = 0.8
    above = np.linspace(eta, 4 * eta, 50)
    np.testing.assert_array_equal(theory.approximation_error(eta, above), 0.0)
    below = np.linspace(0.0, eta, 50)[:-1]
    values = np.asarray(theory.approximation_error(eta, below))
    assert np.all(values > 0) and np.all(np.diff(values) < 0)
    np.testing.assert_allclose(values, 0.5 * (np.sqrt(eta) - np.sqrt(below)) ** 2, rtol=1e-5)


def test_optimal_shrinkage_is_in_unit_interval_and_tends_to_one():
    eta, v = np.meshgrid(np.linspace(0, 3, 31), np.logspace(-4, 2, 31))
    alpha = np.asarray(theory.optimal_shrinkage(eta, v))
    assert np.all((alpha >= 0) & (alpha <= 1))
    ns = np.array([12, 20, 100, 1_000, 100_000])  # v → 0 as n → ∞, so α* → 1
    alphas = np.asarray(theory.optimal_shrinkage(0.5, theory.estimation_variance(1.0, 3, ns, 8)))
    assert np.all(np.diff(alphas) > 0)
    assert float(1 - alphas[-1]) < 1e-3 and float(theory.optimal_shrinkage(0.5, 0.0)) == 1.0
    np.testing.assert_array_less(theory.optimal_target(eta, v), eta + F32_ATOL)


def test_optimal_shrinkage_minimizes_monte_carlo_risk():
    """w_α = Φŵ + α(I − Φ)ŵ has the lowest expected risk at α* = η/(η + v)."""
    phi, d, dim_e = _setup(C4_ON_8)
    n, x_var, noise_var, breaking_norm2 = 20, 1.5, 1.0, 0.2
    theta = breaking_theta(phi, 3.0, breaking_norm2, 20)
    eta = 2 * x_var * breaking_norm2  # ED_2 of θ (checked above with exact_equivariance_error)
    v = theory.estimation_variance(noise_var, d - dim_e, n, d)
    alpha_star = float(theory.optimal_shrinkage(eta, v))
    w = fit_least_squares(
        jax.random.key(20), theta, np.sqrt(noise_var), np.sqrt(x_var), n=n, reps=REPS
    )
    sym, brk = w @ phi, w - w @ phi

    def risk_at(alpha):
        return risk(sym + alpha * brk, theta, x_var, noise_var)

    r_star = risk_at(alpha_star)
    for alpha in np.linspace(0.0, 1.0, 11):  # paired differences: no grid point beats α*
        mean, se = mean_se(risk_at(alpha) - r_star)
        assert mean >= -NUM_SE * se, (alpha, mean, se)
        if abs(alpha - alpha_star) >= 0.1:  # and the grid resolves the minimum
            assert mean > NUM_SE * se, (alpha, mean, se)
    # The risk is quadratic in α; its empirical minimizer matches α* (delta-method s.e.).
    cross, energy = brk @ (theta - theta @ phi), jnp.sum(brk * brk, axis=-1)
    alpha_hat = float(cross.mean() / energy.mean())
    _, se = mean_se((cross - alpha_hat * energy) / energy.mean())
    assert abs(alpha_hat - alpha_star) <= NUM_SE * se <= MAX_REL_HALF_WIDTH * alpha_star
    # The optimal model's equivariance error is ε* = α*η on average (ED_2 = 2σ_X²‖(I − Φ)w‖²).
    ed2 = 2 * x_var * alpha_star**2 * energy
    assert_matches(ed2, theory.optimal_target(eta, v), label="epsilon*")
