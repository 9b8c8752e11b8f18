"""The bad-input battery of `symreg.regularizers`: the penalty, the loss and the optax transform.

Each case raises a readable ValueError or TypeError that names the argument
(tests/bad_input_helpers.py: the tables).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import pytest
from bad_input_helpers import (
    C4,
    KEY,
    ROT,
    ROT_EQ,
    X2,
    X4,
    T,
    V,
    assert_readable_error,
    mse,
    norm,
    three_outputs,
)

import symreg
from symreg.regularizers import add_symmetry_penalty, regularized_loss, symmetry_penalty


def penalty(x=X2, fn=norm, symmetry=ROT, key=KEY, **kw):
    return symmetry_penalty(fn, None, x, key, symmetry=symmetry, **kw)


def objective(loss_fn=mse, weight=0.5, y=None):
    obj = regularized_loss(loss_fn, norm, penalty=symreg.SymmetryPenalty(ROT))
    return obj(None, X2, jnp.ones(4) if y is None else y, KEY, weight)


#: id -> (call, exception type, regex that the message must match)
CASES = {
    "penalty-metric-not-scalar": (
        lambda: penalty(fn=lambda p, x: x, symmetry=ROT_EQ, metric=lambda a, b: a - b),
        V,
        r"metric must return a scalar for one pair of outputs",
    ),
    "penalty-unknown-method": (
        lambda: penalty(method="exact"),
        V,
        r"method must be one of \('sampled', 'lie'\), got 'exact'",
    ),
    "penalty-lie-on-finite-group": (
        lambda: penalty(X4, symmetry=C4, method="lie"),
        V,
        r"method='lie' needs a continuous \(Lie\) group",
    ),
    "penalty-lie-with-kl-metric": (
        lambda: penalty(method="lie", metric="kl"),
        V,
        r"metric for method='lie' must be 'sq' or 'l2'",
    ),
    "penalty-zero-batch-size": (
        lambda: penalty(penalty_batch_size=0),
        V,
        r"penalty_batch_size must be >= 1, got 0",
    ),
    "penalty-float-samples": (
        lambda: penalty(num_samples=2.5),
        T,
        r"num_samples must be a positive int, got 2.5 of type float",
    ),
    "penalty-missing-key": (lambda: penalty(key=None), T, r"key must be a JAX PRNG key"),
    "penalty-sub-batch-missing-key": (
        lambda: penalty(key=None, penalty_batch_size=2),
        T,
        r"key must be a JAX PRNG key",
    ),
    "penalty-lie-sub-batch-bad-key": (  # "lie" may have no key, but not a wrong one
        lambda: penalty(key=jnp.ones(3), method="lie", penalty_batch_size=2),
        T,
        r"key must be a JAX PRNG key",
    ),
    "penalty-act-out-does-not-fit-output": (
        lambda: penalty(fn=three_outputs, symmetry=ROT_EQ),
        V,
        r"apply_fn output \(one example\).*expected a last axis of size 2",
    ),
    "penalty-integer-x": (
        lambda: penalty(jnp.ones((4, 2), jnp.int32)),
        V,
        r"x \(one example\).*expected a floating dtype, got int32",
    ),
    "loss-fn-not-scalar": (
        lambda: objective(loss_fn=lambda p, y: (p - y) ** 2),
        V,
        r"loss_fn must return a scalar, got shape \(4,\)",
    ),
    "loss-vector-weight": (
        lambda: objective(weight=jnp.ones(3)),
        V,
        r"weight must be a scalar \(β\), got shape \(3,\)",
    ),
    "loss-negative-weight": (
        lambda: objective(weight=-1.0),
        V,
        r"weight must be finite and >= 0, got -1.0",
    ),
    "loss-fn-not-callable": (
        lambda: regularized_loss("mse", norm, penalty=symreg.SymmetryPenalty(ROT)),
        T,
        r"loss_fn must be callable, got 'mse' of type str",
    ),
    "optax-nan-weight": (
        lambda: add_symmetry_penalty(norm, penalty=symreg.SymmetryPenalty(ROT), weight=math.nan),
        V,
        r"weight must be finite and >= 0, got nan",
    ),
    "optax-update-without-batch": (
        lambda: add_symmetry_penalty(norm, penalty=symreg.SymmetryPenalty(ROT), weight=1.0).update(
            jnp.ones(2),
            add_symmetry_penalty(norm, penalty=symreg.SymmetryPenalty(ROT), weight=1.0).init(None),
            None,
        ),
        V,
        r"add_symmetry_penalty.update is missing \['params', 'x', 'key'\]",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_readable_error(case):
    assert_readable_error(*CASES[case])
