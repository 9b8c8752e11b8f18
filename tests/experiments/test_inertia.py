"""The O(3) inertia comparison: the task, its models and the runner, at tiny sizes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg.experiments.inertia import (
    MODELS,
    InertiaConfig,
    run_inertia,
    train_and_score,
)
from symreg.experiments.inertia_task import (
    MASSES,
    Conjugation,
    EquivariantInertia,
    PlainMLP,
    axial,
    inertia_task,
    make_model,
)
from symreg.experiments.tasks import Sizes
from symreg.nn import free_path_penalty
from symreg.testing import assert_equivariant

pytestmark = pytest.mark.usefixtures("fast_compile")

#: Relative gap allowed between the oracle η (16 sampled elements per input) and the closed
#: form on the same 4096 inputs (the Monte Carlo over g; measured 0.2 %).
ETA_RTOL = 0.05
#: ED₂ of the pathway against its free path's penalty (float32 rounding of the sum).
PENALTY_RTOL = 1e-4
TINY = InertiaConfig(ns=(16,), seeds=1, steps=3, hidden=(4,), n_test=8)


def _points(key, n=8):
    return jax.random.normal(key, (n, len(MASSES), 3))


def test_target_and_equivariant_model_are_exactly_equivariant(key):
    task, (kx, kg, km) = inertia_task(), jax.random.split(key, 3)
    x = _points(kx)
    assert_equivariant(task.f_sym, x, kg, symmetry=task.symmetry)
    model = EquivariantInertia((8, 8))
    params = model.init(km)
    assert_equivariant(lambda x: model(params, x), x, kg, symmetry=task.symmetry)


def test_plain_mlp_and_breaking_term_are_not_equivariant(key):
    task, (kx, kg, km) = inertia_task(), jax.random.split(key, 3)
    x = _points(kx)
    mlp = PlainMLP((8,))
    params = mlp.init(km)
    with pytest.raises(AssertionError):
        assert_equivariant(lambda x: mlp(params, x), x, kg, symmetry=task.symmetry)
    with pytest.raises(AssertionError):
        assert_equivariant(axial, x, kg, symmetry=task.symmetry)


def test_breaking_term_is_equivariant_about_z(key):
    x = _points(key)
    c, s = np.cos(0.7), np.sin(0.7)
    for r in (jnp.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]), jnp.diag(jnp.array([1, 1, -1.0]))):
        moved = axial(x @ r.T)
        np.testing.assert_allclose(moved, r @ axial(x) @ r.T, rtol=1e-5, atol=1e-6)


def test_conjugation_rejects_a_vector_output():
    with pytest.raises(ValueError, match="expected a float"):
        symreg.Symmetry(symreg.groups.O3(), Conjugation()).check_input(jnp.ones((2, 3)))


def test_oracle_eta_matches_closed_form_and_vanishes_without_breaking(key):
    # Q(axial)(x) = Σ_i m_i (‖x_i‖² I + 2 x_i x_iᵀ)/15, from E[u_a u_b u_c u_d] on the sphere.
    kx, kg = jax.random.split(key)
    x, m, eps = _points(kx, 4096), jnp.asarray(MASSES), 0.5
    outer = jnp.einsum("i,bij,bik->bjk", m, x, x)
    q = ((jnp.sum(x**2, -1) @ m)[:, None, None] * jnp.eye(3) + 2 * outer) / 15
    closed = 2 * eps**2 * float(jnp.mean(jnp.sum((axial(x) - q) ** 2, (1, 2))))
    eta = inertia_task(eps=eps).oracle_eta(x, kg, num_samples=16)
    assert eta == pytest.approx(closed, rel=ETA_RTOL)
    assert abs(inertia_task(eps=0.0).oracle_eta(x[:512], kg, num_samples=4)) < 1e-6


def test_pathway_penalty_is_the_models_ed2_and_matches_the_layer(key):
    task, (kx, kg, km) = inertia_task(), jax.random.split(key, 3)
    x = _points(kx)
    pathway = make_model("pathway", (8,))
    params = pathway.init(km)
    errors = symreg.equivariance_error(
        pathway, params, x, kg, symmetry=task.symmetry, num_samples=4
    )
    layer = pathway.as_layer(params)
    free = free_path_penalty(layer.free, x, kg, symmetry=task.symmetry, num_samples=4)
    assert float(jnp.mean(errors)) == pytest.approx(float(free), rel=PENALTY_RTOL)
    assert float(layer.penalty(x, kg, num_samples=4)) == float(free) > 0
    layer.check_equivariant(x, kg)
    np.testing.assert_allclose(layer(x), pathway(params, x), rtol=1e-6)


def test_run_inertia_end_to_end_tiny():
    out = run_inertia(TINY)
    assert [r["model"] for r in out["records"]] == list(MODELS)
    assert out["eta"] > 0 and all(np.isfinite(r["excess"]) for r in out["records"])
    weights = {r["model"]: r["weight"] for r in out["records"]}
    assert weights["pathway_fixed"] == TINY.fixed_weight and weights["mlp"] == 0.0
    assert weights["pathway_tuned"] > 0 and weights["pathway_tuned"] != TINY.fixed_weight
    assert set(out["targets"]) == {"pathway_tuned, N = 16", "mlp_tuned, N = 16"}
    for name in MODELS:
        assert f"| {name} | 16 |" in out["table"]


def test_exact_model_beats_plain_mlp_without_breaking(key):
    # With ε = 0 the symmetric model class holds f*, so it must win; a broken action or a
    # non-equivariant "exact" model would lose this.
    task, (kd, km, kt) = inertia_task(eps=0.0), jax.random.split(key, 3)
    cfg = InertiaConfig(steps=300, hidden=(16,))
    split = task.split(kd, Sizes(64, 256, (16,), 0))
    scores = {}
    for arch in ("mlp", "equivariant"):
        model = make_model(arch, (16,))
        params = model.init(km)
        scores[arch] = train_and_score(model, params, split, task.symmetry, cfg, 0.0, kt)
    assert scores["equivariant"][0] < 0.5 * scores["mlp"][0]
    assert scores["equivariant"][1] < 1e-6 < scores["mlp"][1]
