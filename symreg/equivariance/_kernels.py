"""Public equivariance-error kernels: sampled, exact (finite groups) and Lie-derivative."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from symreg import _checks, _debug, _validation
from symreg.actions import Symmetry
from symreg.equivariance._core import exact_errors, lie_errors, sampled_elements, sampled_errors
from symreg.equivariance._metrics import Metric, get_metric
from symreg.groups import check_sampling

#: With chunk_size="auto" on one CPU device: pairs per forward pass, once S·B exceeds twice it.
AUTO_CHUNK_PAIRS = 4096

_CLEAN = "apply_fn(params, x) (the untransformed inputs)"


def _prepare(apply_fn, symmetry, metric, chunk_size):
    _checks.check_spec(apply_fn, symmetry)
    if not (isinstance(chunk_size, str) and chunk_size == "auto"):
        chunk_size = _validation.optional_positive_int(chunk_size, "chunk_size")
    return get_metric(metric), chunk_size


def _resolve_chunk(chunk_size, pairs: int) -> int | None:
    """`chunk_size`, with "auto" resolved: on a single CPU device, chunks of AUTO_CHUNK_PAIRS
    once there are more than twice as many pairs (a layer's activations then stay in cache,
    1.3–1.5× faster from 16384 pairs on); elsewhere one pass, which keeps a batch sharded
    over devices split."""
    if chunk_size != "auto":
        return chunk_size
    single_cpu = jax.default_backend() == "cpu" and jax.device_count() == 1
    return AUTO_CHUNK_PAIRS if single_cpu and pairs > 2 * AUTO_CHUNK_PAIRS else None


def _check_batch(apply_fn, params, x, symmetry, metric) -> int:
    """Checks x, f(x) (by shape only) and the metric; returns B."""
    b = _checks.check_input(x, symmetry)
    out = jax.eval_shape(apply_fn, params, x)
    _checks.check_output(out, b, symmetry)
    if metric is not None:
        _checks.check_metric(metric, out)
    return b


def _debug_outputs(apply_fn, params, x):
    """Under `symreg.debug.checked`: f(x) computed apart, x and f(x) checked per example;
    else None, so that the core fuses f(x) with the transformed inputs."""
    if not _debug.enabled():
        return None
    _debug.check_finite_examples(x, "x")
    fx = apply_fn(params, x)
    _debug.check_finite_examples(fx, _CLEAN)
    return fx


def equivariance_error(
    apply_fn: Callable[[Any, Any], Any],
    params: Any,
    x: Any,
    key: jax.Array,
    *,
    symmetry: Symmetry,
    num_samples: int,
    metric: str | Callable | Metric = "sq",
    share_elements: bool = False,
    chunk_size: int | str | None = "auto",
    sampling: str = "iid",
) -> jax.Array:
    """Sampled model equivariance error, one value per (group sample, example).

    For each example x_b and element g ~ λ it returns m(f(ρ_in(g) x_b), ρ_out(g) f(x_b)); with
    the default metric m = ‖·‖², the mean of the result is an unbiased estimate of
    ED_2(f) = E_g E_x ‖f(ρ_in(g)x) − ρ_out(g) f(x)‖², and so is its gradient. One call of
    `apply_fn` runs on the B clean and all S·B transformed inputs (or calls of `chunk_size`
    inputs each). This front checks the arguments, then runs the pure core
    `symreg.equivariance.sampled_errors`; it does not jit itself: wrap the caller in
    `jax.jit` (with `apply_fn` closed over) to compile it. Under `symreg.debug.checked` it
    also checks that x, f(x) and every error are finite, and names the first non-finite
    example or (sample, example) pair and its group element.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch (leading axis B) of inputs.
      params: model parameters (any pytree); gradients flow to them.
      x: inputs, an array or pytree with leading batch axis B.
      key: PRNG key for the group samples.
      symmetry: the `Symmetry` (transformations and actions).
      num_samples: S, the number of group samples per example (>= 1).
      metric: "sq" (default), "l2", "relative", "max_abs", "kl", or a callable m(a, b).
      share_elements: if True, sample S elements and use each for the whole batch.
      chunk_size: evaluate at most this many transformed inputs per forward pass (`lax.map`
        over chunks, rematerialized under `grad`), so that S·B larger than memory still runs;
        the result is the same up to float rounding. None: one pass. "auto" (default): on a
        single CPU device, chunks of `AUTO_CHUNK_PAIRS` once S·B exceeds twice that (faster,
        as activations stay in cache, and linear in S·B); elsewhere one pass.
      sampling: "iid" (default) draws every element independently. "stratified" makes the S
        elements of each example one stratified set (`AbstractTransformSet.sample`; with
        `share_elements`, one set of S for the batch): each element is still λ-distributed, so
        the mean stays unbiased, with a lower variance at the same S (same cost).

    Returns:
      Errors of shape (S, B).

    Raises:
      TypeError: `apply_fn` is not callable, `symmetry` is not a Symmetry, `key` is not a key.
      ValueError: `num_samples` or `chunk_size` < 1; x or the output does not fit the actions;
        an unknown `sampling`, or "stratified" for a set without a stratified sampler.
        Under `symreg.debug.checked`: `checkify.JaxRuntimeError` (a ValueError) for a
        non-finite value.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Regular
      >>> from symreg.groups import Cyclic
      >>> sym = symreg.Symmetry(Cyclic(8), Regular(), Regular())
      >>> conv = lambda w, x: jnp.stack([jnp.roll(x, k, -1) for k in range(8)], -1) @ w
      >>> x = jax.random.normal(jax.random.key(0), (16, 8))
      >>> measure = jax.jit(lambda w, x, k: symreg.equivariance_error(
      ...     conv, w, x, k, symmetry=sym, num_samples=4))
      >>> err = measure(jnp.ones(8), x, jax.random.key(1))
      >>> err.shape, bool(err.max() < 1e-8)
      ((4, 16), True)
    """
    metric, chunk_size = _prepare(apply_fn, symmetry, metric, chunk_size)
    num_samples = _validation.positive_int(num_samples, "num_samples")
    _validation.check_key(key)
    sampling = check_sampling(sampling)
    shared = bool(share_elements)
    b = _check_batch(apply_fn, params, x, symmetry, metric)
    fx = _debug_outputs(apply_fn, params, x)
    errors = sampled_errors(
        apply_fn,
        params,
        x,
        key,
        symmetry=symmetry,
        num_samples=num_samples,
        metric=metric,
        shared=shared,
        chunk_size=_resolve_chunk(chunk_size, num_samples * b),
        sampling=sampling,
        fx=fx,
    )
    if _debug.enabled():
        g = sampled_elements(symmetry, key, num_samples, b, shared=shared, sampling=sampling)
        _debug.check_pairs(errors, g, shared=shared, what="the equivariance error")
    return errors


def exact_equivariance_error(
    apply_fn: Callable[[Any, Any], Any],
    params: Any,
    x: Any,
    *,
    symmetry: Symmetry,
    metric: str | Callable | Metric = "sq",
    chunk_size: int | str | None = "auto",
) -> jax.Array:
    """Equivariance error over every element of a finite group, one value per (element, example).

    The mean over the first axis is the exact E_g under the uniform measure, so the mean of
    the result is ED(f) on the batch with no Monte Carlo error over g. The validating front
    of the core `symreg.equivariance.exact_errors`; jit the caller to compile it. Under
    `symreg.debug.checked`, a non-finite value raises naming the (element index, example)
    pair and the element.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      params: model parameters.
      x: inputs with leading batch axis B.
      symmetry: a `Symmetry` whose transforms is a finite group.
      metric: as in `equivariance_error`.
      chunk_size: as in `equivariance_error` (default "auto").

    Returns:
      Errors of shape (G, B), rows in the order of `symmetry.transforms.elements()`.

    Raises:
      TypeError: the transformation set is not a finite group (no `elements()`).
      ValueError: as in `equivariance_error`, or the order exceeds `MAX_ENUMERATION`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation())
      >>> first = lambda p, x: x[:, 0]   # not permutation invariant
      >>> x = jnp.array([[1.0, 2.0, 3.0]])
      >>> symreg.exact_equivariance_error(first, None, x, symmetry=sym)[:, 0].tolist()
      [0.0, 0.0, 1.0, 1.0, 4.0, 4.0]
    """
    metric, chunk_size = _prepare(apply_fn, symmetry, metric, chunk_size)
    group = _checks.require_finite(symmetry, "exact_equivariance_error")
    b = _check_batch(apply_fn, params, x, symmetry, metric)
    elements = group.elements()  # raises beyond MAX_ENUMERATION
    chunk_size = _resolve_chunk(chunk_size, group.order * b)
    fx = _debug_outputs(apply_fn, params, x)
    errors = exact_errors(
        apply_fn, params, x, symmetry=symmetry, metric=metric, chunk_size=chunk_size, fx=fx
    )
    if _debug.enabled():
        what = "the equivariance error"
        _debug.check_pairs(errors, elements, shared=True, what=what, label="element")
    return errors


def lie_derivative_error(
    apply_fn: Callable[[Any, Any], Any],
    params: Any,
    x: Any,
    *,
    symmetry: Symmetry,
    metric: str = "sq",
) -> jax.Array:
    """Infinitesimal equivariance error: ‖L_A f(x)‖² for each Lie-algebra generator A.

    L_A f(x) = d/dt|₀ ρ_out(e^{tA})⁻¹ f(ρ_in(e^{tA}) x), computed with one `jax.jvp` per
    generator, vmapped over the tangents so the primal forward f(x) runs once
    (`symreg.equivariance.lie_derivatives`). For small t, the error at e^{tA} is ≈ t²‖L_A f(x)‖². An exactly
    equivariant model has L_A f = 0 for every generator. The validating front of the core
    `symreg.equivariance.lie_errors`; jit the caller to compile it. Under
    `symreg.debug.checked`, a non-finite value raises naming the (generator, example) pair.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      params: model parameters.
      x: inputs with leading batch axis B.
      symmetry: a `Symmetry` over a Lie group (SO2, O2, SO3, O3, Translations, Scalings,
        products with them) or a set whose base is one (RotationRange, NearIdentity). With
        `InterpolatedImage` the image's tangent is the one-sided slope at t → 0⁺.
      metric: "sq" (‖L_A f‖², default) or "l2" (‖L_A f‖).

    Returns:
      Errors of shape (k, B), k = number of generators.

    Raises:
      TypeError: the group has no generators (finite groups).
      ValueError: an unsupported metric, or x/outputs that do not fit the actions.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Vector
      >>> from symreg.groups import SO2
      >>> sym = symreg.Symmetry(SO2(), Vector())
      >>> first = lambda p, x: x[:, 0]  # d/dt of (R(t)x)_0 = -x_1 at t = 0
      >>> symreg.lie_derivative_error(first, None, jnp.array([[1.0, 2.0]]), symmetry=sym).tolist()
      [[4.0]]
    """
    _checks.check_spec(apply_fn, symmetry)
    if metric not in ("sq", "l2"):
        raise ValueError(f"metric for lie_derivative_error must be 'sq' or 'l2', got {metric!r}")
    _checks.require_lie(symmetry, "lie_derivative_error")
    _check_batch(apply_fn, params, x, symmetry, None)
    if _debug.enabled():
        _debug.check_finite_examples(x, "x")
    fx, errors = lie_errors(apply_fn, params, x, symmetry=symmetry, metric=get_metric(metric))
    if _debug.enabled():
        _debug.check_finite_examples(fx, _CLEAN)
        what = "the Lie derivative error"
        _debug.check_pairs(errors, None, shared=True, what=what, label="generator")
    return errors
