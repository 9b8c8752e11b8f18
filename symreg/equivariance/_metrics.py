"""Per-example discrepancy metrics between f(ρ_in(g) x) and ρ_out(g) f(x) (layer 3).

Outputs in a floating dtype narrower than float32 (bfloat16, float16) are compared in float32:
the difference, the squares and the sums are taken after the cast, so that a model run in
half precision gets its error accumulated in float32 (its outputs are rounded, its error
measure is not), and the kernels' means over samples and examples are float32 too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, final

import jax
import jax.numpy as jnp

from symreg import _validation


def _accumulating(x: Any) -> jax.Array:
    """x as an array, cast to float32 if it is a floating dtype narrower than float32."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating) and jnp.finfo(x.dtype).bits < 32:
        return x.astype(jnp.float32)
    return x


def _leaves(a: Any, b: Any) -> list[tuple[jax.Array, jax.Array]]:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return [(_accumulating(x), _accumulating(y)) for x, y in zip(la, lb, strict=True)]


def _sum_sq(pairs) -> jax.Array:
    return sum(jnp.sum(jnp.square(x - y)) for x, y in pairs)


def _safe_sqrt(s: jax.Array) -> jax.Array:
    """sqrt with a finite (zero) gradient at 0; NaN and -inf propagate as NaN."""
    positive = s > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, s, 1.0)), 0.0 * s)  # NaN stays NaN


def squared_l2(a: Any, b: Any) -> jax.Array:
    """‖a − b‖², summed over every entry of every leaf (the default; ED_2 averages it).

    Examples:
      >>> import jax.numpy as jnp
      >>> float(squared_l2(jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0])))
      4.0
    """
    return _sum_sq(_leaves(a, b))


def l2(a: Any, b: Any) -> jax.Array:
    """‖a − b‖ (ED_1 averages it); its gradient at a = b is 0, not NaN.

    Examples:
      >>> import jax.numpy as jnp
      >>> float(l2(jnp.array([3.0, 4.0]), jnp.zeros(2)))
      5.0
    """
    return _safe_sqrt(squared_l2(a, b))


def relative(a: Any, b: Any) -> jax.Array:
    """Scale-adjusted relative error ‖a − b‖ / (½(‖a‖ + ‖b‖) + √ε·√n).

    ε is the machine epsilon of the dtype and n the number of entries: the floor keeps
    rounding noise on outputs near 0 from reading as a large relative error.

    Examples:
      >>> import jax.numpy as jnp
      >>> a, b = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
      >>> round(float(relative(a, b)), 4)  # √2 / (1 + √(2ε)): the floor is tiny at this scale
      1.4135
    """
    pairs = _leaves(a, b)
    n = sum(x.size for x, _ in pairs)
    eps = jnp.finfo(jnp.result_type(*[x for x, _ in pairs], jnp.float32)).eps
    norm_a = _safe_sqrt(sum(jnp.sum(jnp.square(x)) for x, _ in pairs))
    norm_b = _safe_sqrt(sum(jnp.sum(jnp.square(y)) for _, y in pairs))
    return _safe_sqrt(_sum_sq(pairs)) / (0.5 * (norm_a + norm_b) + jnp.sqrt(eps * n))


def max_abs(a: Any, b: Any) -> jax.Array:
    """max |a − b| over every entry (ED_∞ takes its max over samples).

    Examples:
      >>> import jax.numpy as jnp
      >>> float(max_abs(jnp.array([1.0, -3.0]), jnp.array([0.5, 0.0])))
      3.0
    """
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x - y)) for x, y in _leaves(a, b)]))


def kl(a: Any, b: Any) -> jax.Array:
    """KL(softmax(b) ‖ softmax(a)) for logits on the last axis, summed over other axes.

    a = f(ρ_in(g) x) are the transformed input's logits, b = ρ_out(g) f(x) the reference.

    Examples:
      >>> import jax.numpy as jnp
      >>> float(kl(jnp.array([1.0, 2.0]), jnp.array([1.0, 2.0])))
      0.0
    """
    total = 0.0
    for x, y in _leaves(a, b):
        log_p = jax.nn.log_softmax(y, axis=-1)
        log_q = jax.nn.log_softmax(x, axis=-1)
        total = total + jnp.sum(jnp.exp(log_p) * (log_p - log_q))
    return total


@final
@dataclasses.dataclass(frozen=True)
class Metric:
    """A named per-example metric m(a, b) → scalar, for a = f(ρ_in(g)x), b = ρ_out(g) f(x).

    Examples:
      >>> import jax.numpy as jnp
      >>> m = Metric("sum_abs", lambda a, b: jnp.abs(a - b).sum())
      >>> float(m(jnp.ones(3), jnp.zeros(3)))
      3.0
    """

    name: str
    fn: Callable[[Any, Any], jax.Array]

    def __call__(self, a: Any, b: Any) -> jax.Array:
        return self.fn(a, b)


METRICS = {
    "sq": Metric("sq", squared_l2),
    "l2": Metric("l2", l2),
    "relative": Metric("relative", relative),
    "max_abs": Metric("max_abs", max_abs),
    "kl": Metric("kl", kl),
}
_ALIASES = {"squared_l2": "sq", "squared": "sq", "rel": "relative", "linf": "max_abs"}


def get_metric(metric: str | Callable | Metric) -> Metric:
    """Resolves a metric name (`"sq"`, `"l2"`, `"relative"`, `"max_abs"`, `"kl"`) or callable.

    Args:
      metric: a name, a `Metric`, or a callable m(a, b) → scalar on one output pair.

    Returns:
      A hashable `Metric`.

    Raises:
      ValueError: an unknown name. TypeError: neither a string nor a callable.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.equivariance import get_metric
      >>> float(get_metric("sq")(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0])))
      5.0
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        name = _ALIASES.get(metric, metric)
        if name not in METRICS:
            raise ValueError(
                f"metric must be one of {sorted(METRICS)} or a callable, got {metric!r}"
            )
        return METRICS[name]
    _validation.check_callable(metric, "metric")
    return Metric(getattr(metric, "__name__", "custom"), metric)
