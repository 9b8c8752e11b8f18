"""Mechanics of the equivariance kernels: shapes, keys, sharing, recompilation, gradients,
chunking, pytree inputs and outputs, the metrics, and post-hoc relaxation.

The oracles (closed forms, equivariant models, Reynolds identity, Lie derivatives) are in
test_oracles.py.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from stats_helpers import rel_max, stat_check

import symreg
from symreg import actions as A
from symreg import groups as G
from symreg.equivariance import kl, l2, max_abs, relative, squared_l2

pytestmark = pytest.mark.usefixtures("fast_compile")

#: Largest relative error of an exactly equivariant float32 model (rounding only).
RTOL_F32 = 1e-5
#: Absolute tolerance on float32 values of order one.
ATOL_F32 = 1e-6
#: Relaxation f_α = Qf + α(f − Qf) adds the rounding of the 8-term average Qf.
RELAX_RTOL_F32 = 1e-4
#: Agreement of chunked and unchunked evaluations (different batch shapes round differently).
CHUNK_RTOL_F32 = 1e-5

CYC = symreg.Symmetry(G.Cyclic(8), A.Regular(), A.Regular())


def mlp(params, x):
    """A random MLP (B, 8) → (B, 8): not equivariant to anything in particular."""
    return jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"]


def _mlp_params(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "w1": jax.random.normal(k1, (8, 16)) / np.sqrt(8),
        "b1": 0.1 * jax.random.normal(k2, (16,)),
        "w2": jax.random.normal(k3, (16, 8)) / 4,
    }


MLP8 = _mlp_params(jax.random.key(42))


# --- shapes, keys, sharing, recompilation ----------------------------------------------------

X16 = jax.random.normal(jax.random.key(11), (16, 8))


def test_result_shapes_and_exact_row_order(key):
    assert symreg.equivariance_error(mlp, MLP8, X16, key, symmetry=CYC, num_samples=5).shape == (
        5,
        16,
    )
    exact = symreg.exact_equivariance_error(mlp, MLP8, X16, symmetry=CYC)
    assert exact.shape == (8, 16)
    # Row g is the error of the shift by g (the order of Cyclic(8).elements()), in NumPy.
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), MLP8)
    f = lambda v: np.tanh(v @ p["w1"] + p["b1"]) @ p["w2"]
    x = np.asarray(X16, np.float64)
    manual = [np.sum((f(np.roll(x, g, -1)) - np.roll(f(x), g, -1)) ** 2, -1) for g in range(8)]
    np.testing.assert_allclose(exact, np.stack(manual), rtol=RTOL_F32 * 10, atol=ATOL_F32 * 10)
    assert float(jnp.max(jnp.abs(exact[0]))) <= ATOL_F32  # the identity comes first
    sym = symreg.Symmetry(G.SO3(), A.Vector(), A.Vector())
    lie = symreg.lie_derivative_error(lambda p, x: x * p, 2.0, jnp.ones((6, 3)), symmetry=sym)
    assert lie.shape == (3, 6)


def test_same_key_same_errors_other_key_other_errors(key):
    run = lambda k: symreg.equivariance_error(mlp, MLP8, X16, k, symmetry=CYC, num_samples=4)
    np.testing.assert_array_equal(run(key), run(key))
    assert not np.array_equal(run(key), run(jax.random.key(1)))


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
def test_share_elements_uses_one_element_per_sample_for_the_batch(shared, key):
    same = jnp.broadcast_to(X16[:1], (16, 8))  # identical examples
    err = symreg.equivariance_error(
        mlp, MLP8, same, key, symmetry=CYC, num_samples=6, share_elements=shared
    )
    spread = float(jnp.max(err.max(1) - err.min(1)))
    if shared:
        assert spread <= ATOL_F32  # each row used one element for every example
    else:
        assert spread > 1e-2  # independent elements per example


_TRACES = []


def counting_mlp(params, x):
    _TRACES.append(x.shape)  # runs at trace time only
    return mlp(params, x)


def test_kernels_do_not_jit_themselves(key):
    """Each eager call traces the model again (no jit, no cache), and the same kernel under
    the caller's jit gives the same errors."""
    counts, eager = [len(_TRACES)], []
    for _ in range(2):
        eager.append(
            symreg.equivariance_error(counting_mlp, MLP8, X16, key, symmetry=CYC, num_samples=3)
        )
        counts.append(len(_TRACES))
    assert counts[2] > counts[1] > counts[0]  # the second eager call ran the model again
    jitted = jax.jit(
        lambda p, x, k: symreg.equivariance_error(
            counting_mlp, p, x, k, symmetry=CYC, num_samples=3
        )
    )(MLP8, X16, key)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager[0]), rtol=1e-5, atol=1e-6)


def test_new_data_params_and_keys_do_not_recompile(key):
    @jax.jit  # the kernel does not jit itself: its caller does, with the model closed over
    def run(p, x, k):
        return symreg.equivariance_error(counting_mlp, p, x, k, symmetry=CYC, num_samples=3)

    run(MLP8, X16, key)
    traced = len(_TRACES)
    assert traced >= 1
    other = jax.tree.map(lambda a: 2 * a, MLP8)
    run(other, X16 + 1.0, jax.random.key(5))
    run(MLP8, -X16, jax.random.fold_in(key, 3))
    assert len(_TRACES) == traced, "changing arrays (params, x, key) retraced the kernel"
    run(MLP8, X16[:8], key)  # a new batch size is a new shape: one more trace is expected
    assert len(_TRACES) > traced


def test_relax_scales_the_error_by_alpha_squared_exactly():
    """f_α = Qf + α(f − Qf) has e_{f_α}(g, x) = α·e_f(g, x) pointwise for an exact Q."""
    base = symreg.exact_equivariance_error(mlp, MLP8, X16, symmetry=CYC)
    for alpha in (0.0, 0.3, 1.0):
        relaxed = symreg.relax(mlp, alpha, symmetry=CYC)
        err = symreg.exact_equivariance_error(relaxed, MLP8, X16, symmetry=CYC)
        np.testing.assert_allclose(err, alpha**2 * base, rtol=RELAX_RTOL_F32, atol=10 * ATOL_F32)
    assert float(base.mean()) > 0.1


# --- gradients and chunking --------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [None, 5])
def test_check_grads_of_mean_error(chunk_size):
    with jax.enable_x64(True):
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), MLP8)
        x = jax.random.normal(jax.random.key(1), (4, 8), jnp.float64)

        def mean_error(p):
            err = symreg.equivariance_error(
                mlp, p, x, jax.random.key(2), symmetry=CYC, num_samples=3, chunk_size=chunk_size
            )
            return err.mean()

        assert mean_error(params).dtype == jnp.float64
        check_grads(mean_error, (params,), order=1, modes=("rev",))


CHUNK_X = X16


def assert_same(a, b, what):
    np.testing.assert_allclose(a, b, rtol=CHUNK_RTOL_F32, atol=CHUNK_RTOL_F32, err_msg=what)


@pytest.mark.parametrize("shared", [False, True], ids=["unshared", "shared"])
def test_chunking_gives_the_same_sampled_errors(shared, key):
    run = functools.partial(
        symreg.equivariance_error,
        mlp,
        MLP8,
        CHUNK_X,
        key,
        symmetry=CYC,
        num_samples=6,
        share_elements=shared,
    )
    assert_same(run(chunk_size=7), run(), "sampled, chunk_size=7")


def test_chunking_gives_the_same_exact_errors_and_symmetrization():
    exact = symreg.exact_equivariance_error(mlp, MLP8, CHUNK_X, symmetry=CYC)
    chunked = symreg.exact_equivariance_error(mlp, MLP8, CHUNK_X, symmetry=CYC, chunk_size=20)
    assert_same(chunked, exact, "exact, chunk_size=20")
    q = jax.jit(symreg.symmetrize(mlp, symmetry=CYC))(MLP8, CHUNK_X)
    qc = jax.jit(symreg.symmetrize(mlp, symmetry=CYC, chunk_size=40))(MLP8, CHUNK_X)
    assert_same(qc, q, "symmetrize, chunk_size=40")


def test_chunking_gives_the_same_gradients(key):
    def grad(chunk_size):
        return jax.grad(
            lambda p: symreg.equivariance_error(
                mlp, p, CHUNK_X, key, symmetry=CYC, num_samples=6, chunk_size=chunk_size
            ).mean()
        )(MLP8)

    for a, b in zip(jax.tree.leaves(grad(7)), jax.tree.leaves(grad(None)), strict=True):
        assert_same(a, b, "gradient with chunk_size=7")


# --- pytrees ------------------------------------------------------------------------------------


def point_and_charge(params, x):
    """Tuple in (positions (B, 3), charges (B,)), tuple out (invariant, vector)."""
    pos, q = x
    return (jnp.sum(pos**2, -1) + q, pos * q[:, None] * params)


def broken_point_and_charge(params, x):
    pos, q = x
    return (pos[:, 0] + q, pos * q[:, None] * params)


PYTREE_SYM = symreg.Symmetry(G.SO3(), (A.Vector(), A.Trivial()), (A.Trivial(), A.Vector()))


def test_tuple_inputs_and_outputs(key):
    k1, k2, k3 = jax.random.split(key, 3)
    x = (jax.random.normal(k1, (4, 3)), jax.random.normal(k2, (4,)))
    err = symreg.equivariance_error(
        point_and_charge, 2.0, x, k3, symmetry=PYTREE_SYM, num_samples=8, metric="relative"
    )
    assert err.shape == (8, 4) and rel_max(err) <= RTOL_F32


def test_broken_pytree_model_has_its_closed_form_error(key):
    """(Rp)₀ − p₀ for Haar R: E[(Rp)₀ − p₀]² = ‖p‖²/3 + p₀², per example."""
    k1, k2, k3 = jax.random.split(key, 3)
    pos = jax.random.normal(k1, (3, 3))
    x = (pos, jax.random.normal(k2, (3,)))
    err = symreg.equivariance_error(
        broken_point_and_charge, 2.0, x, k3, symmetry=PYTREE_SYM, num_samples=4096
    )
    p = np.asarray(pos, np.float64)
    truth = np.sum(p**2, -1) / 3 + p[:, 0] ** 2
    for b in range(3):
        stat_check(err[:, b], truth[b], f"closed-form error of example {b}")


def dict_model(params, x):
    v = x["vec"]
    return {"norm": jnp.sum(v**2, -1) * x["scale"], "vec": v * params}


def test_dict_inputs_and_outputs_exact_and_chunked():
    sym = symreg.Symmetry(
        G.Cyclic(4),
        {"vec": A.Vector(), "scale": A.Trivial()},
        {"norm": A.Trivial(), "vec": A.Vector()},
    )
    x = {"vec": jnp.arange(10.0).reshape(5, 2), "scale": jnp.arange(5.0)}
    err = symreg.exact_equivariance_error(dict_model, 1.5, x, symmetry=sym, metric="relative")
    chunked = symreg.exact_equivariance_error(
        dict_model, 1.5, x, symmetry=sym, metric="relative", chunk_size=3
    )
    assert err.shape == (4, 5) and rel_max(err) <= RTOL_F32
    assert_same(chunked, err, "dict pytree, chunk_size=3")


def test_mismatched_pytree_batch_is_an_error():
    x = {"vec": jnp.ones((5, 2)), "scale": jnp.ones((4,))}
    sym = symreg.Symmetry(G.Cyclic(4), {"vec": A.Vector(), "scale": A.Trivial()})
    with pytest.raises(ValueError, match="batch size"):
        symreg.exact_equivariance_error(dict_model, 1.0, x, symmetry=sym)


# --- metrics -------------------------------------------------------------------------------------


@functools.cache
def metric_values():
    """The metrics on small fixed inputs, in one compiled program."""

    @jax.jit
    def run(key):
        a = (jnp.array([1.0, 2.0]), {"z": jnp.array([[3.0]])})
        b = (jnp.array([0.0, 4.0]), {"z": jnp.array([[0.5]])})
        v = jax.random.normal(key, (5,))
        w = v.at[0].add(1.0)
        p, q = jax.nn.softmax(v), jax.nn.softmax(w)
        return {
            "sq": squared_l2(a, b),
            "sq_self": squared_l2(a, a),
            "l2": l2(a, b),
            "l2_grad_at_zero": jax.grad(lambda u: l2(u, v))(v),
            "max_abs": max_abs(a, b),
            "relative_zero": relative(jnp.zeros(3), jnp.zeros(3)),
            "kl_shift": kl(v + 3.0, v),
            "kl": kl(w, v),
            "kl_manual": jnp.sum(p * jnp.log(p / q)),
        }

    return jax.tree.map(np.asarray, run(jax.random.key(3)))


def test_squared_l2_l2_and_max_abs_on_pytrees():
    m = metric_values()
    assert m["sq"] == pytest.approx(1 + 4 + 6.25) and m["sq_self"] == 0.0
    assert m["l2"] == pytest.approx(np.sqrt(11.25))
    assert m["max_abs"] == pytest.approx(2.5)
    assert m["relative_zero"] == 0.0


def test_l2_gradient_is_finite_at_zero():
    g = metric_values()["l2_grad_at_zero"]
    assert np.all(np.isfinite(g)) and np.all(g == 0.0)
    sym = symreg.Symmetry(G.Symmetric(3), A.Permutation(), A.Permutation())
    x = jnp.arange(6.0).reshape(2, 3)
    grads = jax.grad(
        lambda w: symreg.exact_equivariance_error(
            elementwise, w, x, symmetry=sym, metric="l2"
        ).mean()
    )(2.0)
    assert np.isfinite(grads) and float(grads) == 0.0


def test_l2_and_relative_propagate_nan():
    bad = jnp.array([jnp.nan, 1.0])
    assert np.isnan(float(l2(bad, jnp.zeros(2))))
    assert np.isnan(float(relative(bad, jnp.zeros(2))))


def elementwise(p, v):
    return jnp.tanh(v) * p  # exactly permutation-equivariant: every error is exactly 0


def naive_relative(a, b):
    return jnp.sqrt(jnp.sum((a - b) ** 2)) / jnp.sqrt(jnp.sum(b**2))


def tiny(p, x):
    return p * (jnp.sum(x, -1, keepdims=True) + 0.01 * x[:, :1])


def test_relative_metric_is_not_fooled_by_outputs_near_zero(key):
    """Outputs 1e-8·(invariant) plus a 1% non-invariant term, of absolute size ~1e-10."""
    sym = symreg.Symmetry(G.Symmetric(4), A.Permutation())
    x = jax.random.normal(key, (16, 4))
    scaled = symreg.exact_equivariance_error(tiny, 1e-8, x, symmetry=sym, metric="relative")
    naive = symreg.exact_equivariance_error(tiny, 1e-8, x, symmetry=sym, metric=naive_relative)
    full = symreg.exact_equivariance_error(tiny, 1.0, x, symmetry=sym, metric="relative")
    print(f"near 0: relative {rel_max(scaled):.3g}, naive {rel_max(naive):.3g}")
    assert rel_max(scaled) <= RTOL_F32
    assert rel_max(naive) > 1e-2  # a plain ratio would report a large error
    assert rel_max(full) > 100 * RTOL_F32  # the same defect at scale 1 is detected


def test_max_abs_kernel_is_the_largest_entry(key):
    sym = symreg.Symmetry(G.Cyclic(4), A.Regular(), A.Regular())
    w = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    x = np.asarray(jax.random.normal(key, (3, 4)))
    err = symreg.exact_equivariance_error(
        lambda p, v: v * p, jnp.asarray(w), jnp.asarray(x), symmetry=sym, metric="max_abs"
    )
    manual = [np.abs(np.roll(x, g, -1) * w - np.roll(x * w, g, -1)).max(-1) for g in range(4)]
    np.testing.assert_allclose(err, np.stack(manual), atol=ATOL_F32)


def shifted_logits(p, x):
    return x + p * x[:, :1]  # shifted by a non-invariant constant per example


def test_kl_is_zero_iff_softmax_is_equal(key):
    m = metric_values()
    assert abs(m["kl_shift"]) <= ATOL_F32  # a shift does not change the softmax
    assert m["kl"] == pytest.approx(m["kl_manual"], rel=RTOL_F32) and m["kl"] > 1e-3
    # In a kernel: logits shifted by a non-invariant constant are KL-equivariant, not sq.
    sym = symreg.Symmetry(G.Cyclic(4), A.Regular(), A.Regular())
    x = jax.random.normal(key, (6, 4))
    kl_err = symreg.exact_equivariance_error(shifted_logits, 1.0, x, symmetry=sym, metric="kl")
    sq_err = symreg.exact_equivariance_error(shifted_logits, 1.0, x, symmetry=sym)
    assert rel_max(jnp.abs(kl_err)) <= RTOL_F32 and rel_max(sq_err) > 0.1


def test_auto_chunking_on_one_cpu_device():
    """chunk_size="auto" (default) chunks at AUTO_CHUNK_PAIRS past twice that many pairs on a
    single CPU device, with the same errors as one pass; below it, one pass."""
    from symreg.equivariance import _kernels

    sizes = []

    def model(w, x):
        sizes.append(x.shape[0])
        return jnp.tanh(x @ w)

    sym = symreg.Symmetry(G.Cyclic(4), A.Regular(), A.Regular())
    w = jax.random.normal(jax.random.key(0), (4, 4))
    x = jax.random.normal(jax.random.key(1), (1100, 4))
    chunk = _kernels.AUTO_CHUNK_PAIRS
    assert jax.device_count() == 1 and jax.default_backend() == "cpu"
    auto = symreg.equivariance_error(model, w, x, jax.random.key(2), symmetry=sym, num_samples=8)
    assert chunk in sizes  # 8800 pairs > 2 * 4096: chunked
    sizes.clear()
    one = symreg.equivariance_error(
        model, w, x, jax.random.key(2), symmetry=sym, num_samples=8, chunk_size=None
    )
    assert max(sizes) == 9 * 1100  # one pass on the B clean and S·B transformed inputs
    np.testing.assert_allclose(auto, one, rtol=1e-5, atol=1e-6)
    sizes.clear()
    symreg.equivariance_error(model, w, x[:100], jax.random.key(2), symmetry=sym, num_samples=8)
    assert max(sizes) == 9 * 100  # 800 pairs: one pass
