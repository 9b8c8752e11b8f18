"""Bad input to the foundation (groups, actions, kernels) raises early and readably.

Each case must raise ValueError or TypeError at trace time (never a raw XLA error), with a
message that names the argument and shows the bad shape or value; `match` checks both.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import symreg
from symreg import actions as A
from symreg import groups as G

KEY = jax.random.key(0)
ROT = symreg.Symmetry(G.SO3(), A.Vector(), A.Vector())
CYC = symreg.Symmetry(G.Cyclic(3), A.Vector())
X = jnp.ones((4, 3))


def scale(p, x):
    return p * x


def sampled(x=X, *, fn=scale, symmetry=ROT, key=KEY, **kw):
    kw.setdefault("num_samples", 2)
    return symreg.equivariance_error(fn, 1.0, x, key, symmetry=symmetry, **kw)


def sym(transforms, act_in, act_out=None):
    return symreg.Symmetry(transforms, act_in, A.Trivial() if act_out is None else act_out)


#: id -> (call, regex that the ValueError message must match)
VALUE_ERRORS = {
    # --- x does not fit the input action -------------------------------------------------
    "x-rank": (
        lambda: sampled(jnp.ones((4,))),
        r"x \(one example\): Vector\(\) cannot act on one example with \(\(\), 'float32'\): "
        r"expected a last axis of size 3, got shape \(\)",
    ),
    "x-last-axis": (
        lambda: sampled(jnp.ones((4, 2))),
        r"x \(one example\).*expected a last axis of size 3, got shape \(2,\)",
    ),
    "x-scalar": (
        lambda: sampled(jnp.float32(1.0)),
        r"x must have a leading batch axis B, got a scalar",
    ),
    "x-empty-batch": (lambda: sampled(jnp.ones((0, 3))), r"x has an empty batch \(B = 0\)"),
    "x-int-vector": (
        lambda: sampled(jnp.ones((4, 3), jnp.int32)),
        r"x \(one example\).*'int32'.*expected a floating dtype, got int32",
    ),
    "x-int-irreps": (
        lambda: sampled(jnp.ones((4, 4), jnp.int32), symmetry=sym(G.O3(), A.Irreps("0e + 1o"))),
        r"Irreps\(\"1x0e\+1x1o\"\).*expected a floating dtype, got int32",
    ),
    "x-irreps-dim": (
        lambda: sampled(jnp.ones((4, 5)), symmetry=sym(G.SO3(), A.Irreps("1o"))),
        r"expected a last axis of size 3 \(1x1o\), got \(5,\)",
    ),
    "x-pointcloud-dim": (
        lambda: sampled(jnp.ones((2, 4, 2)), symmetry=sym(G.SO3(), A.PointCloud())),
        r"\(\(4, 2\), 'float32'\).*expected float coordinates of shape \(n, 3\)",
    ),
    "x-pointcloud-npoints": (
        lambda: sampled(
            jnp.ones((2, 5, 3)),
            symmetry=sym(G.DirectProduct(G.SO3(), G.Symmetric(4)), A.PointCloud()),
        ),
        r"expected 4 points, got 5",
    ),
    "x-pointcloud-features": (
        lambda: sampled(
            (jnp.ones((2, 4, 3)), jnp.ones((2, 4, 3))),
            symmetry=sym(G.SO3(), A.PointCloud("0e + 1o")),
        ),
        r"expected a last axis of size 4 \(1x0e\+1x1o\), got \(4, 3\)",
    ),
    "x-image-square": (
        lambda: sampled(jnp.ones((2, 4, 5)), symmetry=sym(G.Cyclic(4), A.Image())),
        r"\(\(4, 5\), 'float32'\).*rotations need a square image, got 4×5",
    ),
    "x-image-shift-size": (
        lambda: sampled(
            jnp.ones((2, 4, 5)), symmetry=sym(G.DirectProduct(G.Cyclic(4), G.Cyclic(6)), A.Image())
        ),
        r"need an image of 4×6",
    ),
    "x-image-rank": (
        lambda: sampled(jnp.ones((2, 4)), symmetry=sym(G.Cyclic(4), A.Image())),
        r"expected one image of shape \(H, W\) or \(H, W, C\)",
    ),
    "x-permutation-size": (
        lambda: sampled(jnp.ones((2, 5)), symmetry=sym(G.Symmetric(4), A.Permutation())),
        r"expected axis 0 of size 4 \(the points permuted\), got shape \(5,\)",
    ),
    "x-regular-size": (
        lambda: sampled(jnp.ones((2, 5)), symmetry=sym(G.Dihedral(3), A.Regular())),
        r"expected axis -1 of size \|G\| = 6, got \(5,\)",
    ),
    "x-tree-not-tuple": (
        lambda: sampled(X, symmetry=sym(G.SO3(), (A.Vector(), A.Trivial()))),
        r"expected a tuple of 2 entries",
    ),
    "x-tree-dict-keys": (
        lambda: sampled({"a": X}, symmetry=sym(G.SO3(), {"a": A.Vector(), "b": A.Trivial()})),
        r"expected a dict with keys \['a', 'b'\]",
    ),
    "x-tree-batch-mismatch": (
        lambda: sampled(
            (jnp.ones((4, 3)), jnp.ones((5,))),
            fn=lambda p, x: x[0],
            symmetry=sym(G.SO3(), (A.Vector(), A.Trivial())),
        ),
        r"x leaves must share the batch size B, got \{'x\[0\]': 4, 'x\[1\]': 5\}",
    ),
    # --- the output does not fit the output action -----------------------------------------
    "out-shape": (
        lambda: sampled(fn=lambda p, x: x[:, :2]),
        r"apply_fn output \(one example\): Vector\(\).*\(\(2,\), 'float32'\).*"
        r"expected a last axis of size 3, got shape \(2,\)",
    ),
    "out-scalar": (
        lambda: sampled(fn=lambda p, x: x.sum(-1)),
        r"apply_fn output \(one example\).*got shape \(\)",
    ),
    "out-batch": (
        lambda: sampled(fn=lambda p, x: x[:2]),
        r"apply_fn\(params, x\) must keep the batch size B = 4, got 2",
    ),
    "out-exact-batch": (
        lambda: symreg.exact_equivariance_error(
            lambda p, x: x[:1], None, jnp.ones((4, 2)), symmetry=CYC
        ),
        r"apply_fn\(params, x\) must keep the batch size B = 4, got 1",
    ),
    # --- counts, chunk sizes, metrics ------------------------------------------------------
    "num-samples-zero": (lambda: sampled(num_samples=0), r"num_samples must be >= 1, got 0"),
    "num-samples-negative": (lambda: sampled(num_samples=-3), r"num_samples must be >= 1, got -3"),
    "chunk-zero": (lambda: sampled(chunk_size=0), r"chunk_size must be >= 1, got 0"),
    "chunk-exact-zero": (
        lambda: symreg.exact_equivariance_error(
            scale, 1.0, jnp.ones((2, 2)), symmetry=CYC, chunk_size=0
        ),
        r"chunk_size must be >= 1, got 0",
    ),
    "metric-unknown": (
        lambda: sampled(metric="cosine"),
        r"metric must be one of \['kl', 'l2', 'max_abs', 'relative', 'sq'\] or a callable, got 'cosine'",
    ),
    "lie-metric": (
        lambda: symreg.lie_derivative_error(scale, 1.0, X, symmetry=ROT, metric="kl"),
        r"metric for lie_derivative_error must be 'sq' or 'l2', got 'kl'",
    ),
    # --- the wrong kind of group for the kernel --------------------------------------------
    "exact-too-large": (
        lambda: symreg.exact_equivariance_error(
            scale, 1.0, jnp.ones((1, 13)), symmetry=sym(G.Symmetric(13), A.Vector())
        ),
        r"Symmetric\(n=13\) has order 6227020800, more than MAX_ENUMERATION = 1048576",
    ),
    "symmetrize-continuous": (
        lambda: symreg.symmetrize(scale, symmetry=ROT),
        r"symmetrize over SO3\(\) \(not a finite group\) needs num_samples and key",
    ),
    "symmetrize-no-key": (
        lambda: symreg.symmetrize(scale, symmetry=ROT, num_samples=4),
        r"symmetrize with num_samples needs key",
    ),
    "symmetrize-num-samples": (
        lambda: symreg.symmetrize(scale, symmetry=ROT, num_samples=0, key=KEY),
        r"num_samples must be >= 1, got 0",
    ),
    "relax-alpha": (
        lambda: symreg.relax(scale, -0.5, symmetry=CYC),
        r"alpha must be finite and >= 0, got -0.5",
    ),
    # --- an action that does not fit the group (Symmetry construction) ---------------------
    "action-vector-translations": (
        lambda: sym(G.Translations(2), A.Vector()),
        r"act_in=Vector\(\) cannot act with elements of Translations\(dim=2, period=1.0\): the "
        r"group has no defining matrix representation",
    ),
    "action-vector-product": (
        lambda: sym(G.DirectProduct(G.SO3(), G.Symmetric(3)), A.Vector()),
        r"use Factorwise\(\.\.\.\) for products",
    ),
    "action-irreps-so2": (
        lambda: sym(G.SO2(), A.Irreps("1o")),
        r"act_in=Irreps\(\"1x1o\"\) cannot act with elements of SO2\(\): Irreps needs SO3 or O3",
    ),
    "action-permutation-so3": (
        lambda: sym(G.SO3(), A.Permutation()),
        r"act_in=Permutation\(axis=0\) cannot act with elements of SO3\(\): the group does not "
        r"act by permutations",
    ),
    "action-regular-continuous": (
        lambda: sym(G.SO2(), A.Regular()),
        r"act_in=Regular\(axis=-1\) cannot act with elements of SO2\(\): the regular "
        r"representation needs a finite group",
    ),
    "action-out": (
        lambda: sym(G.SO3(), A.Vector(), A.Regular()),
        r"act_out=Regular\(axis=-1\) cannot act with elements of SO3\(\)",
    ),
    "action-image-symmetric": (
        lambda: sym(G.Symmetric(3), A.Image()),
        r"act_in=Image\(\) cannot act with elements of Symmetric\(n=3\): Image supports",
    ),
    "action-factorwise-count": (
        lambda: sym(G.DirectProduct(G.SO2(), G.Symmetric(3)), A.Factorwise(A.Vector())),
        r"1 actions for 2 factors",
    ),
    "action-factorwise-group": (
        lambda: sym(G.SO2(), A.Factorwise(A.Vector(), A.Vector())),
        r"Factorwise acts with DirectProduct elements",
    ),
    "action-pointcloud-product": (
        lambda: sym(G.DirectProduct(G.SO3(), G.Translations(3)), A.PointCloud()),
        r"the second factor Translations\(dim=3, period=1.0\) does not permute points",
    ),
    "action-tree-entry": (
        lambda: sym(G.SO2(), (A.Vector(), A.Irreps("0e"))),
        r"act_in=Tree\(.*\) cannot act with elements of SO2\(\): Irreps\(\"1x0e\"\): Irreps needs",
    ),
    "irreps-string": (lambda: A.Irreps("1x"), r"irreps must be an e3nn irreps string, got '1x'"),
    # --- group constructors and sampling ---------------------------------------------------
    "cyclic-zero": (lambda: G.Cyclic(0), r"n must be >= 1, got 0"),
    "symmetric-too-large-index": (
        lambda: G.Symmetric(13).elements(),
        r"order 6227020800, more than MAX_ENUMERATION",
    ),
    "translations-period": (
        lambda: G.Translations(2, period=0.0),
        r"period must be finite and > 0, got 0.0",
    ),
    "rotation-range-angle": (
        lambda: G.RotationRange(4.0),
        r"max_angle must be in \(0, π\], got 4.0",
    ),
    "rotation-range-negative": (
        lambda: G.RotationRange(-0.1),
        r"max_angle must be finite and > 0, got -0.1",
    ),
    "rotation-range-dim": (lambda: G.RotationRange(1.0, dim=4), r"dim must be 2 or 3, got 4"),
    "near-identity-scale": (
        lambda: G.NearIdentity(G.SO3(), 0.0),
        r"scale must be finite and > 0, got 0.0",
    ),
    "user-set-output": (
        lambda: G.UserSet(lambda k, n: jnp.zeros((n, 2)), G.Cyclic(3)).sample(KEY, (2,)),
        r"sample_fn\(key, 2\) must return 2 elements shaped like .*shape=\(\).*got \(2, 2\)",
    ),
    "sample-shape-negative": (
        lambda: G.SO3().sample(KEY, (-1,)),
        r"shape must contain non-negative ints, got \(-1,\)",
    ),
    "exp-coefficients": (
        lambda: G.SO3().exp(jnp.zeros(2)),
        r"coefficients must have shape \(3,\), got \(2,\)",
    ),
}

#: id -> (call, regex that the TypeError message must match)
TYPE_ERRORS = {
    # --- counts, chunk sizes, metrics ------------------------------------------------------
    "num-samples-float": (
        lambda: sampled(num_samples=2.0),
        r"num_samples must be a positive int, got 2.0 of type float",
    ),
    "num-samples-bool": (
        lambda: sampled(num_samples=True),
        r"num_samples must be a positive int, got True of type bool",
    ),
    "num-samples-array": (
        lambda: sampled(num_samples=jnp.array(4)),
        r"num_samples must be a positive int",
    ),
    "chunk-symmetrize-float": (
        lambda: symreg.symmetrize(scale, symmetry=CYC, chunk_size=1.5),
        r"chunk_size must be a positive int, got 1.5",
    ),
    "metric-type": (lambda: sampled(metric=3), r"metric must be callable, got 3"),
    # --- the model, the spec and the key ---------------------------------------------------
    "apply-fn-sampled": (lambda: sampled(fn=3), r"apply_fn must be callable, got 3 of type int"),
    "apply-fn-exact": (
        lambda: symreg.exact_equivariance_error("model", None, X, symmetry=CYC),
        r"apply_fn must be callable, got 'model'",
    ),
    "apply-fn-lie": (
        lambda: symreg.lie_derivative_error(None, None, X, symmetry=ROT),
        r"apply_fn must be callable, got None",
    ),
    "apply-fn-symmetrize": (
        lambda: symreg.symmetrize(1.0, symmetry=CYC),
        r"apply_fn must be callable, got 1.0 of type float",
    ),
    "symmetry-group": (
        lambda: sampled(symmetry=G.SO3()),
        r"symmetry must be a symreg.Symmetry\(transforms, act_in, act_out\), got SO3\(\)",
    ),
    "symmetry-exact": (
        lambda: symreg.exact_equivariance_error(scale, 1.0, X, symmetry=(G.Cyclic(3), A.Vector())),
        r"symmetry must be a symreg.Symmetry",
    ),
    "key-int": (
        lambda: sampled(key=0),
        r"key must be a JAX PRNG key from jax.random.key\(seed\), got int",
    ),
    "key-wrong-shape": (
        lambda: sampled(key=jnp.zeros(3, jnp.uint32)),
        r"key must be a JAX PRNG key.*got ArrayImpl uint32\[3\]",
    ),
    "key-float": (lambda: sampled(key=jnp.zeros(2)), r"key must be a JAX PRNG key.*float32\[2\]"),
    "key-sample": (lambda: G.SO3().sample(42, (2,)), r"key must be a JAX PRNG key"),
    # --- the wrong kind of group for the kernel --------------------------------------------
    "exact-continuous": (
        lambda: symreg.exact_equivariance_error(scale, 1.0, X, symmetry=ROT),
        r"exact_equivariance_error enumerates a finite group, but symmetry.transforms "
        r"is SO3\(\), which has no elements\(\)",
    ),
    "exact-partial": (
        lambda: symreg.exact_equivariance_error(
            scale, 1.0, jnp.ones((2, 2)), symmetry=sym(G.RotationRange(0.5), A.Vector())
        ),
        r"symmetry.transforms is RotationRange\(max_angle=0.5, dim=2\), which has no elements",
    ),
    "lie-finite": (
        lambda: symreg.lie_derivative_error(scale, 1.0, jnp.ones((2, 2)), symmetry=CYC),
        r"lie_derivative_error needs a continuous \(Lie\) group, but symmetry.transforms "
        r"is Cyclic\(n=3\), which has no generators",
    ),
    # --- an action that does not fit the group (Symmetry construction) ---------------------
    "action-not-an-action": (
        lambda: sym(G.SO3(), "vector"),
        r"act_in must be a symreg action \(e.g. symreg.actions.Vector\(\)\) or a tuple/dict of "
        r"actions, got 'vector' of type str",
    ),
    "action-nested-not-an-action": (
        lambda: sym(G.SO3(), (A.Vector(), 3)),
        r"act_in\[1\] must be a symreg action.*got 3 of type int",
    ),
    "transforms-not-a-set": (
        lambda: sym("SO3", A.Vector()),
        r"transforms must be a group or transformation set from symreg.groups, got 'SO3' of type str",
    ),
    # --- group constructors and sampling ---------------------------------------------------
    "dihedral-float": (lambda: G.Dihedral(2.5), r"n must be a positive int, got 2.5"),
    "near-identity-finite": (
        lambda: G.NearIdentity(G.Cyclic(3), 0.1),
        r"NearIdentity needs a Lie group \(SO2, O2, SO3, O3, Translations\), got Cyclic\(n=3\)",
    ),
    "product-one-factor": (
        lambda: G.DirectProduct(G.SO3()),
        r"DirectProduct needs at least two factors, got 1",
    ),
    "product-partial-factor": (
        lambda: G.DirectProduct(G.SO3(), G.RotationRange(1.0)),
        r"DirectProduct factor 1 must be a group.*partial sets such as RotationRange",
    ),
    "user-set-not-callable": (
        lambda: G.UserSet(3, G.Cyclic(3)),
        r"sample_fn must be callable, got 3",
    ),
    "user-set-base": (
        lambda: G.UserSet(lambda k, n: None, G.RotationRange(1.0)),
        r"base must be a group \(symreg.groups\), got RotationRange",
    ),
    "sample-shape-float": (
        lambda: G.SO3().sample(KEY, (2.5,)),
        r"shape must contain ints, got \(2.5,\)",
    ),
}


@pytest.mark.parametrize("name", VALUE_ERRORS)
def test_bad_input_raises_a_readable_value_error(name):
    call, match = VALUE_ERRORS[name]
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("name", TYPE_ERRORS)
def test_bad_input_raises_a_readable_type_error(name):
    call, match = TYPE_ERRORS[name]
    with pytest.raises(TypeError, match=match):
        call()


def test_errors_are_raised_at_trace_time_inside_jit():
    """The same checks fire while an enclosing `jax.jit` traces, before anything runs."""

    @jax.jit
    def outer(x):
        return sampled(x).mean()

    with pytest.raises(ValueError, match=r"expected a last axis of size 3, got shape \(2,\)"):
        outer(jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"x has an empty batch"):
        outer(jnp.ones((0, 3)))
