"""The differentiable symmetry penalty: a Monte Carlo or Lie-derivative estimate of ED(f)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, final

import jax
import jax.numpy as jnp

from symreg import _checks, _debug, _validation
from symreg.actions import Symmetry
from symreg.equivariance import (
    Metric,
    get_metric,
    lie_errors,
    sampled_elements,
    sampled_errors,
)

METHODS = ("sampled", "lie")
_LIE_METRICS = ("sq", "l2")


#: The stream of the sub-batch's offset, folded into the penalty's key.
_OFFSET_STREAM = 0x5B


def _spread(tree: Any, m: int | None, key: Any = None) -> Any:
    """m examples of a batch of B (the leading axis of every leaf), one in each of m
    consecutive blocks of B // m, at one offset in every block: 0 with key None, drawn
    uniformly from [0, B // m) with a key. Each of the first m·(B // m) examples is then
    chosen with probability 1/(B // m), so a sub-batch of a batch that repeats every step
    (full-batch training) still covers every example (docs/architecture.md, "The penalty's
    sub-batch"). Blocks rather than a random subset, so that a batch sharded over devices on
    its leading axis keeps each device's share local. m None or m >= B: the whole batch.
    """
    b = jax.tree.leaves(tree)[0].shape[0] if m is not None else 0
    if m is None or m >= b:
        return tree
    stride = b // m
    offset = 0
    if key is not None:  # its own stream: the group elements drawn from `key` stay the same
        offset = jax.random.randint(jax.random.fold_in(key, _OFFSET_STREAM), (), 0, stride)

    def pick(a):
        blocks = a[: m * stride].reshape(m, stride, *a.shape[1:])
        return jax.lax.dynamic_index_in_dim(blocks, offset, axis=1, keepdims=False)

    return jax.tree.map(pick, tree)


def check_weight(weight: Any) -> None:
    """β must be a scalar; a Python number must also be finite and >= 0 (shared by
    `regularized_loss` and `add_symmetry_penalty`)."""
    if isinstance(weight, (bool, int, float)):
        _validation.positive_float(weight, "weight", allow_zero=True)
    elif jnp.ndim(weight) != 0:
        raise ValueError(f"weight must be a scalar (β), got shape {jnp.shape(weight)}")


@final
@dataclasses.dataclass(frozen=True)
class SymmetryPenalty:
    """A validated, hashable penalty spec: which ED estimate to differentiate, and on what.

    With method "sampled" the penalty is the mean over S·B' pairs (g_sb ~ λ, x_b) of
    m(f(ρ_in(g) x_b), ρ_out(g) f(x_b)), an unbiased estimate of ED (ED_2 for m = ‖·‖²) and of
    its gradient. With method "lie" it is the mean over generators A and examples of
    ‖L_A f(x_b)‖² (continuous groups; no sampling). B' = min(B, penalty_batch_size): one
    example in each block of B // B' consecutive ones, at an offset drawn from the penalty's
    key (0 without a key; `sub_batch`). So the sub-batch is unbiased for the whole batch's
    penalty even when the batch is the same at every step (full-batch training), and local
    to each device when the batch is sharded. The errors
    come from the kernels' pure cores (`symreg.equivariance.sampled_errors`, `lie_errors`),
    which this class only reduces. Under `symreg.debug.checked` it checks that f(x) and every
    (sample, example) error (or (generator, example) Lie error) are finite; messages name
    the first non-finite example or pair, its group element and, when given, the training
    step.

    Args:
      symmetry: the `Symmetry`.
      num_samples: S, group samples per example (method "sampled").
      metric: a metric name or callable (`symreg.equivariance.get_metric`); "sq" or "l2"
        for method "lie".
      penalty_batch_size: B', or None for the whole batch.
      method: "sampled" or "lie".
      chunk_size: at most this many transformed inputs per call of `apply_fn` ("sampled").

    Raises:
      TypeError: `symmetry` is not a Symmetry, or an argument has the wrong type.
      ValueError: an unknown method or metric, a count < 1, or "lie" on a finite group.

    Examples:
      >>> import symreg
      >>> from symreg.actions import Regular
      >>> from symreg.groups import Cyclic
      >>> from symreg.regularizers import SymmetryPenalty
      >>> SymmetryPenalty(symreg.Symmetry(Cyclic(4), Regular()), num_samples=2).num_samples
      2
    """

    symmetry: Symmetry
    num_samples: int = 1
    metric: Any = "sq"
    penalty_batch_size: int | None = None
    method: str = "sampled"
    chunk_size: int | None = None

    def __post_init__(self):
        if not isinstance(self.symmetry, Symmetry):
            raise TypeError(f"symmetry must be a symreg.Symmetry, got {self.symmetry!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        _validation.positive_int(self.num_samples, "num_samples")
        _validation.optional_positive_int(self.penalty_batch_size, "penalty_batch_size")
        _validation.optional_positive_int(self.chunk_size, "chunk_size")
        metric = get_metric(self.metric)
        if self.method == "lie":
            if metric.name not in _LIE_METRICS:
                raise ValueError(f"metric for method='lie' must be 'sq' or 'l2', got {metric!r}")
            try:
                _checks.require_lie(self.symmetry, "method='lie'")
            except TypeError as e:
                raise ValueError(str(e)) from None
        object.__setattr__(self, "metric", metric)

    def sub_batch(self, x: Any, key: Any = None) -> Any:
        """The examples the penalty uses: B' = `penalty_batch_size` of x, one in each block of
        B // B' consecutive examples, at the same offset in every block (all of x when
        `penalty_batch_size` is None or >= B).

        The offset is 0 when `key` is None, and drawn uniformly from [0, B // B') with `key`
        otherwise (the penalty's own key: `from_outputs` passes it), so that over steps every
        example is used even when x is the same whole data set at each step. When B is not a
        multiple of B', the last B mod B' examples are never used: choose B' dividing B.
        """
        return _spread(x, self.penalty_batch_size, key)

    def _sampled(self, apply_fn, params, x, fx, key, step=None) -> jax.Array:
        errors = sampled_errors(
            apply_fn,
            params,
            x,
            key,
            symmetry=self.symmetry,
            num_samples=self.num_samples,
            metric=self.metric,
            chunk_size=self.chunk_size,
            fx=fx,
        )
        if _debug.enabled():
            b = _validation.batch_size(x, "x")
            g = sampled_elements(self.symmetry, key, self.num_samples, b)
            what = "the symmetry penalty"
            _debug.check_pairs(errors, g, shared=False, what=what, step=step)
        return jnp.mean(errors)

    def _lie(self, apply_fn, params, x, step=None) -> tuple[Any, jax.Array]:
        fx, errors = lie_errors(apply_fn, params, x, symmetry=self.symmetry, metric=self.metric)
        if _debug.enabled():
            what = "the symmetry penalty (Lie derivative)"
            _debug.check_pairs(errors, None, shared=True, what=what, label="generator", step=step)
        return fx, jnp.mean(errors)

    def _check_outputs(self, fx: Any, step: Any) -> None:
        if _debug.enabled():
            _debug.check_finite_examples(fx, "the model output f(x)", step=step)

    def from_outputs(
        self, apply_fn: Callable, params: Any, x: Any, fx: Any, key: Any, *, step: Any = None
    ):
        """The penalty, given fx = f(x) from the caller's forward pass (no clean forward here).

        Args:
          apply_fn: the model on transformed inputs, `apply_fn(params, x)` on a batch.
          params: model parameters.
          x: the batch, leading axis B.
          fx: f(x) for that batch, leading axis B (sliced to the sub-batch here).
          key: PRNG key for the group samples (unused by method "lie").
          step: the training step, named in the messages of `symreg.debug.checked` (or
            None).

        Returns:
          The penalty, a scalar. Method "lie" runs its own primal on the (sub-)batch.
        """
        b = _checks.check_input(x, self.symmetry)
        _checks.check_output(fx, b, self.symmetry)
        _checks.check_metric(self.metric, fx)
        self._check_outputs(fx, step)
        if key is not None or self.method == "sampled":  # a clear error before the sub-batch
            _validation.check_key(key)
        if self.method == "lie":
            return self._lie(apply_fn, params, self.sub_batch(x, key), step)[1]
        xs, fxs = self.sub_batch((x, fx), key)  # one offset for both
        return self._sampled(apply_fn, params, xs, fxs, key, step)

    def with_outputs(self, apply_fn: Callable, params: Any, x: Any, key: Any, *, step=None):
        """(f(x), penalty) with one forward pass of `apply_fn` on the clean batch x.

        Method "lie" on the whole batch takes f(x) from the primal of its jvp, so the clean
        batch is evaluated once in total; with a sub-batch it also runs a primal on the B'
        examples of the sub-batch.

        Returns:
          fx with leading axis B, and the scalar penalty.
        """
        b = _checks.check_input(x, self.symmetry)
        if self.method == "lie" and (self.penalty_batch_size or b) >= b:
            fx, penalty = self._lie(apply_fn, params, x, step)
            _checks.check_output(fx, b, self.symmetry)
            self._check_outputs(fx, step)
            return fx, penalty
        fx = apply_fn(params, x)
        return fx, self.from_outputs(apply_fn, params, x, fx, key, step=step)

    def __call__(self, apply_fn: Callable, params: Any, x: Any, key: Any) -> jax.Array:
        """The penalty on the batch x, with its own forward pass."""
        return self.with_outputs(apply_fn, params, x, key)[1]


def symmetry_penalty(
    apply_fn: Callable[[Any, Any], Any],
    params: Any,
    x: Any,
    key: jax.Array | None,
    *,
    symmetry: Symmetry,
    num_samples: int = 1,
    metric: str | Callable | Metric = "sq",
    penalty_batch_size: int | None = None,
    method: str = "sampled",
    chunk_size: int | None = None,
) -> jax.Array:
    """Differentiable symmetry penalty: an estimate of the model equivariance error ED(f).

    method="sampled": (1/(S·B')) Σ_{s,b} m(f(ρ_in(g_sb) x_b), ρ_out(g_sb) f(x_b)) with
    g_sb ~ λ. With m = ‖·‖² it is an unbiased estimate of ED_2(f) on the input law, and its
    gradient of ∇ED_2. method="lie" (continuous groups): (1/(k·B')) Σ_{A,b} ‖L_A f(x_b)‖²,
    deterministic (`key` is unused and may be None). B' = min(B, penalty_batch_size)
    examples, one in each block of B // B', at an offset drawn from `key` (offset 0 when
    `key` is None, as "lie" allows). Both reduce the kernels' pure cores: on the whole
    batch (no `penalty_batch_size`) the penalty is the mean of
    `symreg.equivariance_error(..., key, num_samples=S, metric=metric, chunk_size=chunk_size)`
    (same key, same elements), or of `symreg.lie_derivative_error`, up to float rounding.
    It does not jit itself: jit the caller. Under `symreg.debug.checked` it checks that
    f(x), every pair's error and the penalty are finite, naming the first non-finite
    (sample, example) pair and its group element.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      params: model parameters; gradients flow to them.
      x: inputs, leading axis B.
      key: PRNG key for the group samples (method "sampled").
      symmetry: the `Symmetry`.
      num_samples: S, group samples per example.
      metric: "sq" (ED_2, default), "l2" (ED_1), "relative", "max_abs", "kl" or a callable.
      penalty_batch_size: B', evaluate the penalty on B' examples only (see above).
      method: "sampled" or "lie".
      chunk_size: at most this many transformed inputs per call of `apply_fn`.

    Returns:
      The penalty, a scalar.

    Raises:
      TypeError: a bad `symmetry`, `apply_fn` or `key`.
      ValueError: an unknown `method`/`metric`, a count < 1, "lie" on a finite group, or x
        and the outputs that do not fit the actions.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Vector
      >>> from symreg.groups import SO2
      >>> sym = symreg.Symmetry(SO2(), Vector())
      >>> first = lambda p, x: p * x[:, 0]   # not rotation invariant: L f(x) = -p x_1
      >>> x = jnp.array([[1.0, 2.0], [0.0, 1.0]])
      >>> float(symreg.regularizers.symmetry_penalty(first, 1.0, x, None, symmetry=sym,
      ...                                            method="lie"))
      2.5
    """
    _validation.check_callable(apply_fn, "apply_fn")
    spec = SymmetryPenalty(symmetry, num_samples, metric, penalty_batch_size, method, chunk_size)
    penalty = spec(apply_fn, params, x, key)
    if _debug.enabled():
        _debug.check_finite(penalty, "the symmetry penalty")
    return penalty
