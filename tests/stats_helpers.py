"""Statistical assertions shared by the test modules (bounds in standard errors)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

#: Default bound on |mean − truth| in standard errors of the mean.
NUM_SE = 4.0


def rel_max(err) -> float:
    """The largest entry of an error array, as a float."""
    return float(jnp.max(err))


def stat_check(diff, truth=0.0, what="", num_se=NUM_SE):
    """|mean(diff) − truth| within `num_se` standard errors of the mean (per-example values)."""
    diff = np.asarray(diff, np.float64)
    mean, se = diff.mean(), diff.std(ddof=1) / np.sqrt(diff.size)
    z = abs(mean - truth) / se
    assert z <= num_se, f"{what}: {mean:.5g} vs {truth:.5g} (s.e. {se:.2g}, z = {z:.2f})"
    return mean, se
