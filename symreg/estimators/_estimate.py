"""`Estimate`: a value with its standard error, a JAX pytree (layer 4)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, final

import jax
import jax.numpy as jnp
import numpy as np

from symreg import _validation


@final
@dataclasses.dataclass(frozen=True, repr=False)
class Estimate:
    """An estimate of the data equivariance error with its standard error.

    `value` and `stderr` are scalar arrays (the pytree's leaves, so estimates pass through
    `jax.jit`, `jax.tree.map` and checkpointing); the other fields are static metadata.
    An estimate that the method flags as unreliable has `stderr = +inf` and says why in
    `reason`; `value` is then the method's best guess (possibly NaN).

    Attributes:
      value: the estimate, in the units of `metric` ("sq": ED_2, the mean squared defect).
      stderr: its standard error (+inf when flagged).
      method: the estimator that produced it ("oracle", "crossfit", "riskgap", ...).
      n: the number N of examples it used.
      metric: the metric whose mean it estimates; "sq" for η₂ = ED_2(f*).
      reason: None, or why the estimate is unreliable.

    Raises:
      TypeError: `method` or `metric` is not a string, `n` not an int, `reason` not a string.
      ValueError: `n` < 1; concrete leaves with a NaN or negative `stderr`, or a non-finite
        `value` in an estimate that is not flagged (`reason` None). Traced leaves (inside
        `jax.jit` or `jax.vmap`) are not checked.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from symreg.estimators import Estimate
      >>> est = Estimate(jnp.float32(0.25), jnp.float32(0.0125), method="crossfit", n=512)
      >>> est
      Estimate(0.25 ± 0.0125, method='crossfit', n=512, metric='sq')
      >>> est.is_reliable, float(jax.tree.map(lambda a: 2 * a, est).value)
      (True, 0.5)
      >>> Estimate.flagged(jnp.nan, method="pairing", n=3, reason="too few points").stderr
      Array(inf, dtype=float32)
    """

    value: jax.Array
    stderr: jax.Array
    method: str
    n: int
    metric: str = "sq"
    reason: str | None = None

    def __post_init__(self):
        for name in ("method", "metric"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string, got {getattr(self, name)!r}")
        if self.reason is not None and not isinstance(self.reason, str):
            raise TypeError(f"reason must be None or a string, got {self.reason!r}")
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)):
            raise TypeError(f"n must be an int (the number of examples), got {self.n!r}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1 (the number of examples), got {self.n}")
        stderr, value = _concrete(self.stderr), _concrete(self.value)
        if stderr is not None and not np.all(stderr >= 0):  # NaN fails too
            raise ValueError(f"stderr must be >= 0 (or +inf when flagged), got {self.stderr!r}")
        if value is not None and self.reason is None and not np.all(np.isfinite(value)):
            raise ValueError(
                f"value must be finite, got {self.value!r}; an unreliable estimate is made "
                "with Estimate.flagged(value, ..., reason=...)"
            )

    @classmethod
    def flagged(
        cls, value: Any, *, method: str, n: int, reason: str, metric: str = "sq"
    ) -> Estimate:
        """An estimate flagged unreliable: stderr = +inf and `reason` set."""
        return cls(
            jnp.asarray(value, jnp.float32),
            jnp.asarray(jnp.inf, jnp.float32),
            method=method,
            n=n,
            metric=metric,
            reason=reason,
        )

    @property
    def is_reliable(self) -> bool:
        """True unless the method flagged the estimate (then `reason` says why)."""
        return self.reason is None

    def __repr__(self) -> str:
        try:
            body = f"{_fmt(self.value)} ± {_fmt(self.stderr)}"
        except (TypeError, jax.errors.ConcretizationTypeError):  # traced or batched leaves
            body = f"value={self.value!r}, stderr={self.stderr!r}"
        tail = f", reason={self.reason!r}" if self.reason is not None else ""
        return f"Estimate({body}, method={self.method!r}, n={self.n}, metric={self.metric!r}{tail})"


def _concrete(leaf: Any) -> np.ndarray | None:
    """A leaf's values if it is a concrete number or array (not a tracer or placeholder)."""
    return np.asarray(leaf, np.float64) if _validation.is_concrete(leaf) else None


def _fmt(a: Any) -> str:
    v = float(a)
    return repr(v) if not math.isfinite(v) else f"{v:.4g}"


jax.tree_util.register_dataclass(
    Estimate, data_fields=["value", "stderr"], meta_fields=["method", "n", "metric", "reason"]
)
