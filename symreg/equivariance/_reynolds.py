"""The Reynolds operator (symmetrization) and post-hoc relaxation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from symreg import _checks, _validation
from symreg.equivariance._pairs import mean_over_elements
from symreg.groups import AbstractFiniteGroup, check_sampling


def _elements(symmetry, num_samples, key, sampling):
    t = symmetry.transforms
    sampling = check_sampling(sampling)
    if num_samples is None:
        if not isinstance(t, AbstractFiniteGroup):
            raise ValueError(
                f"symmetrize over {t!r} (not a finite group) needs num_samples and key, to "
                "average over sampled elements"
            )
        return t.elements()
    num_samples = _validation.positive_int(num_samples, "num_samples")
    if key is None:
        raise ValueError("symmetrize with num_samples needs key, a PRNG key for the elements")
    _validation.check_key(key)
    return t.sample(key, (num_samples,), sampling=sampling)


def symmetrize(
    apply_fn: Callable[[Any, Any], Any],
    *,
    symmetry: Any,
    num_samples: int | None = None,
    key: jax.Array | None = None,
    chunk_size: int | None = None,
    sampling: str = "iid",
) -> Callable[[Any, Any], Any]:
    """The Reynolds operator: returns Qf with (Qf)(x) = E_g ρ_out(g)⁻¹ f(ρ_in(g) x).

    For a finite group (and `num_samples=None`) the average is exact over all elements, so Qf
    is exactly equivariant. Otherwise S = `num_samples` elements are drawn once from `key`
    and reused on every call (a fixed, sampled Q). With Haar λ, a λ-invariant input law and
    orthogonal ρ_out, Q is the orthogonal projection onto equivariant functions and
    ED_2(f) = 2‖f − Qf‖².

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      symmetry: the `Symmetry`.
      num_samples: S for sampled symmetrization; None to enumerate a finite group.
      key: PRNG key for the sampled elements (required with `num_samples`).
      chunk_size: at most this many transformed inputs per forward pass.
      sampling: how the S elements are drawn: "iid" (default) or "stratified" (one
        stratified set, see `AbstractTransformSet.sample`: each element is λ-distributed, so
        the sampled Q stays unbiased, and it is closer to the exact Q at the same S).
        Ignored when a finite group is enumerated.

    Returns:
      A function `qf(params, x)` with the same signature and output structure as `apply_fn`.

    Raises:
      TypeError: `apply_fn` not callable or `symmetry` not a Symmetry.
      ValueError: a continuous set without `num_samples` and `key`; an unknown `sampling`,
        or "stratified" for a set without a stratified sampler; when `qf` is called, x or
        the output of `apply_fn` that does not fit the actions.

    Examples:
      >>> import jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation())
      >>> q = symreg.symmetrize(lambda p, x: x[:, 0], symmetry=sym)
      >>> q(None, jnp.array([[1.0, 2.0, 6.0]])).tolist()  # the mean of the entries
      [3.0]
    """
    _checks.check_spec(apply_fn, symmetry)
    chunk_size = _validation.optional_positive_int(chunk_size, "chunk_size")
    elements = _elements(symmetry, num_samples, key, sampling)

    def qf(params, x):
        b = _checks.check_input(x, symmetry)
        _checks.check_output(jax.eval_shape(apply_fn, params, x), b, symmetry)
        return mean_over_elements(apply_fn, params, x, elements, symmetry, chunk_size)

    return qf


def relax(
    apply_fn: Callable[[Any, Any], Any],
    alpha: Any,
    *,
    symmetry: Any,
    num_samples: int | None = None,
    key: jax.Array | None = None,
    chunk_size: int | None = None,
    sampling: str = "iid",
) -> Callable[[Any, Any], Any]:
    """Post-hoc relaxation f_α = Qf + α (f − Qf), which has ED_2(f_α) = α² ED_2(f) exactly.

    α = 0 gives the symmetrized model Qf, α = 1 gives f back. `symreg.tuning.relax_to_target`
    picks α for a target error.

    Args:
      apply_fn: the model, `apply_fn(params, x)` on a batch.
      alpha: the relaxation strength, a number >= 0 or a scalar array.
      symmetry, num_samples, key, chunk_size, sampling: as in `symmetrize`.

    Returns:
      A function `f_alpha(params, x)`.

    Raises:
      ValueError: a negative or non-finite `alpha`, or an array `alpha` that is not a scalar;
        the cases of `symmetrize`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.groups import Symmetric
      >>> sym = symreg.Symmetry(Symmetric(2), Permutation())
      >>> f = symreg.relax(lambda p, x: x[:, 0], 0.5, symmetry=sym)
      >>> f(None, jnp.array([[1.0, 3.0]])).tolist()  # 2 + 0.5 * (1 - 2)
      [1.5]
    """
    if isinstance(alpha, (bool, int, float)):
        _validation.positive_float(alpha, "alpha", allow_zero=True)
    elif jnp.ndim(alpha) != 0:
        raise ValueError(f"alpha must be a scalar, got shape {jnp.shape(alpha)}")
    qf = symmetrize(
        apply_fn,
        symmetry=symmetry,
        num_samples=num_samples,
        key=key,
        chunk_size=chunk_size,
        sampling=sampling,
    )

    def f_alpha(params, x):
        q = qf(params, x)
        f = apply_fn(params, x)
        return jax.tree.map(lambda a, b: a + alpha * (b - a), q, f)

    return f_alpha
