"""Tests of `symreg.testing.assert_equivariant`, the library's equivariance assertion.

It must pass genuinely equivariant models, including deep float32 e3nn-jax networks whose
rounding defeats fixed 1e-6 tolerances, fail broken models with a readable message, and use
dtype-aware tolerances (float64: 1e-9).
"""

from __future__ import annotations

import e3nn_jax as e3nn
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symreg
from symreg import actions as A
from symreg import groups as G
from symreg.testing import RTOL, assert_equivariant

pytestmark = pytest.mark.usefixtures("fast_compile")

#: The default tolerances the tests rely on.
RTOL_F32 = 1e-4
RTOL_F64 = 1e-9
#: A symmetry break of this relative size passes float32 and fails float64 checks.
TINY_BREAK = 1e-7

IRREPS_IN = e3nn.Irreps("0e + 1o + 1e + 2e")
IRREPS_OUT = e3nn.Irreps("2x0e + 1o + 2e")


class DeepE3(nn.Module):
    """Four blocks of Linear → gate → tensor product → Linear, then a Linear readout."""

    depth: int = 4

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            y = e3nn.gate(e3nn.flax.Linear("8x0e + 4x0e + 2x1o + 1e + 2e")(x))
            t = e3nn.tensor_product(y, y, filter_ir_out=["0e", "1o", "1e", "2e"])
            x = e3nn.flax.Linear("4x0e + 2x1o + 1e + 2e")(e3nn.concatenate([y, t]).regroup())
        return e3nn.flax.Linear(IRREPS_OUT)(x)


def _deep_model():
    module = DeepE3()
    dummy = e3nn.IrrepsArray(IRREPS_IN, jnp.zeros((1, IRREPS_IN.dim)))
    shapes = jax.eval_shape(module.init, jax.random.key(0), dummy)
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda s: jnp.asarray(rng.normal(size=s.shape), s.dtype), shapes)
    return jax.jit(lambda x: module.apply(params, e3nn.IrrepsArray(IRREPS_IN, x)).array)


DEEP = _deep_model()
O3_SYM = symreg.Symmetry(G.O3(), A.Irreps(IRREPS_IN), A.Irreps(IRREPS_OUT))
X = jax.random.normal(jax.random.key(1), (32, IRREPS_IN.dim))


def test_default_tolerances():
    assert RTOL[jnp.dtype(jnp.float32)] == RTOL_F32
    assert RTOL[jnp.dtype(jnp.float64)] == RTOL_F64


def test_deep_e3nn_model_passes_symreg_but_fails_fixed_1e6_tolerances():
    # Measured max relative error: about 1e-5 (float32 rounding through four blocks).
    assert_equivariant(DEEP, X, jax.random.key(2), symmetry=O3_SYM, num_samples=16)
    # e3nn-jax's own check, with its fixed atol = rtol = 1e-6, rejects the same model: the
    # rounding exceeds 1e-6 on outputs of size ~1 to ~1e3.
    on_irreps = lambda xi: e3nn.IrrepsArray(IRREPS_OUT, DEEP(xi.array))
    for seed in (0, 1):
        with pytest.raises(AssertionError, match="Not equal to tolerance"):
            e3nn.utils.assert_equivariant(
                on_irreps, jax.random.key(seed), e3nn.IrrepsArray(IRREPS_IN, X)
            )


def test_broken_model_fails_with_a_readable_message():
    sym = symreg.Symmetry(G.O3(), A.Irreps("1o + 0e"), A.Irreps("0e"))

    def broken(x):  # an invariant output with a leak of the vector's x component
        return jnp.sum(x**2, -1, keepdims=True) + 0.1 * x[:, :1]

    x = jax.random.normal(jax.random.key(0), (8, 4))
    with pytest.raises(AssertionError) as info:
        assert_equivariant(broken, x, jax.random.key(2), symmetry=sym, num_samples=4)
    msg = str(info.value)
    print(msg)
    for part in (
        "not equivariant under O3()",
        "error / output scale mean",
        ", max ",
        "> rtol 0.0001",
        "of 32 (element, example) pairs",
        "worst: example",
        "element [[",
    ):
        assert part in msg, f"{part!r} missing from: {msg}"


def test_worst_example_and_element_are_located_exactly():
    """Only example 2 breaks, worst for the shift by 2 (12 replaces 10): the message says so."""
    sym = symreg.Symmetry(G.Cyclic(4), A.Regular())

    def fn(x):  # per example: the example whose largest entry is 12 is not invariant
        return x.sum(-1) + jnp.where(x.max(-1) == 12.0, x[:, 1], 0.0)

    x = jnp.arange(12.0).reshape(3, 4) + 1.0
    with pytest.raises(AssertionError, match=r"on 3 of 12 .* worst: example 2, element 2$"):
        assert_equivariant(fn, x, jax.random.key(0), symmetry=sym)


def test_nan_outputs_fail():
    sym = symreg.Symmetry(G.Symmetric(3), A.Permutation())
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(
            lambda x: jnp.log(x[:, 0] - 10.0), jnp.ones((2, 3)), jax.random.key(0), symmetry=sym
        )


def test_float64_uses_tighter_tolerance():
    sym = symreg.Symmetry(G.Symmetric(4), A.Permutation())

    def almost(x):  # invariant up to a relative break of TINY_BREAK
        return jnp.sum(x**2, -1) * (1 + TINY_BREAK * jnp.tanh(x[:, 0]))

    exact = lambda x: jnp.sum(x**2, -1)
    key = jax.random.key(0)
    x32 = jax.random.normal(key, (6, 4))
    assert_equivariant(almost, x32, key, symmetry=sym)  # float32: below 1e-4
    with jax.enable_x64(True):
        x64 = jnp.asarray(x32, jnp.float64)
        assert almost(x64).dtype == jnp.float64
        assert_equivariant(exact, x64, key, symmetry=sym)  # rounding only: below 1e-9
        with pytest.raises(AssertionError, match="rtol 1e-09"):
            assert_equivariant(almost, x64, key, symmetry=sym)
        assert_equivariant(almost, x64, key, symmetry=sym, rtol=1e-5)  # explicit override


def test_float64_rotation_invariance():
    sym = symreg.Symmetry(G.SO3(), A.Vector())
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(0), (4, 3), jnp.float64)
        assert_equivariant(lambda v: jnp.sum(v**2, -1), x, jax.random.key(1), symmetry=sym)


def test_sampled_path_for_continuous_groups_and_exact_path_for_finite():
    key = jax.random.key(0)
    x = jax.random.normal(key, (5, 3))
    rot = symreg.Symmetry(G.SO3(), A.Vector(), A.Vector())
    assert_equivariant(lambda v: 2.0 * v, x, key, symmetry=rot, num_samples=8)
    with pytest.raises(AssertionError, match="not equivariant under SO3"):
        assert_equivariant(
            lambda v: v * jnp.array([1.0, 1.0, 2.0]), x, key, symmetry=rot, num_samples=8
        )
    # A finite group is enumerated by default (tested above); exact=False samples it.
    perm = symreg.Symmetry(G.Symmetric(3), A.Permutation())
    with pytest.raises(AssertionError, match=r"Symmetric\(n=3\).* of 40 \(element, example\)"):
        assert_equivariant(lambda v: v[:, 0], x, key, symmetry=perm, exact=False, num_samples=8)


def test_pytree_inputs_and_outputs():
    sym = symreg.Symmetry(G.SO3(), (A.Vector(), A.Trivial()), (A.Trivial(), A.Vector()))
    key = jax.random.key(0)
    x = (jax.random.normal(key, (4, 3)), jnp.arange(4.0))
    assert_equivariant(
        lambda t: (jnp.sum(t[0] ** 2, -1), t[0] * t[1][:, None]),
        x,
        key,
        symmetry=sym,
        num_samples=8,
    )


def test_bad_arguments():
    sym = symreg.Symmetry(G.Symmetric(3), A.Permutation())
    x, key = jnp.ones((2, 3)), jax.random.key(0)
    with pytest.raises(TypeError, match="fn must be callable"):
        assert_equivariant("f", x, key, symmetry=sym)
    with pytest.raises(ValueError, match="rtol must be finite and > 0"):
        assert_equivariant(lambda v: v.sum(-1), x, key, symmetry=sym, rtol=-1.0)
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        assert_equivariant(lambda v: v.sum(-1), x, key, symmetry=sym, num_samples=0)
    with pytest.raises(TypeError, match="symmetry must be a symreg.Symmetry"):
        assert_equivariant(lambda v: v.sum(-1), x, key, symmetry=G.Symmetric(3))


def test_outputs_near_zero_are_judged_on_the_batch_scale():
    """Invariant DeepSets outputs that cancel near 0 pass; all-tiny broken outputs still fail."""
    sym = symreg.Symmetry(G.Symmetric(5), A.Permutation())
    x = jax.random.normal(jax.random.key(0), (512, 5))
    deepsets = lambda x: jnp.tanh(x[..., None] * jnp.ones(3)).sum((1, 2))
    assert_equivariant(deepsets, x, jax.random.key(1), symmetry=sym)
    with pytest.raises(AssertionError, match="error / output scale mean"):
        assert_equivariant(lambda x: 1e-8 * x[:, 0], x, jax.random.key(1), symmetry=sym)


def test_exact_zero_outputs_need_an_absolute_tolerance():
    """A model that is 0 only up to rounding (cancelling weights) needs atol, and passes with it."""
    sym = symreg.Symmetry(G.Symmetric(5), A.Permutation())
    x = jax.random.normal(jax.random.key(0), (256, 5))
    zero = lambda x: jnp.tanh(x[..., None] * jnp.linspace(-2.0, 2.0, 6)).sum((1, 2))
    with pytest.raises(AssertionError):
        assert_equivariant(zero, x, jax.random.key(1), symmetry=sym)
    assert_equivariant(zero, x, jax.random.key(1), symmetry=sym, atol=1e-5)
