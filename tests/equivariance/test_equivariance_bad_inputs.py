"""The bad-input battery of the equivariance kernels (`symreg.equivariance`).

Batch axes, counts, chunk sizes, metrics, keys, the model and the spec, the wrong kind of group
for a kernel, the low-level kernels (`pairwise_errors`, `reynolds_average`, `lie_derivatives`),
`symmetrize` and `relax`: each bad input raises a readable ValueError or TypeError at trace time
(never a raw XLA error), also inside an enclosing `jax.jit` (tests/bad_input_helpers.py: the
tables).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import pytest
from bad_input_helpers import (
    C4,
    KEY,
    ROT,
    ROT3_EQ,
    ROT_EQ,
    X2,
    X3,
    X4,
    T,
    V,
    assert_readable_error,
    merged,
    norm,
    sampled,
    sampled3,
    scale,
    sym,
    three_outputs,
)

import symreg
from symreg import actions as A
from symreg import groups as G
from symreg.equivariance import lie_derivatives, pairwise_errors, reynolds_average, squared_l2
from symreg.groups import SO2

CYC = symreg.Symmetry(G.Cyclic(3), A.Vector())


#: id -> (call, exception type, regex that the message must match)
CASES = {
    "kernel-integer-x": (
        lambda: sampled(jnp.ones((4, 2), jnp.int32)),
        V,
        r"x \(one example\).*expected a floating dtype, got int32",
    ),
    "kernel-x-missing-feature-axis": (
        lambda: sampled(jnp.ones(4)),
        V,
        r"x \(one example\).*expected a last axis of size 2, got shape \(\)",
    ),
    "kernel-empty-batch": (lambda: sampled(jnp.ones((0, 2))), V, r"x has an empty batch \(B = 0\)"),
    "kernel-zero-samples": (lambda: sampled(num_samples=0), V, r"num_samples must be >= 1, got 0"),
    "kernel-negative-samples": (
        lambda: sampled(num_samples=-3),
        V,
        r"num_samples must be >= 1, got -3",
    ),
    "kernel-act-out-does-not-fit-output": (
        lambda: sampled(fn=three_outputs, symmetry=ROT_EQ),
        V,
        r"apply_fn output \(one example\).*expected a last axis of size 2, got shape \(3,\)",
    ),
    "kernel-output-without-batch-axis": (
        lambda: sampled(fn=lambda p, x: jnp.sum(x)),
        V,
        r"apply_fn\(params, x\) must have a leading batch axis B, got a scalar",
    ),
    "exact-kernel-on-continuous-group": (
        lambda: symreg.exact_equivariance_error(norm, None, X2, symmetry=ROT),
        T,
        r"exact_equivariance_error enumerates a finite group, but symmetry.transforms is SO2\(\)",
    ),
    "lie-kernel-on-finite-group": (
        lambda: symreg.lie_derivative_error(norm, None, X4, symmetry=C4),
        T,
        r"lie_derivative_error needs a continuous \(Lie\) group",
    ),
    "kernel-unknown-metric": (
        lambda: sampled(metric="cosine"),
        V,
        r"metric must be one of \[.*\] or a callable, got 'cosine'",
    ),
    "kernel-unknown-sampling": (
        lambda: sampled(sampling="sobol"),
        V,
        r"sampling must be one of \('iid', 'stratified'\), got 'sobol'",
    ),
    "kernel-metric-not-scalar": (
        lambda: sampled(fn=lambda p, x: x, symmetry=ROT_EQ, metric=lambda a, b: a - b),
        V,
        r"metric must return a scalar for one pair of outputs \(one example each\), got shape \(2,\)",
    ),
    "kernel-integer-key": (lambda: sampled(key=0), T, r"key must be a JAX PRNG key"),
    "symmetrize-output-does-not-fit": (
        lambda: symreg.symmetrize(three_outputs, symmetry=ROT_EQ, num_samples=2, key=KEY)(None, X2),
        V,
        r"apply_fn output \(one example\).*expected a last axis of size 2",
    ),
    "relax-vector-alpha": (
        lambda: symreg.relax(norm, jnp.ones(3), symmetry=C4),
        V,
        r"alpha must be a scalar, got shape \(3,\)",
    ),
    "relax-nan-alpha": (
        lambda: symreg.relax(norm, math.nan, symmetry=C4),
        V,
        r"alpha must be finite and >= 0, got nan",
    ),
    "pairwise-elements-wrong-batch": (
        lambda: pairwise_errors(
            norm, None, X2, None, SO2().sample(KEY, (3, 5)), symmetry=ROT, metric=squared_l2
        ),
        V,
        r"elements must be elements of SO2\(\) with leading axes \(3, 4\)",
    ),
    "pairwise-x-does-not-fit": (
        lambda: pairwise_errors(
            norm, None, X4, None, SO2().sample(KEY, (3, 4)), symmetry=ROT, metric=squared_l2
        ),
        V,
        r"x \(one example\): Vector\(\) cannot act",
    ),
    "reynolds-no-elements": (
        lambda: reynolds_average(norm, None, X2, SO2().sample(KEY, (0,)), symmetry=ROT),
        V,
        r"elements must be elements of SO2\(\) with leading axes \(0,\) \(S >= 1",
    ),
    "lie-derivatives-on-finite-group": (
        lambda: lie_derivatives(norm, None, X4, C4),
        T,
        r"lie_derivatives needs a continuous \(Lie\) group",
    ),
    "lie-derivatives-integer-x": (
        lambda: lie_derivatives(norm, None, jnp.ones((4, 2), jnp.int32), ROT),
        V,
        r"x \(one example\).*expected a floating dtype, got int32",
    ),
}


#: id -> (call, regex that the ValueError message must match)
VALUE_ERRORS = {
    "x-scalar": (
        lambda: sampled3(jnp.float32(1.0)),
        r"x must have a leading batch axis B, got a scalar",
    ),
    "x-empty-batch": (lambda: sampled3(jnp.ones((0, 3))), r"x has an empty batch \(B = 0\)"),
    "x-tree-batch-mismatch": (
        lambda: sampled3(
            (jnp.ones((4, 3)), jnp.ones((5,))),
            fn=lambda p, x: x[0],
            symmetry=sym(G.SO3(), (A.Vector(), A.Trivial())),
        ),
        r"x leaves must share the batch size B, got \{'x\[0\]': 4, 'x\[1\]': 5\}",
    ),
    "out-batch": (
        lambda: sampled3(fn=lambda p, x: x[:2]),
        r"apply_fn\(params, x\) must keep the batch size B = 4, got 2",
    ),
    "out-exact-batch": (
        lambda: symreg.exact_equivariance_error(
            lambda p, x: x[:1], None, jnp.ones((4, 2)), symmetry=CYC
        ),
        r"apply_fn\(params, x\) must keep the batch size B = 4, got 1",
    ),
    "num-samples-zero": (lambda: sampled3(num_samples=0), r"num_samples must be >= 1, got 0"),
    "num-samples-negative": (lambda: sampled3(num_samples=-3), r"num_samples must be >= 1, got -3"),
    "chunk-zero": (lambda: sampled3(chunk_size=0), r"chunk_size must be >= 1, got 0"),
    "chunk-exact-zero": (
        lambda: symreg.exact_equivariance_error(
            scale, 1.0, jnp.ones((2, 2)), symmetry=CYC, chunk_size=0
        ),
        r"chunk_size must be >= 1, got 0",
    ),
    "metric-unknown": (
        lambda: sampled3(metric="cosine"),
        r"metric must be one of \['kl', 'l2', 'max_abs', 'relative', 'sq'\] or a callable, got 'cosine'",
    ),
    "lie-metric": (
        lambda: symreg.lie_derivative_error(scale, 1.0, X3, symmetry=ROT3_EQ, metric="kl"),
        r"metric for lie_derivative_error must be 'sq' or 'l2', got 'kl'",
    ),
    "exact-too-large": (
        lambda: symreg.exact_equivariance_error(
            scale, 1.0, jnp.ones((1, 13)), symmetry=sym(G.Symmetric(13), A.Vector())
        ),
        r"Symmetric\(n=13\) has order 6227020800, more than MAX_ENUMERATION = 1048576",
    ),
    "symmetrize-continuous": (
        lambda: symreg.symmetrize(scale, symmetry=ROT3_EQ),
        r"symmetrize over SO3\(\) \(not a finite group\) needs num_samples and key",
    ),
    "symmetrize-no-key": (
        lambda: symreg.symmetrize(scale, symmetry=ROT3_EQ, num_samples=4),
        r"symmetrize with num_samples needs key",
    ),
    "symmetrize-num-samples": (
        lambda: symreg.symmetrize(scale, symmetry=ROT3_EQ, num_samples=0, key=KEY),
        r"num_samples must be >= 1, got 0",
    ),
    "relax-alpha": (
        lambda: symreg.relax(scale, -0.5, symmetry=CYC),
        r"alpha must be finite and >= 0, got -0.5",
    ),
}


#: id -> (call, regex that the TypeError message must match)
TYPE_ERRORS = {
    "num-samples-float": (
        lambda: sampled3(num_samples=2.0),
        r"num_samples must be a positive int, got 2.0 of type float",
    ),
    "num-samples-bool": (
        lambda: sampled3(num_samples=True),
        r"num_samples must be a positive int, got True of type bool",
    ),
    "num-samples-array": (
        lambda: sampled3(num_samples=jnp.array(4)),
        r"num_samples must be a positive int",
    ),
    "chunk-symmetrize-float": (
        lambda: symreg.symmetrize(scale, symmetry=CYC, chunk_size=1.5),
        r"chunk_size must be a positive int, got 1.5",
    ),
    "metric-type": (lambda: sampled3(metric=3), r"metric must be callable, got 3"),
    "apply-fn-sampled": (lambda: sampled3(fn=3), r"apply_fn must be callable, got 3 of type int"),
    "apply-fn-exact": (
        lambda: symreg.exact_equivariance_error("model", None, X3, symmetry=CYC),
        r"apply_fn must be callable, got 'model'",
    ),
    "apply-fn-lie": (
        lambda: symreg.lie_derivative_error(None, None, X3, symmetry=ROT3_EQ),
        r"apply_fn must be callable, got None",
    ),
    "apply-fn-symmetrize": (
        lambda: symreg.symmetrize(1.0, symmetry=CYC),
        r"apply_fn must be callable, got 1.0 of type float",
    ),
    "symmetry-group": (
        lambda: sampled3(symmetry=G.SO3()),
        r"symmetry must be a symreg.Symmetry\(transforms, act_in, act_out\), got SO3\(\)",
    ),
    "symmetry-exact": (
        lambda: symreg.exact_equivariance_error(scale, 1.0, X3, symmetry=(G.Cyclic(3), A.Vector())),
        r"symmetry must be a symreg.Symmetry",
    ),
    "key-int": (
        lambda: sampled3(key=0),
        r"key must be a JAX PRNG key from jax.random.key\(seed\), got int",
    ),
    "key-wrong-shape": (
        lambda: sampled3(key=jnp.zeros(3, jnp.uint32)),
        r"key must be a JAX PRNG key.*got ArrayImpl uint32\[3\]",
    ),
    "key-float": (lambda: sampled3(key=jnp.zeros(2)), r"key must be a JAX PRNG key.*float32\[2\]"),
    "exact-continuous": (
        lambda: symreg.exact_equivariance_error(scale, 1.0, X3, symmetry=ROT3_EQ),
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
}


#: Every case of the three tables, checked alike: the exact exception type and its message.
ALL = merged(CASES, VALUE_ERRORS, TYPE_ERRORS)


@pytest.mark.parametrize("case", sorted(ALL))
def test_bad_input_raises_a_readable_error(case):
    assert_readable_error(*ALL[case])


def test_errors_are_raised_at_trace_time_inside_jit():
    """The same checks fire while an enclosing `jax.jit` traces, before anything runs."""

    @jax.jit
    def outer(x):
        return sampled3(x).mean()

    with pytest.raises(ValueError, match=r"expected a last axis of size 3, got shape \(2,\)"):
        outer(jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"x has an empty batch"):
        outer(jnp.ones((0, 3)))
