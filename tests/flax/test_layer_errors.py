"""symreg.flax.layer_errors (NNX and linen) and its bar plot symreg.plot.layer_errors."""

from __future__ import annotations

import flax.linen as linen
import jax
import jax.numpy as jnp
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from flax import nnx

import symreg
from symreg.actions import Permutation, Trivial, Vector
from symreg.flax import LayerErrors, layer_errors
from symreg.groups import SO2, Symmetric
from symreg.plot import layer_errors as plot_layer_errors

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

#: Relative ED₂ of an exactly equivariant intermediate in float32.
EXACT_REL_F32 = 1e-5
#: A non-equivariant intermediate must exceed this relative ED₂.
BROKEN_REL = 1e-2

SETS = symreg.Symmetry(Symmetric(4), Permutation(), Permutation())  # (4, d) -> (4, k)
SET_INVARIANT = symreg.Symmetry(Symmetric(4), Permutation(), Trivial())


class Net(nnx.Module):
    """A permutation-equivariant block (sown as "features"), then a head on the flat set."""

    def __init__(self, rngs):
        self.own = nnx.Linear(3, 2, rngs=rngs)
        self.pool = nnx.Linear(3, 2, rngs=rngs)
        self.head = nnx.Linear(8, 2, rngs=rngs)

    def __call__(self, x):
        h = jnp.tanh(self.own(x) + self.pool(x.mean(axis=1, keepdims=True)))
        self.sow(nnx.Intermediate, "features", h)
        return self.head(h.reshape(h.shape[0], -1))


class LinenNet(linen.Module):
    @linen.compact
    def __call__(self, x):
        h = linen.Dense(2)(x)  # acts on the last axis: equivariant to permuting the set
        self.sow("intermediates", "pooled", h.sum(axis=1))  # invariant
        return linen.Dense(2)(h.reshape(h.shape[0], -1))  # not invariant


@pytest.fixture
def sets():
    return jax.random.normal(jax.random.key(1), (8, 4, 3))


def test_nnx_sown_and_method_outputs_get_their_errors(sets):
    model = Net(nnx.Rngs(0))
    syms = {"features": SETS, "head/__call__": SET_INVARIANT}
    errs = layer_errors(model, sets, symmetries=syms)
    assert isinstance(errs, LayerErrors) and list(errs) == ["features", "head/__call__"]
    assert errs.relative("features") <= EXACT_REL_F32
    assert errs.relative("head/__call__") > BROKEN_REL
    graphdef, state = nnx.split(model)  # the head's output is the model's output

    def apply_fn(state, x):
        return nnx.capture(nnx.merge(graphdef, state), nnx.Intermediate)(x)[0]

    direct = symreg.exact_equivariance_error(apply_fn, state, sets, symmetry=SET_INVARIANT)
    per_example = np.asarray(direct).mean(axis=0)
    np.testing.assert_allclose(errs["head/__call__"].value, per_example.mean(), rtol=1e-5)
    se = per_example.std(ddof=1) / np.sqrt(per_example.size)
    np.testing.assert_allclose(errs["head/__call__"].stderr, se, rtol=1e-4)
    out = apply_fn(state, sets)
    np.testing.assert_allclose(errs.scale("head/__call__"), jnp.mean(jnp.sum(out**2, -1)), 1e-5)


def test_linen_capture_intermediates_and_sow(sets):
    module = LinenNet()
    variables = module.init(jax.random.key(0), sets)
    syms = {"Dense_0/__call__": SETS, "pooled": SET_INVARIANT, "__call__": SET_INVARIANT}
    errs = layer_errors((module, variables), sets, symmetries=syms)
    assert errs.relative("Dense_0/__call__") <= EXACT_REL_F32
    assert errs.relative("pooled") <= EXACT_REL_F32
    assert errs.relative("__call__") > BROKEN_REL
    direct = symreg.exact_equivariance_error(module.apply, variables, sets, symmetry=SET_INVARIANT)
    np.testing.assert_allclose(errs["__call__"].value, direct.mean(), rtol=1e-5)


def test_sampled_errors_for_a_continuous_group():
    plane = symreg.Symmetry(SO2(), Vector(), Vector())
    model = nnx.Sequential(nnx.Linear(2, 2, use_bias=False, rngs=nnx.Rngs(0)))
    model.layers[0].kernel.set_value(jnp.array([[0.0, 1.0], [-1.0, 0.0]]))  # a rotation
    x = jax.random.normal(jax.random.key(1), (16, 2))
    errs = layer_errors(model, x, jax.random.key(2), symmetries={"__call__": plane}, num_samples=8)
    assert errs.relative("__call__") <= EXACT_REL_F32
    model.layers[0].kernel.set_value(jnp.array([[1.0, 0.0], [0.0, 0.0]]))  # a projection
    errs = layer_errors(model, x, jax.random.key(2), symmetries={"__call__": plane}, num_samples=8)
    assert errs.relative("__call__") > BROKEN_REL


def test_result_prints_as_a_table(sets):
    errs = layer_errors(Net(nnx.Rngs(0)), sets, symmetries={"features": SETS})
    lines = str(errs).splitlines()
    assert lines[0].split() == ["layer", "ED", "(sq)", "±", "s.e.", "relative"]
    assert lines[1].split()[0] == "features" and len(lines) == 2
    assert repr(errs) == str(errs)


def test_bad_arguments_are_named(sets):
    model = Net(nnx.Rngs(0))
    with pytest.raises(
        ValueError, match=r"^symmetries\['feature'\]: the model has no .*'features'"
    ):
        layer_errors(model, sets, symmetries={"feature": SETS})
    with pytest.raises(TypeError, match="^symmetries must be a non-empty mapping"):
        layer_errors(model, sets, symmetries={})
    with pytest.raises(TypeError, match=r"^symmetries\['features'\] must be a symreg.Symmetry"):
        layer_errors(model, sets, symmetries={"features": Symmetric(4)})
    with pytest.raises(TypeError, match="^model must be a flax.nnx.Module or a pair"):
        layer_errors(lambda x: x, sets, symmetries={"features": SETS})
    with pytest.raises(ValueError, match="^x must hold at least 2 examples"):
        layer_errors(model, sets[:1], symmetries={"features": SETS})
    with pytest.raises(ValueError, match="^key is required"):
        layer_errors(model, sets, symmetries={"features": SETS}, num_samples=2)
    with pytest.raises(ValueError, match=r"^apply_fn output \(one example\)"):
        layer_errors(model, sets, symmetries={"head/__call__": SETS})  # 2 outputs, not 4


def test_bar_plot_shows_each_layer_with_its_stderr(sets):
    backend = matplotlib.get_backend()
    errs = layer_errors(
        Net(nnx.Rngs(0)), sets, symmetries={"features": SETS, "head/__call__": SET_INVARIANT}
    )
    ax = plot_layer_errors(errs)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["features", "head/__call__"]
    heights = [float(p.get_height()) for p in ax.patches]
    np.testing.assert_allclose(heights, [float(errs[n].value) for n in errs], rtol=1e-6)
    plt.close(ax.figure)
    ax = plot_layer_errors(errs, relative=True)
    heights = [float(p.get_height()) for p in ax.patches]
    np.testing.assert_allclose(heights, [errs.relative(n) for n in errs], rtol=1e-5)
    assert "relative" in ax.get_ylabel()
    plt.close(ax.figure)
    assert matplotlib.get_backend() == backend  # the backend is left alone


def test_bar_plot_bad_input():
    with pytest.raises(TypeError, match="^errors must be a non-empty mapping"):
        plot_layer_errors([])
    with pytest.raises(TypeError, match=r"^errors\['a'\] must have .value and .stderr"):
        plot_layer_errors({"a": 1.0})
    with pytest.raises(TypeError, match="^relative=True needs errors with a .scale"):
        plot_layer_errors(
            {"a": symreg.Estimate(jnp.float32(1.0), jnp.float32(0.1), method="m", n=2)},
            relative=True,
        )
