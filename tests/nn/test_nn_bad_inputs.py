"""symreg.nn: bad arguments raise a ValueError or TypeError that names the argument."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

import symreg
from symreg.actions import Permutation, Regular, Vector
from symreg.groups import O2, SO2, Cyclic, Dihedral, Symmetric
from symreg.nn import ConvSpec, Relax, RelaxedGroupConv, ResidualPathway, Symmetrize

#: Compile-bound: many small programs compiled once each (tests/conftest.py, fast_compile).
pytestmark = pytest.mark.usefixtures("fast_compile")

C4 = symreg.Symmetry(Cyclic(4), Regular(), Regular())
PLANE = symreg.Symmetry(SO2(), Vector(), Vector())


def linear(n_in=4, n_out=4):
    return nnx.Linear(n_in, n_out, rngs=nnx.Rngs(0))


# --- ResidualPathway ----------------------------------------------------------------------------


def test_free_path_with_another_output_shape_is_named():
    layer = ResidualPathway(linear(4, 4), linear(4, 3), symmetry=C4)
    with pytest.raises(ValueError, match=r"^free: .*\(2, 3\) against \(2, 4\)"):
        layer(jnp.ones((2, 4)))


def test_free_path_with_another_structure_is_named():
    layer = ResidualPathway(linear(), lambda x: (x, x), symmetry=C4)
    with pytest.raises(ValueError, match=r"^free: .*structure"):
        layer(jnp.ones((2, 4)))


@pytest.mark.parametrize("which", ["equivariant", "free"])
def test_a_path_that_is_not_callable_is_named(which):
    paths = {"equivariant": linear(), "free": linear(), which: 3.0}
    with pytest.raises(TypeError, match=f"^{which} must be callable"):
        ResidualPathway(**paths, symmetry=C4)


def test_pathway_needs_a_symmetry():
    with pytest.raises(TypeError, match="^symmetry must be a symreg.Symmetry"):
        ResidualPathway(linear(), linear(), symmetry=Cyclic(4))


def test_penalty_over_a_continuous_group_needs_samples_and_a_key():
    layer = ResidualPathway(lambda x: x, linear(2, 2), symmetry=PLANE)
    with pytest.raises(ValueError, match="^num_samples is None"):
        layer.penalty(jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="^key is required"):
        layer.penalty(jnp.ones((3, 2)), num_samples=4)
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        layer.penalty(jnp.ones((3, 2)), jax.random.key(0), num_samples=0)


def test_penalty_on_inputs_that_do_not_fit_the_action_names_x():
    layer = ResidualPathway(lambda x: x, linear(), symmetry=C4)
    with pytest.raises(ValueError, match=r"^x \(one example\)"):
        layer.penalty(jnp.ones((3, 5)))


# --- RelaxedGroupConv ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "group, domain",
    [(SO2(), "image"), (O2(), "image"), (Cyclic(8), "image"), (Dihedral(3), "image")]
    + [(SO2(), "sequence"), (Dihedral(4), "sequence"), (Symmetric(3), "sequence")],
)
def test_a_group_the_conv_cannot_act_with_is_named(group, domain):
    with pytest.raises(ValueError, match=r"^group=.* cannot act in RelaxedGroupConv"):
        RelaxedGroupConv(1, 1, group=group, domain=domain, rngs=nnx.Rngs(0))


def test_a_group_that_is_not_a_group_is_a_type_error():
    with pytest.raises(TypeError, match="^group must be a group"):
        RelaxedGroupConv(1, 1, group=4, rngs=nnx.Rngs(0))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(domain="graph"), ValueError, "^domain must be one of"),
        (dict(domain="sequence", lifting=True), ValueError, "^lifting=True is for images"),
        (dict(kernel_size=4), ValueError, "^kernel_size must be odd"),
        (dict(kernel_size=0), ValueError, "^kernel_size must be >= 1"),
        (dict(num_bases=0), ValueError, "^num_bases must be >= 1"),
        (dict(num_bases=1.5), TypeError, "^num_bases must be a positive int"),
        (dict(in_features=0), ValueError, "^in_features must be >= 1"),
    ],
)
def test_bad_conv_settings_are_named(kwargs, error, match):
    args = dict(domain="image", lifting=False, in_features=1, out_features=1)
    args |= dict(kernel_size=3, num_bases=2) | kwargs
    with pytest.raises(error, match=match):
        ConvSpec(Cyclic(4), **args)
    with pytest.raises(error, match=match):  # the layer builds the same spec
        RelaxedGroupConv(group=Cyclic(4), rngs=nnx.Rngs(0), **args)


@pytest.mark.parametrize(
    "lifting, domain, group, shape",
    [
        (True, "image", Cyclic(4), (2, 5, 5, 3)),  # 3 channels, not 1
        (True, "image", Cyclic(4), (2, 5, 6, 1)),  # not square
        (False, "image", Dihedral(4), (2, 5, 5, 4, 1)),  # group axis 4, not 8
        (False, "image", Cyclic(4), (2, 5, 5, 1)),  # an image, not a feature map
        (False, "sequence", Cyclic(6), (2, 5, 1)),  # length 5, not 6
    ],
)
def test_conv_input_of_the_wrong_shape_is_named(lifting, domain, group, shape):
    layer = RelaxedGroupConv(1, 2, group=group, domain=domain, lifting=lifting, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"^x must be a batch of"):
        layer(jnp.ones(shape))


def test_sequence_kernel_longer_than_the_sequence_is_named():
    with pytest.raises(ValueError, match="^kernel_size must be at most the sequence length n = 4"):
        RelaxedGroupConv(1, 1, group=Cyclic(4), domain="sequence", kernel_size=5, rngs=nnx.Rngs(0))


def test_conv_integer_input_is_a_type_error():
    layer = RelaxedGroupConv(1, 2, group=Cyclic(6), domain="sequence", rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="^x must have a floating dtype"):
        layer(jnp.ones((2, 6, 1), jnp.int32))


# --- Symmetrize and Relax -----------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), float("inf")])
def test_fixed_alpha_outside_the_unit_interval_is_named(alpha):
    with pytest.raises(ValueError, match=r"^alpha must be in \[0, 1\]"):
        Relax(linear(), C4, alpha)


def test_learnable_alpha_checks():
    with pytest.raises(ValueError, match=r"^alpha \(initial value\) must be in \[0, 1\]"):
        Relax(linear(), C4, nnx.Param(jnp.float32(2.0)))
    with pytest.raises(ValueError, match="^alpha as an nnx.Param must hold a floating scalar"):
        Relax(linear(), C4, nnx.Param(jnp.ones(2)))
    with pytest.raises(TypeError, match="^alpha must be a number"):
        Relax(linear(), C4, "0.5")
    with pytest.raises(TypeError, match="^alpha must be a number"):
        Relax(linear(), C4, True)


def test_symmetrize_arguments_are_named():
    with pytest.raises(TypeError, match="^module must be callable"):
        Symmetrize(None, C4)
    with pytest.raises(TypeError, match="^symmetry must be a symreg.Symmetry"):
        Symmetrize(linear(), (Cyclic(4), Regular()))
    with pytest.raises(ValueError, match="^num_samples is None"):
        Symmetrize(linear(2, 2), PLANE)
    with pytest.raises(ValueError, match="^key is required"):
        Symmetrize(linear(2, 2), PLANE, 4)
    with pytest.raises(TypeError, match="^key must be a JAX PRNG key"):
        Symmetrize(linear(2, 2), PLANE, 4, key=0)
    with pytest.raises(ValueError, match="^num_samples must be >= 1"):
        Symmetrize(linear(2, 2), PLANE, 0, key=jax.random.key(0))


def test_symmetrize_output_that_does_not_fit_the_output_action_is_named():
    sets = symreg.Symmetry(Symmetric(4), Permutation(), Permutation())
    layer = Symmetrize(linear(4, 3), sets)  # 3 outputs cannot be permuted by S4
    with pytest.raises(ValueError, match=r"^apply_fn output \(one example\)"):
        layer(jnp.ones((2, 4)))
