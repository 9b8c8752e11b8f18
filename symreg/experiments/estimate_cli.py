"""`symreg estimate`: the data equivariance error of arrays x and y stored in an .npz file.

The symmetry is given by names: a group (SO2, O2, SO3, O3, C<n>, D<n>, S<n>) and an action for
inputs and one for outputs (trivial, vector, regular, permutation, pointcloud, image, or
irreps:<e3nn irreps>, e.g. irreps:1o+0e). Every mistake is reported by name with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

#: Methods available from the command line ("oracle" needs f* in Python).
METHODS = ("crossfit", "riskgap", "pairing", "mmd")
GROUPS = "SO2, O2, SO3, O3, C<n> (cyclic), D<n> (dihedral), S<n> (symmetric)"
ACTIONS = (
    "trivial, vector, regular, permutation, pointcloud, image, irreps:<irreps> (e.g. irreps:1o+0e)"
)


class UsageError(ValueError):
    """A mistake in the command line or the input file (exit code 2)."""


def parse_group(name: str) -> Any:
    """The group named `name`.

    Raises:
      UsageError: an unknown name.

    Examples:
      >>> from symreg.experiments.estimate_cli import parse_group
      >>> parse_group("D4").order
      8
    """
    from symreg import groups

    fixed = {"SO2": groups.SO2, "O2": groups.O2, "SO3": groups.SO3, "O3": groups.O3}
    if name.upper() in fixed:
        return fixed[name.upper()]()
    match = re.fullmatch(r"([CDS])(\d+)", name.upper())
    if match:
        family = {"C": groups.Cyclic, "D": groups.Dihedral, "S": groups.Symmetric}[match[1]]
        try:
            return family(int(match[2]))
        except (TypeError, ValueError) as err:
            raise UsageError(f"bad group {name!r}: {err}") from None
    raise UsageError(f"unknown group {name!r}; choose from {GROUPS}")


def parse_action(name: str, option: str) -> Any:
    """The action named `name` (given as `option` on the command line).

    Raises:
      UsageError: an unknown name or bad irreps.

    Examples:
      >>> from symreg.experiments.estimate_cli import parse_action
      >>> parse_action("irreps:1o+0e", "--act-out")
      Irreps("1x1o+1x0e")
    """
    from symreg import actions

    simple = {
        "trivial": actions.Trivial,
        "vector": actions.Vector,
        "regular": actions.Regular,
        "permutation": actions.Permutation,
        "pointcloud": actions.PointCloud,
        "image": actions.Image,
    }
    key = name.lower()
    if key in simple:
        return simple[key]()
    if key.startswith("irreps:"):
        try:
            return actions.Irreps(name.split(":", 1)[1])
        except ValueError as err:
            raise UsageError(f"{option} {name!r}: {err}") from None
    raise UsageError(f"unknown action {name!r} for {option}; choose from {ACTIONS}")


def load_arrays(path: str, x_key: str, y_key: str) -> tuple[Any, Any]:
    """Arrays `x_key` and `y_key` of an .npz file, as float32.

    Raises:
      UsageError: a missing or unreadable file, or a missing array (the message lists those
        present).
    """
    import numpy as np

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        data = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {path} as an .npz file: {err}") from None
    if not hasattr(data, "files"):
        raise UsageError(
            f"{path} holds a single array, not an .npz archive with arrays {x_key!r} and {y_key!r}"
        )
    missing = [k for k in (x_key, y_key) if k not in data.files]
    if missing:
        raise UsageError(
            f"{path} has no array {missing[0]!r} (it has: {', '.join(data.files) or 'none'})"
        )
    return tuple(np.asarray(data[k], np.float32) for k in (x_key, y_key))


def _regressor(args) -> Any:
    from symreg.estimators import LinearRegressor, MLPRegressor

    if args.regressor == "linear":
        return LinearRegressor(degree=args.degree)
    hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
    return MLPRegressor(hidden=hidden, steps=args.steps)


def _options(args) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.num_samples is not None:
        options["num_samples"] = args.num_samples
    if args.method in ("crossfit", "riskgap"):
        options["regressor"] = _regressor(args)
        if args.folds is not None:
            options["folds"] = args.folds
    elif args.folds is not None:
        raise UsageError(f"--folds applies to crossfit and riskgap, not to --method {args.method}")
    return options


def estimate(args) -> Any:
    """Builds the symmetry, loads the data and runs `symreg.estimators.estimate_data_error`."""
    import jax
    import jax.numpy as jnp

    import symreg
    from symreg.estimators import estimate_data_error

    group = parse_group(args.group)
    act_in = parse_action(args.act_in, "--act-in")
    act_out = parse_action(args.act_out, "--act-out")
    try:
        symmetry = symreg.Symmetry(group, act_in, act_out)
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from None
    x, y = load_arrays(args.file, args.x_key, args.y_key)
    try:
        return estimate_data_error(
            jnp.asarray(x), jnp.asarray(y), symmetry=symmetry, key=jax.random.key(args.seed),
            method=args.method, **_options(args),
        )  # fmt: skip
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from None


def main(args) -> int:
    """Runs `symreg estimate`; prints η̂ ± s.e. (or JSON); exit code 2 on a usage error."""
    try:
        est = estimate(args)
    except UsageError as err:
        print(f"symreg estimate: error: {err}", file=sys.stderr)
        return 2
    record = {
        "eta_hat": float(est.value),
        "eta_se": float(est.stderr),
        "method": est.method,
        "n": est.n,
        "reliable": est.is_reliable,
        "reason": est.reason,
    }
    if args.json:
        finite = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v
        print(json.dumps({k: finite(v) for k, v in record.items()}))
    else:
        print(f"η̂ = {record['eta_hat']:.6g} ± {record['eta_se']:.3g}  ({est.method}, N = {est.n})")
        if not est.is_reliable:
            print(f"warning: unreliable estimate: {est.reason}", file=sys.stderr)
    return 0


def add_parser(sub: Any, func: Any) -> argparse.ArgumentParser:
    """Adds the `estimate` subcommand to the subparsers `sub`, dispatching to `func`."""
    e = sub.add_parser(
        "estimate",
        help="the data equivariance error of an .npz file (arrays x and y)",
        description=(
            "Estimates η₂ = E_g E_x ||f*(g x) - g f*(x)||² of the data (x, y) with its standard "
            f"error. Groups: {GROUPS}. Actions: {ACTIONS}."
        ),
    )
    e.add_argument("file", help="an .npz file with arrays x (N, ...) and y (N, ...)")
    e.add_argument("--group", required=True, help="the group, e.g. SO2, C4, D4, S5, O3")
    e.add_argument("--act-in", required=True, help="the action on inputs, e.g. vector")
    e.add_argument("--act-out", default="trivial", help="the action on outputs (default trivial)")
    e.add_argument(
        "--method", default="crossfit", choices=METHODS, help="the estimator (default crossfit)"
    )
    e.add_argument(
        "--regressor", default="mlp", choices=("mlp", "linear"), help="crossfit/riskgap fits"
    )
    e.add_argument("--degree", type=int, default=2, help="polynomial degree of --regressor linear")
    e.add_argument("--hidden", default="64,64", help="hidden widths of --regressor mlp")
    e.add_argument("--steps", type=int, default=1000, help="Adam steps of --regressor mlp")
    e.add_argument("--folds", type=int, help="folds K of crossfit/riskgap (default 8)")
    e.add_argument("--num-samples", type=int, help="group elements per example")
    e.add_argument("--x-key", default="x", help="name of the input array (default x)")
    e.add_argument("--y-key", default="y", help="name of the output array (default y)")
    e.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=func)
    return e
