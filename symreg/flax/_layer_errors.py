"""`layer_errors`: the equivariance error of each named intermediate of a Flax model."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, final

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from symreg import _validation
from symreg.actions import Symmetry
from symreg.estimators import Estimate
from symreg.flax._eval import _check_config, per_example_errors


def _flat_name(path: tuple) -> str:
    return "/".join(str(getattr(p, "key", p)) for p in path)


def _named(tree: Any) -> dict[str, jax.Array]:
    """{name: array} from a nested dict of sown tuples: 'a/b' or 'a/b[i]' if sown i > 0 times."""
    out = {}
    for path, values in jax.tree_util.tree_flatten_with_path(
        tree, is_leaf=lambda v: isinstance(v, tuple)
    )[0]:
        name = _flat_name(path)
        values = values if isinstance(values, tuple) else (values,)
        for i, v in enumerate(values):
            out[name if len(values) == 1 else f"{name}[{i}]"] = v
    return out


def _nnx_intermediates(module: nnx.Module, x: Any) -> dict[str, jax.Array]:
    forward = nnx.capture(module, nnx.Intermediate, method_outputs=nnx.Intermediate)
    _, captured = forward(x)
    return _named(nnx.to_pure_dict(captured))


@final
@dataclasses.dataclass(frozen=True)
class _NNXIntermediate:
    """apply_fn(state, x) → the intermediate `name` of an NNX model (hashable)."""

    graphdef: Any
    name: str

    def __call__(self, state, x):
        return _nnx_intermediates(nnx.merge(self.graphdef, state, copy=True), x)[self.name]


@final
@dataclasses.dataclass(frozen=True)
class _LinenIntermediate:
    """apply_fn(variables, x) → the intermediate `name` of a linen model (hashable)."""

    module: linen.Module
    name: str

    def __call__(self, variables, x):
        return _linen_intermediates(self.module, variables, x)[self.name]


def _linen_intermediates(module, variables, x) -> dict[str, jax.Array]:
    variables = {k: v for k, v in variables.items() if k != "intermediates"}
    _, state = module.apply(variables, x, capture_intermediates=True, mutable=["intermediates"])
    return _named(state["intermediates"])


def _adapter(model: Any) -> tuple[Any, Any, Any]:
    """(apply_fn factory name → apply_fn, params, all intermediates on x as a function)."""
    if isinstance(model, nnx.Module):
        graphdef, state = nnx.split(model)
        return (
            (lambda n: _NNXIntermediate(graphdef, n)),
            state,
            lambda x: _nnx_intermediates(nnx.merge(graphdef, state, copy=True), x),
        )
    if (
        isinstance(model, tuple)
        and len(model) == 2
        and isinstance(model[0], linen.Module)
        and isinstance(model[1], Mapping)
    ):
        module, variables = model
        return (
            (lambda n: _LinenIntermediate(module, n)),
            variables,
            lambda x: _linen_intermediates(module, variables, x),
        )
    raise TypeError(
        "model must be a flax.nnx.Module or a pair (linen_module, variables), got "
        f"{model!r:.80} of type {type(model).__name__}"
    )


def _check_symmetries(symmetries: Any, available: Mapping[str, Any]) -> dict[str, Symmetry]:
    if not isinstance(symmetries, Mapping) or not symmetries:
        raise TypeError(
            f"symmetries must be a non-empty mapping from layer name to symreg.Symmetry, got "
            f"{symmetries!r:.80}"
        )
    for name, sym in symmetries.items():
        if not isinstance(sym, Symmetry):
            raise TypeError(f"symmetries[{name!r}] must be a symreg.Symmetry, got {sym!r:.80}")
        if name not in available:
            raise ValueError(
                f"symmetries[{name!r}]: the model has no intermediate {name!r}; it has "
                f"{sorted(available)}"
            )
    return dict(symmetries)


@final
@dataclasses.dataclass(frozen=True, repr=False)
class LayerErrors(Mapping):
    """The equivariance error of each named layer: a mapping name → `Estimate`, as a table.

    Attributes:
      estimates: (name, Estimate) pairs in the order asked for: ED (metric "sq": ED₂) ± s.e.
        over the batch.
      scales: (name, mean ‖h(x)‖²) pairs: the mean squared norm of each intermediate.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.estimators import Estimate
      >>> from symreg.flax import LayerErrors
      >>> est = Estimate(jnp.float32(0.02), jnp.float32(0.005), method="model", n=8)
      >>> errs = LayerErrors((("dense", est),), (("dense", 4.0),))
      >>> float(errs["dense"].value), errs.relative("dense")
      (0.02, 0.005)
      >>> print(errs)
      layer  ED (sq)   ± s.e.  relative
      dense     0.02    0.005     0.005
    """

    estimates: tuple[tuple[str, Estimate], ...]
    scales: tuple[tuple[str, float], ...]

    def __getitem__(self, name: str) -> Estimate:
        return dict(self.estimates)[name]

    def __iter__(self) -> Iterator[str]:
        return iter(name for name, _ in self.estimates)

    def __len__(self) -> int:
        return len(self.estimates)

    def scale(self, name: str) -> float:
        """The mean ‖h(x)‖² of a layer's intermediate over the batch."""
        return dict(self.scales)[name]

    def relative(self, name: str) -> float:
        """ED / mean ‖h(x)‖² of a layer: scale-free, comparable between layers (NaN if 0/0)."""
        scale = self.scale(name)
        return float(self[name].value) / scale if scale > 0 else float("nan")

    def __repr__(self) -> str:
        metric = self.estimates[0][1].metric if self.estimates else "sq"
        rows = [("layer", f"ED ({metric})", "± s.e.", "relative")]
        for name, est in self.estimates:
            value, se = float(est.value), float(est.stderr)
            rows.append((name, f"{value:.4g}", f"{se:.4g}", f"{self.relative(name):.4g}"))
        width = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = []
        for r in rows:
            cells = [r[0].ljust(width[0])]
            cells += [c.rjust(w) for c, w in zip(r[1:], width[1:], strict=True)]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    __str__ = __repr__


def layer_errors(
    model: Any,
    x: Any,
    key: jax.Array | None = None,
    *,
    symmetries: Mapping[str, Symmetry],
    num_samples: int | None = None,
) -> LayerErrors:
    """ED ± s.e. of each named intermediate h of a Flax model under its own action.

    For each name, h(x) is the intermediate as a function of the model input, and the error
    is the mean over the B examples of x and over group elements g of
    ‖h(ρ_in(g) x) − ρ_name(g) h(x)‖², with ρ_in = `symmetries[name].act_in` on the model's
    input and ρ_name = `symmetries[name].act_out` on the intermediate. It is exact in g for
    a finite group (`num_samples` None), else sampled with one key per layer split from
    `key`. The s.e. is the spread of the per-example means over √B.

    Intermediates: NNX models report what their modules sow with
    `self.sow(nnx.Intermediate, name, value)` and the output of every method call (captured
    with `nnx.capture`), named by their path, e.g. "block/__call__"; linen models (a pair
    `(module, variables)`) report `capture_intermediates=True` outputs and
    `self.sow("intermediates", ...)` values, e.g. "Dense_0/__call__". A value sown k > 1
    times is named "name[i]". An unknown name raises, listing the names available.

    Args:
      model: an `nnx.Module`, or a pair `(linen_module, variables)`.
      x: a batch of B >= 2 model inputs.
      key: a PRNG key (required with `num_samples`).
      symmetries: {name: Symmetry}: the group and the actions on the input and on that
        intermediate. The groups should be the same for the layers to be comparable.
      num_samples: S elements per example, or None to enumerate finite groups.

    Returns:
      A `LayerErrors` (a mapping name → `Estimate`) that prints as a table.

    Raises:
      TypeError: `model` is neither an NNX module nor a linen pair; `symmetries` is not a
        non-empty mapping to Symmetry objects.
      ValueError: a name the model does not have; B < 2; `num_samples` None for a set that is
        not a finite group, or without `key`; an intermediate that does not fit its action.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import symreg
      >>> from symreg.actions import Permutation
      >>> from symreg.flax import layer_errors
      >>> from symreg.groups import Symmetric
      >>> model = nnx.Sequential(nnx.Linear(3, 3, rngs=nnx.Rngs(0)), nnx.relu)
      >>> sym = symreg.Symmetry(Symmetric(3), Permutation(axis=0), Permutation(axis=0))
      >>> x = jax.random.normal(jax.random.key(0), (16, 3))
      >>> errs = layer_errors(model, x, symmetries={"layers/0/__call__": sym})
      >>> list(errs), errs["layers/0/__call__"].n
      (['layers/0/__call__'], 16)
    """
    make_apply, params, all_intermediates = _adapter(model)
    b = _validation.batch_size(x, "x")
    if b < 2:
        raise ValueError(f"x must hold at least 2 examples for a standard error, got B = {b}")
    captured = jax.eval_shape(all_intermediates, x)
    symmetries = _check_symmetries(symmetries, captured)
    keys = _layer_keys(key, symmetries, num_samples)
    clean = all_intermediates(x)
    estimates, scales = [], []
    for (name, sym), k in zip(symmetries.items(), keys, strict=True):
        per_example = per_example_errors(
            make_apply(name), params, x, k, symmetry=sym, num_samples=num_samples, metric="sq"
        )
        value, se = jnp.mean(per_example), jnp.std(per_example, ddof=1) / np.sqrt(b)
        estimates.append((name, Estimate(value, se, method="model", n=b)))
        h = jnp.asarray(clean[name]).reshape(b, -1)
        scales.append((name, float(jnp.mean(jnp.sum(jnp.square(h), axis=1)))))
    return LayerErrors(tuple(estimates), tuple(scales))


def _layer_keys(key: Any, symmetries: dict[str, Symmetry], num_samples: Any) -> list:
    """One key per layer (split, never reused), or Nones when every group is enumerated."""
    for sym in symmetries.values():
        _check_config(sym, num_samples)
    if num_samples is None:
        return [None] * len(symmetries)
    if key is None:
        raise ValueError("key is required with num_samples: it draws the group elements")
    _validation.check_key(key)
    return list(jax.random.split(key, len(symmetries)))
