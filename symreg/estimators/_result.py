"""Turning a method's (value, stderr) into an `Estimate`, flagging failures (layer 4, private)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from symreg.estimators._estimate import Estimate


def finish(
    value: jax.Array, stderr: jax.Array, *, method: str, n: int, reason: str | None = None
) -> Estimate:
    """An `Estimate`, flagged (stderr = +inf) if `reason` is set or a number is not finite."""
    value = jnp.asarray(value, jnp.float32)
    stderr = jnp.asarray(stderr, jnp.float32)
    if reason is None and not (np.isfinite(float(value)) and np.isfinite(float(stderr))):
        reason = f"non-finite value {float(value)} or stderr {float(stderr)} (did a fit diverge?)"
    if reason is not None:
        return Estimate.flagged(value, method=method, n=n, reason=reason)
    return Estimate(value, stderr, method=method, n=n)


def per_example(values: jax.Array, *, method: str, n: int, reason: str | None = None):
    """Mean of i.i.d. per-example values (N,) with s.e. = sd / √N."""
    value = values.mean()
    stderr = values.std(ddof=1) / jnp.sqrt(values.shape[0])
    return finish(value, stderr, method=method, n=n, reason=reason)
