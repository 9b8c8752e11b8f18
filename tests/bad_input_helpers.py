"""What the bad-input batteries share: the check, and the models and inputs of several layers.

Each layer has one battery, tests/<layer>/test_<layer>_bad_inputs.py: every case must raise
ValueError or TypeError whose message names the argument and says what was expected (never a
raw XLA or shape error from deep inside, never a silent NaN). A battery holds its cases in
tables, id -> (call, [exception type,] regex):

- `CASES`: id -> (call, type, regex), checked by `assert_readable_error` (the type exactly,
  not a subclass);
- `VALUE_ERRORS` and `TYPE_ERRORS`: id -> (call, regex), turned into the form of `CASES` by
  `merged` and checked the same way, in one parametrized test per battery.

tests/project/test_batteries.py counts the cases of every battery. The fixtures below are those
that more than one battery uses; a layer's own ones live in its battery.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import symreg
from symreg.actions import Regular, Trivial, Vector
from symreg.estimators import Estimate
from symreg.groups import SO2, SO3, Cyclic

V, T = ValueError, TypeError

KEY = jax.random.key(0)

# --- in the plane: SO(2) on R² (invariant and equivariant), Cyclic(4) on its regular rep. ---
ROT = symreg.Symmetry(SO2(), Vector())
ROT_EQ = symreg.Symmetry(SO2(), Vector(), Vector())
C4 = symreg.Symmetry(Cyclic(4), Regular())
X2 = jax.random.normal(jax.random.key(1), (4, 2))
X4 = jax.random.normal(jax.random.key(2), (4, 4))

# --- in space: SO(3) on R³, equivariant ------------------------------------------------------
ROT3_EQ = symreg.Symmetry(SO3(), Vector(), Vector())
X3 = jnp.ones((4, 3))


def assert_readable_error(call, kind, pattern):
    """`call()` raises exactly `kind` (ValueError or TypeError) with a message matching `pattern`."""
    with pytest.raises(kind, match=pattern) as info:
        call()
    assert type(info.value) in (ValueError, TypeError), type(info.value)  # not a subclass


def merged(cases, value_errors, type_errors):
    """One table id -> (call, type, regex) from a battery's `CASES` and its `VALUE_ERRORS` and
    `TYPE_ERRORS` tables (id -> (call, regex)); an id in two tables is a mistake."""
    out = dict(cases)
    for kind, table in ((ValueError, value_errors), (TypeError, type_errors)):
        for name, (call, pattern) in table.items():
            assert name not in out, f"case {name!r} is in two tables"
            out[name] = (call, kind, pattern)
    return out


def norm(p, x):
    return jnp.sum(x**2, -1)


def three_outputs(p, x):
    return jnp.concatenate([x, x[:, :1]], -1)  # (B, 3): does not fit Vector on R²


def scale(p, x):
    return p * x


def mse(pred, y):
    return jnp.mean((pred - y) ** 2)


def sampled(x=X2, fn=norm, symmetry=ROT, **kw):
    """`equivariance_error` of an SO(2)-invariant model on X2, with 2 samples."""
    kw = {"num_samples": 2} | kw
    return symreg.equivariance_error(fn, None, x, kw.pop("key", KEY), symmetry=symmetry, **kw)


def sampled3(x=X3, *, fn=scale, symmetry=ROT3_EQ, key=KEY, **kw):
    """`equivariance_error` of an SO(3)-equivariant model (p·x, p = 1) on X3, with 2 samples."""
    kw.setdefault("num_samples", 2)
    return symreg.equivariance_error(fn, 1.0, x, key, symmetry=symmetry, **kw)


def sym(transforms, act_in, act_out=None):
    """A `Symmetry` with an invariant output unless `act_out` is given."""
    return symreg.Symmetry(transforms, act_in, Trivial() if act_out is None else act_out)


def estimate(value=0.5, stderr=0.05, n=100, **kw):
    return Estimate(jnp.float32(value), jnp.float32(stderr), method="oracle", n=n, **kw)
