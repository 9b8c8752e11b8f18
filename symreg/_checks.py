"""Validation against a `Symmetry`, shared by the kernels (layer 3), the penalty and the Flax step:
trace-time input checks, and the check of the `penalty=` argument."""

from __future__ import annotations

from typing import Any

import jax

from symreg import _validation
from symreg.actions import Symmetry
from symreg.groups import AbstractFiniteGroup, AbstractLieGroup


def _one_example(tree: Any) -> Any:
    """The first example of a batch (arrays, tracers or `ShapeDtypeStruct`s)."""

    def drop(a):
        if isinstance(a, jax.ShapeDtypeStruct):
            return jax.ShapeDtypeStruct(a.shape[1:], a.dtype)
        return a[0]

    return jax.tree.map(drop, tree)


def check_spec(apply_fn: Any, symmetry: Any) -> None:
    """Raises `TypeError` for a non-callable `apply_fn` or a `symmetry` that is not a Symmetry."""
    _validation.check_callable(apply_fn, "apply_fn")
    if not isinstance(symmetry, Symmetry):
        raise TypeError(
            f"symmetry must be a symreg.Symmetry(transforms, act_in, act_out), got {symmetry!r}"
        )


def _struct(tree: Any) -> Any:
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), tree)


def _fits_as_one_example(x: Any, symmetry: Symmetry) -> bool:
    """Whether the whole of x (no axis dropped) fits `act_in` as one example."""
    try:
        symmetry.check_input(_struct(x))
    except (TypeError, ValueError):
        return False
    return True


_BATCH_HINT = (
    " (missing batch axis? x itself fits one example; the kernels take a batch with a leading "
    "axis B, e.g. x[None] for a single example)"
)


def check_input(x: Any, symmetry: Symmetry) -> int:
    """Checks a batch x against `symmetry.act_in` and returns its batch size B.

    A message says "missing batch axis?" when x does not fit as a batch but would fit as one
    example.
    """
    try:
        b = _validation.batch_size(x, "x")
        symmetry.check_input(_one_example(x), name="x (one example)")
    except (TypeError, ValueError) as err:
        if _fits_as_one_example(x, symmetry):
            raise type(err)(f"{err}{_BATCH_HINT}") from None
        raise
    return b


def check_output(fx: Any, b: int, symmetry: Symmetry) -> None:
    """Checks the model output f(x) of a batch of size b against `symmetry.act_out`."""
    bo = _validation.batch_size(fx, "apply_fn(params, x)")
    if bo != b:
        raise ValueError(f"apply_fn(params, x) must keep the batch size B = {b}, got {bo}")
    symmetry.check_output(_one_example(fx), name="apply_fn output (one example)")


def check_elements(elements: Any, lead: tuple[int, ...], symmetry: Symmetry) -> None:
    """Checks group elements with leading axes `lead` (e.g. (S, B)) against the group."""
    group = symmetry.group
    leaves = jax.tree.leaves(elements)
    shapes = [tuple(getattr(a, "shape", ())) for a in leaves]
    if not leaves or lead[0] == 0 or any(sh[: len(lead)] != lead for sh in shapes):
        raise ValueError(
            f"elements must be elements of {group!r} with leading axes {lead} (S >= 1 "
            f"elements), got leaves of shapes {shapes}"
        )
    k = len(lead)
    one = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[k:], a.dtype), elements)
    group.check_element(one, name="elements (one element)")


def check_metric(metric: Any, fx: Any) -> None:
    """Raises `ValueError` unless `metric` maps two outputs (one example each) to a scalar."""
    one = _one_example(jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), fx))
    try:
        out = jax.eval_shape(metric, one, one)
    except Exception as err:  # a user callable that cannot take one output pair
        raise ValueError(
            f"metric {metric!r} failed on one pair of outputs shaped like one example: {err}"
        ) from None
    shape = getattr(out, "shape", None)
    if shape != ():
        raise ValueError(
            f"metric must return a scalar for one pair of outputs (one example each), got "
            f"{out if shape is None else 'shape ' + str(shape)}"
        )


def require_finite(symmetry: Symmetry, fn_name: str) -> AbstractFiniteGroup:
    """Returns the finite group of `symmetry`, or raises `TypeError`."""
    t = symmetry.transforms
    if not isinstance(t, AbstractFiniteGroup):
        raise TypeError(
            f"{fn_name} enumerates a finite group, but symmetry.transforms is {t!r}, which has "
            "no elements(); use equivariance_error (sampled) or lie_derivative_error instead"
        )
    return t


def require_lie(symmetry: Symmetry, fn_name: str) -> AbstractLieGroup:
    """Returns the Lie group behind `symmetry`, or raises `TypeError`."""
    g = symmetry.group
    if not isinstance(g, AbstractLieGroup) or g.num_generators == 0:
        raise TypeError(
            f"{fn_name} needs a continuous (Lie) group, but symmetry.transforms is "
            f"{symmetry.transforms!r}, which has no generators; use exact_equivariance_error"
        )
    return g


#: The penalty settings that moved into `symreg.SymmetryPenalty` (docs/architecture.md, One
#: train step): the functions that take `penalty=` refuse them by name.
PENALTY_SETTINGS = (
    "symmetry",
    "num_samples",
    "metric",
    "penalty_batch_size",
    "method",
    "chunk_size",
)


def check_penalty(penalty: Any, spec_type: type, removed: dict[str, Any], where: str) -> None:
    """Raises `TypeError` unless `penalty` is a `spec_type` and `removed` is empty.

    `penalty` defaults to None in the signatures only so that this message, not Python's
    missing-argument one, answers a call in the old style. `removed` holds the keyword
    arguments `where` no longer takes: the settings now in the penalty spec, and `debug` (now
    `symreg.debug.checked`); any other name is Python's usual unexpected-keyword error.
    `spec_type` is `symreg.SymmetryPenalty`, passed in by its callers (layers 5 and 7) because
    this ground floor sits below it.
    """
    hint = "penalty=symreg.SymmetryPenalty(symmetry, num_samples=..., ...)"
    for name in removed:
        if name == "debug":
            raise TypeError(
                f"{where} takes no debug argument: run the caller under "
                "symreg.debug.checked(fn) to check for non-finite values"
            )
        if name not in PENALTY_SETTINGS:
            raise TypeError(f"{where} got an unexpected keyword argument {name!r}")
    if removed:
        raise TypeError(
            f"{where} takes the penalty settings as one spec, {hint}, not as keyword "
            f"arguments (got {', '.join(f'{k}=' for k in removed)})"
        )
    if penalty is None:
        raise TypeError(f"{where} needs the penalty spec: {hint}")
    if not isinstance(penalty, spec_type):
        if isinstance(penalty, Symmetry):
            raise TypeError(
                "penalty must be a symreg.SymmetryPenalty, got a Symmetry: wrap it, "
                "penalty=symreg.SymmetryPenalty(symmetry)"
            )
        raise TypeError(
            f"penalty must be a symreg.SymmetryPenalty ({hint}), got {penalty!r} of type "
            f"{type(penalty).__name__}"
        )
