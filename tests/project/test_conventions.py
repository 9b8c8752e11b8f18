"""Calling conventions and friendly input handling: `assert_equivariant` in the kernels' order
(and its older form), irreps where an action is expected, float32 accumulation of the errors of
a half-precision model, the "missing batch axis?" hint, and the warning for an interpolated
(non-group) image action."""

from __future__ import annotations

import warnings

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg import actions as A
from symreg import groups as G
from symreg.actions import _symmetry
from symreg.equivariance import get_metric
from symreg.testing import assert_equivariant

pytestmark = pytest.mark.usefixtures("fast_compile")

#: Errors of a half-precision model accumulated in float32 match a float64 reference of the
#: same rounded outputs to float32 rounding; accumulated in bfloat16 they would be off by ~1e-2.
HALF_RTOL = 1e-5

PERM = symreg.Symmetry(G.Symmetric(4), A.Permutation())
X = jax.random.normal(jax.random.key(0), (6, 4))


def deepsets(w, x):
    return w * jnp.sum(x, -1)


def first(w, x):
    return w * x[:, 0]


# --- assert_equivariant: the kernels' order and the older form ------------------------------


def test_assert_equivariant_in_the_kernels_order():
    w = jnp.float32(3.0)
    assert_equivariant(deepsets, w, X, jax.random.key(1), symmetry=PERM)
    assert_equivariant(deepsets, w, X, key=jax.random.key(1), symmetry=PERM)
    with pytest.raises(AssertionError, match="not equivariant under Symmetric"):
        assert_equivariant(first, w, X, jax.random.key(1), symmetry=PERM)


def test_assert_equivariant_kernels_order_with_pytree_params_and_sampling():
    params = {"w": jnp.float32(2.0), "b": jnp.float32(0.5)}
    fn = lambda p, x: p["w"] * jnp.sum(x**2, -1) + p["b"]
    rot = symreg.Symmetry(G.SO3(), A.Vector())
    x = jax.random.normal(jax.random.key(2), (5, 3))
    assert_equivariant(fn, params, x, jax.random.key(3), symmetry=rot, num_samples=8)
    broken = lambda p, x: p["w"] * x[:, 0]
    with pytest.raises(AssertionError, match=r"SO3\(\)"):
        assert_equivariant(broken, params, x, jax.random.key(3), symmetry=rot, num_samples=8)


def test_assert_equivariant_older_form_still_works():
    assert_equivariant(lambda x: x.sum(-1), X, jax.random.key(1), symmetry=PERM)
    assert_equivariant(lambda x: x.sum(-1), X, key=jax.random.key(1), symmetry=PERM)
    with pytest.raises(AssertionError):
        assert_equivariant(lambda x: x[:, 0], X, jax.random.key(1), symmetry=PERM)


def test_assert_equivariant_neither_form_says_which_forms_exist():
    both = r"\(apply_fn, params, x, key, \*, symmetry, \.\.\.\) or the older \(fn, x, key"
    with pytest.raises(TypeError, match=both + r".*no key"):
        assert_equivariant(lambda x: x.sum(-1), X, symmetry=PERM)
    # (apply_fn, params, x) without a key reads as the older form with x as the key
    with pytest.raises(TypeError, match=both + r".*the third is the key of the older form"):
        assert_equivariant(deepsets, jnp.float32(1.0), X, symmetry=PERM)
    with pytest.raises(TypeError, match="apply_fn must be callable"):
        assert_equivariant("f", None, X, jax.random.key(0), symmetry=PERM)


# --- irreps where an action is expected --------------------------------------------------------


def test_an_irreps_string_or_e3nn_irreps_is_an_irreps_action():
    assert symreg.Symmetry(G.SO3(), "1o") == symreg.Symmetry(G.SO3(), A.Irreps("1o"))
    sym = symreg.Symmetry(G.O3(), e3nn.Irreps("1o + 0e"), "0e")
    assert sym.act_in == A.Irreps("1o + 0e") and sym.act_out == A.Irreps("0e")
    x = jax.random.normal(jax.random.key(0), (4, 4))
    norm = lambda p, x: jnp.sum(x**2, -1, keepdims=True)
    errors = symreg.equivariance_error(
        norm, None, x, jax.random.key(1), symmetry=sym, num_samples=4
    )
    assert float(jnp.max(errors)) < 1e-8


def test_a_string_that_is_not_irreps_says_what_strings_mean():
    with pytest.raises(TypeError, match=r"act_out must be a symreg action.*read as e3nn irreps"):
        symreg.Symmetry(G.SO3(), A.Vector(), "scalar")


def test_irreps_of_a_group_without_wigner_matrices_is_refused():
    with pytest.raises(ValueError, match="Irreps needs SO3 or O3"):
        symreg.Symmetry(G.Cyclic(3), "1o")


# --- half precision: errors accumulate in float32 ----------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("metric", ["sq", "l2", "max_abs"])
def test_metrics_of_half_precision_outputs_are_float32(dtype, metric):
    a = jnp.linspace(-1, 1, 513).astype(dtype)
    b = (a * 1.01 + 0.003).astype(dtype)
    out = get_metric(metric)(a, b)
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    reference = {
        "sq": np.sum((a64 - b64) ** 2),
        "l2": np.sqrt(np.sum((a64 - b64) ** 2)),
        "max_abs": np.max(np.abs(a64 - b64)),
    }[metric]
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(float(out), reference, rtol=HALF_RTOL)


def test_errors_of_a_bfloat16_model_are_accumulated_in_float32():
    """Many small bfloat16 differences: their float32 sum matches float64 of the same outputs."""
    n = 512
    sym = symreg.Symmetry(G.Cyclic(n), A.Regular(), A.Regular())
    w = (1.0 + jnp.arange(n) / n).astype(jnp.bfloat16)  # breaks the shift symmetry
    model = lambda w, x: w * x
    x = jax.random.normal(jax.random.key(0), (2, n)).astype(jnp.bfloat16)
    errors = symreg.exact_equivariance_error(model, w, x, symmetry=sym)
    assert errors.dtype == jnp.float32 and errors.shape == (n, 2)
    shift = jax.vmap(jax.vmap(sym.act_input, (None, 0)), (0, None))  # (G, B, n), in bfloat16
    g = jnp.arange(n)
    lhs = np.asarray(model(w, shift(g, x)), np.float64)
    rhs = np.asarray(shift(g, model(w, x)), np.float64)
    reference = np.sum((lhs - rhs) ** 2, -1)
    np.testing.assert_allclose(np.asarray(errors), reference, rtol=HALF_RTOL)


# --- a batch without its batch axis ------------------------------------------------------------


def test_an_unbatched_x_gets_a_missing_batch_axis_hint():
    rot = symreg.Symmetry(G.SO3(), A.Vector())
    with pytest.raises(ValueError, match=r"missing batch axis\? .*x\[None\]"):
        symreg.equivariance_error(
            lambda p, x: x, None, jnp.ones(3), jax.random.key(0), symmetry=rot, num_samples=2
        )
    with pytest.raises(ValueError, match=r"missing batch axis\?"):
        symreg.exact_equivariance_error(lambda p, x: x.sum(-1), None, jnp.ones(4), symmetry=PERM)


def test_a_wrong_shape_gets_no_batch_axis_hint():
    rot = symreg.Symmetry(G.SO3(), A.Vector())
    with pytest.raises(ValueError, match="expected a last axis of size 3") as info:
        symreg.equivariance_error(
            lambda p, x: x, None, jnp.ones((2, 4)), jax.random.key(0), symmetry=rot, num_samples=2
        )
    assert "batch axis?" not in str(info.value)


# --- an interpolated image rotation warns once per configuration --------------------------------


def test_an_interpolated_image_action_warns_once_naming_exact_alternatives(monkeypatch):
    monkeypatch.setattr(_symmetry, "_WARNED", set())
    with pytest.warns(UserWarning, match=r"act_in=Image\(\) with elements of Cyclic\(n=3\)") as rec:
        sym = symreg.Symmetry(G.Cyclic(3), A.Image())
    message = str(rec[0].message)
    assert "not a group action" in message and not sym.is_exact
    for alternative in ("Cyclic(4) or Dihedral(4)", "DirectProduct(Cyclic(H), Cyclic(W))"):
        assert alternative in message
    assert rec[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        symreg.Symmetry(G.Cyclic(3), A.Image())  # the same configuration: silent
    with pytest.warns(UserWarning, match=r"elements of SO2\(\)"):
        symreg.Symmetry(G.RotationRange(0.5), A.Image())  # another configuration warns


def test_exact_image_actions_do_not_warn(monkeypatch):
    monkeypatch.setattr(_symmetry, "_WARNED", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for group in (G.Cyclic(4), G.Dihedral(4), G.DirectProduct(G.Cyclic(5), G.Cyclic(6))):
            assert symreg.Symmetry(group, A.Image()).is_exact
