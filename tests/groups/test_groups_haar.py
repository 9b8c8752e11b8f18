"""Haar sanity of every group's sampler, in standard errors: the measure is the right one.

Moments, angle laws and histograms of the continuous groups, the balance of reflections, the
partial sets' measures, uniform finite groups (chi-square), independent product factors, and
checks that the tests have power. The draws are the probe programs' (tests/groups/group_probes.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from group_probes import ATOL_F32, FINITE, GROUPS, MAX_ANGLE, N_HAAR, NEAR_SCALE, probe

pytestmark = pytest.mark.usefixtures("fast_compile")

#: Statistical assertions allow this many standard errors.
NUM_SE = 4.0


def within_se(estimate, truth, se, what):
    estimate, truth, se = np.broadcast_arrays(*map(np.asarray, (estimate, truth, se)))
    z = np.abs(estimate - truth) / se
    assert np.all(z <= NUM_SE), f"{what}: {estimate} vs {truth}, z = {z.max():.2f} s.e."


def ecdf_check(samples, cdf, points, what):
    """Empirical CDF at `points` against `cdf`, each within NUM_SE binomial standard errors."""
    samples = np.asarray(samples, np.float64)
    p = np.array([cdf(t) for t in points])
    emp = np.array([(samples <= t).mean() for t in points])
    within_se(emp, p, np.sqrt(p * (1 - p) / samples.size), what)


def rotation_angle(r):
    cos = (np.trace(np.asarray(r, np.float64), axis1=-2, axis2=-1) - 1) / 2
    return np.arccos(np.clip(cos, -1, 1))


def planar_angle(r):
    r = np.asarray(r, np.float64)
    return np.arctan2(r[..., 1, 0], r[..., 0, 0])


SO3_ANGLE_CDF = lambda t: (t - np.sin(t)) / np.pi
ANGLE_POINTS = np.linspace(0.3, 2.9, 7)
UNIFORM_ANGLE_CDF = lambda t: (t + np.pi) / (2 * np.pi)


def test_so3_haar_moments_and_angle_law():
    r = probe("SO3")["big"].astype(np.float64)
    within_se(r.mean(0), 0.0, r.std(0) / np.sqrt(N_HAAR), "mean of SO(3) matrices")
    sq = r**2  # E[R_ij^2] = 1/3 for a uniformly random rotation
    within_se(sq.mean(0), 1 / 3, sq.std(0) / np.sqrt(N_HAAR), "second moments")
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=ATOL_F32)
    ecdf_check(rotation_angle(r), SO3_ANGLE_CDF, ANGLE_POINTS, "SO(3) angle CDF (t - sin t)/π")


def test_so3_angle_histogram_follows_density():
    angle = rotation_angle(probe("SO3")["big"])
    edges = np.linspace(0, np.pi, 9)
    p = np.diff(SO3_ANGLE_CDF(edges))
    freq = np.histogram(angle, edges)[0] / N_HAAR
    within_se(freq, p, np.sqrt(p * (1 - p) / N_HAAR), "SO(3) angle histogram")


def test_uniform_euler_angles_fail_the_angle_check(rng):
    """The angle check has power: uniformly drawn Euler angles are not Haar."""
    a, b, c = rng.uniform(0, [2 * np.pi, np.pi, 2 * np.pi], (N_HAAR, 3)).T
    # The rotation angle of Rz(a) Ry(b) Rz(c): cos(θ/2) = cos(b/2) cos((a + c)/2).
    angle = 2 * np.arccos(np.abs(np.cos(b / 2) * np.cos((a + c) / 2)))
    with pytest.raises(AssertionError, match="s.e."):
        ecdf_check(angle, SO3_ANGLE_CDF, ANGLE_POINTS, "uniform Euler angles")


def test_o3_determinant_balanced_and_rotation_part_haar():
    r = probe("O3")["big"].astype(np.float64)
    det = np.linalg.det(r)
    np.testing.assert_allclose(np.abs(det), 1.0, atol=ATOL_F32)
    within_se((det < 0).mean(), 0.5, 0.5 / np.sqrt(N_HAAR), "fraction of reflections in O(3)")
    within_se(r.mean(0), 0.0, r.std(0) / np.sqrt(N_HAAR), "mean of O(3) matrices")
    proper = r * np.sign(det)[:, None, None]
    ecdf_check(rotation_angle(proper), SO3_ANGLE_CDF, ANGLE_POINTS, "O(3) rotation part")


def test_so2_angle_uniform():
    r = probe("SO2")["big"]
    np.testing.assert_allclose(np.linalg.det(r.astype(np.float64)), 1.0, atol=ATOL_F32)
    ecdf_check(planar_angle(r), UNIFORM_ANGLE_CDF, np.linspace(-2.5, 2.5, 6), "SO(2) angle")


def test_o2_reflections_balanced_and_angle_uniform():
    r = probe("O2")["big"].astype(np.float64)
    det = np.linalg.det(r)
    np.testing.assert_allclose(np.abs(det), 1.0, atol=ATOL_F32)
    within_se((det < 0).mean(), 0.5, 0.5 / np.sqrt(N_HAAR), "fraction of reflections in O(2)")
    ecdf_check(planar_angle(r), UNIFORM_ANGLE_CDF, np.linspace(-2.5, 2.5, 6), "O(2) angle")


def test_rotation_range_2d_uniform_on_interval():
    a = MAX_ANGLE
    angle = planar_angle(probe("RotationRange2")["big"])
    assert np.all(np.abs(angle) <= a + ATOL_F32)
    points = np.linspace(-0.6, 0.6, 5)
    ecdf_check(angle, lambda t: (t + a) / (2 * a), points, "RotationRange(dim=2) angle")


def test_rotation_range_3d_truncated_haar():
    a = MAX_ANGLE
    r = probe("RotationRange3")["big"].astype(np.float64)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=ATOL_F32)
    angle = rotation_angle(r)
    assert np.all(angle <= a + ATOL_F32)
    cdf = lambda t: (t - np.sin(t)) / (a - np.sin(a))
    ecdf_check(angle, cdf, np.linspace(0.2, 0.65, 5), "RotationRange(dim=3) angle")
    # A uniform axis (from the skew part of R) has mean zero.
    axis = np.stack([r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], -1)
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    within_se(axis.mean(0), 0.0, axis.std(0) / np.sqrt(N_HAAR), "RotationRange axis mean")


def test_near_identity_scale():
    s = NEAR_SCALE
    rot, perm = probe("NearIdentitySO3xS4")["big"]
    sq = rotation_angle(rot) ** 2  # = |c|^2 with c ~ N(0, s^2 I_3)
    within_se(sq.mean(), 3 * s**2, sq.std() / np.sqrt(N_HAAR), "E θ² of NearIdentity")
    np.testing.assert_array_equal(perm, np.broadcast_to(np.arange(4), (N_HAAR, 4)))


def test_translations_uniform():
    period = GROUPS["Translations2"].period
    t = probe("Translations2")["big"].astype(np.float64)
    assert t.min() >= 0 and t.max() < period
    for j in range(2):
        ecdf_check(t[:, j], lambda v: v / period, [0.3, 1.0, 1.7], f"translation coordinate {j}")


def chi_square_check(indices, order, what):
    """Pearson's statistic against the uniform law: mean G - 1, s.d. sqrt(2 (G - 1))."""
    counts = np.bincount(np.asarray(indices).ravel(), minlength=order)
    assert counts.size == order, f"{what}: index out of range"
    expected = indices.size / order
    stat = np.sum((counts - expected) ** 2 / expected)
    dof = order - 1
    assert stat <= dof + NUM_SE * np.sqrt(2 * dof), f"{what}: chi-square {stat:.1f}, dof {dof}"
    return counts


@pytest.mark.parametrize("name", FINITE)
def test_finite_groups_sample_uniformly(name):
    order = FINITE[name].order
    counts = chi_square_check(probe(name)["big_index"], order, name)
    p = 1 / order
    within_se(counts / N_HAAR, p, np.sqrt(p * (1 - p) / N_HAAR), f"{name} element frequencies")


def test_chi_square_check_has_power():
    skewed = np.concatenate([np.zeros(300, int), np.arange(1000) % 10])
    with pytest.raises(AssertionError, match="chi-square"):
        chi_square_check(skewed, 10, "skewed")


def test_product_factors_uniform_and_independent():
    rot, perm = probe("SO3xS4")["big"]
    ranks = np.array([int("".join(map(str, p)), 4) for p in perm])  # a bijection of S4
    _, idx = np.unique(ranks, return_inverse=True)
    chi_square_check(idx, 24, "Symmetric(4) factor")
    ecdf_check(rotation_angle(rot), SO3_ANGLE_CDF, ANGLE_POINTS, "SO(3) factor")
    # Independence: the rotation angle has the same mean for even and odd permutations.
    odd = np.linalg.det(np.eye(4)[perm]) < 0
    angle = rotation_angle(rot)
    diff = angle[odd].mean() - angle[~odd].mean()
    se = np.sqrt(angle[odd].var() / odd.sum() + angle[~odd].var() / (~odd).sum())
    within_se(diff, 0.0, se, "angle difference between odd and even permutations")


def test_user_set_measure_is_its_sampler():
    idx = probe("UserSetEvenShifts")["big_index"]
    assert set(np.unique(idx).tolist()) == {0, 2, 4, 6}
    chi_square_check(idx // 2, 4, "UserSet even shifts")
