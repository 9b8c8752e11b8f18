"""`symreg estimate`: the data equivariance error of arrays x and y read from files.

The data is one .npz file (two arrays), two .npy files (x, then y) or one .csv file (columns of
numbers; `--y-cols` says which are y). The symmetry is given by names: a group (SO2, O2, SO3,
O3, C<n>, D<n>, S<n>) and an action for inputs and one for outputs (trivial, vector, regular,
permutation, pointcloud, image, or irreps:<e3nn irreps>, e.g. irreps:1o+0e). Every mistake is
reported by name with exit code 2. The parser itself is in `symreg.cli`, which imports nothing
heavy.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from symreg.cli import ACTION_NAMES, GROUP_NAMES


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
    raise UsageError(f"unknown group {name!r}; choose from {GROUP_NAMES}")


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
    raise UsageError(f"unknown action {name!r} for {option}; choose from {ACTION_NAMES}")


def load_npz(path: str, x_key: str, y_key: str) -> tuple[Any, Any]:
    """Arrays `x_key` and `y_key` of an .npz file, as float32.

    Raises:
      UsageError: an unreadable file, or a missing array (the message lists those present).
    """
    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {path} as an .npz file: {err}") from None
    if not hasattr(data, "files"):
        raise UsageError(
            f"{path} holds a single array, not an .npz archive with arrays {x_key!r} and "
            f"{y_key!r}; pass two .npy files (x, then y) instead"
        )
    missing = [k for k in (x_key, y_key) if k not in data.files]
    if missing:
        raise UsageError(
            f"{path} has no array {missing[0]!r} (it has: {', '.join(data.files) or 'none'})"
        )
    return tuple(np.asarray(data[k], np.float32) for k in (x_key, y_key))


def load_npy(path: str) -> Any:
    """The one array of an .npy file, as float32.

    Raises:
      UsageError: an unreadable file or one that is not an .npy array.
    """
    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {path} as an .npy file: {err}") from None
    if hasattr(data, "files"):
        raise UsageError(f"{path} is an .npz archive, not one .npy array")
    return np.asarray(data, np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_indices(spec: str, header: list[str] | None, width: int) -> list[int]:
    """0-based indices of the comma-separated columns `spec` (indices or header names)."""
    indices = []
    for item in (part.strip() for part in spec.split(",")):
        if re.fullmatch(r"-?\d+", item) and -width <= int(item) < width:
            indices.append(int(item) % width)
        elif header is not None and item in header:
            indices.append(header.index(item))
        else:
            names = f"; header: {', '.join(header)}" if header else " (the file has no header)"
            raise UsageError(f"--y-cols {spec!r}: no column {item!r} among {width}{names}")
    if len(set(indices)) != len(indices):
        raise UsageError(f"--y-cols {spec!r} names a column twice")
    return indices


def load_csv(path: str, y_cols: str) -> tuple[Any, Any]:
    """x (N, columns not in `y_cols`) and y (N,) or (N, len(y_cols)) of a .csv file, float32.

    A first row that is not all numbers is a header; `y_cols` holds 0-based column indices
    (negative ones count from the end) or header names, comma-separated.

    Raises:
      UsageError: an unreadable file, rows of different lengths, a non-number, or bad `y_cols`.

    Examples:
      >>> import pathlib, tempfile
      >>> from symreg.experiments.estimate_cli import load_csv
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
      >>> _ = path.write_text("a,b,t\\n1,2,3\\n4,5,6\\n")
      >>> x, y = load_csv(str(path), "t")
      >>> x.tolist(), y.tolist()
      ([[1.0, 2.0], [4.0, 5.0]], [3.0, 6.0])
    """
    import numpy as np

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UsageError(f"cannot read {path} as a .csv file: {err}") from None
    header = None
    if rows and not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise UsageError(f"{path} has no rows of numbers")
    widths = sorted({len(r) for r in rows})
    if len(widths) != 1:
        raise UsageError(f"{path}: rows have different numbers of columns {widths}")
    bad = next((c for r in rows for c in r if not _is_number(c)), None)
    if bad is not None:
        raise UsageError(f"{path}: {bad!r} is not a number")
    table = np.asarray([[float(c) for c in r] for r in rows], np.float32)
    ys = _column_indices(y_cols, header, table.shape[1])
    xs = [c for c in range(table.shape[1]) if c not in ys]
    if not xs:
        raise UsageError(f"--y-cols {y_cols!r} leaves no column for x")
    y = table[:, ys]
    return table[:, xs], (y[:, 0] if len(ys) == 1 else y)


def load_data(files: list[str], *, x_key: str = "x", y_key: str = "y", y_cols: str = "-1"):
    """x and y (float32, same N) from one .npz file, two .npy files (x, y) or one .csv file.

    Args:
      files: the file names given on the command line.
      x_key, y_key: the array names in an .npz file.
      y_cols: the y columns of a .csv file (see `load_csv`).

    Returns:
      (x, y), NumPy arrays with the same leading size N.

    Raises:
      UsageError: a missing file, a wrong number or kind of files, or x and y of different N.
    """
    for name in files:
        if not Path(name).is_file():
            raise UsageError(f"no such file: {name}")
    kinds = [Path(name).suffix.lower() for name in files]
    if len(files) == 2 and kinds == [".npy", ".npy"]:
        x, y = load_npy(files[0]), load_npy(files[1])
    elif len(files) != 1:
        raise UsageError(
            f"expected one .npz or .csv file, or two .npy files (x, then y), got {files}"
        )
    elif kinds[0] == ".csv":
        x, y = load_csv(files[0], y_cols)
    elif kinds[0] == ".npy":
        raise UsageError(f"{files[0]} is one array; pass two .npy files, x then y")
    else:
        x, y = load_npz(files[0], x_key, y_key)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise UsageError(
            f"x and y need the same leading size N, got shapes {x.shape} and {y.shape}"
        )
    return x, y


def variance(y: Any) -> float:
    """Var(y) = E‖y − E y‖², summed over the output entries (the scale of η₂).

    Examples:
      >>> import numpy as np
      >>> from symreg.experiments.estimate_cli import variance
      >>> variance(np.array([[0.0, 1.0], [2.0, 3.0]]))
      2.0
    """
    import numpy as np

    flat = np.asarray(y, np.float64).reshape(len(y), -1)
    return float(np.mean(np.sum(np.square(flat - flat.mean(0)), 1)))


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
    """Builds the symmetry, loads the data and runs `symreg.estimators.estimate_data_error`.

    Returns:
      (Var(y), the `Estimate`).
    """
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
    x, y = load_data(args.files, x_key=args.x_key, y_key=args.y_key, y_cols=args.y_cols)
    try:
        return variance(y), estimate_data_error(
            jnp.asarray(x), jnp.asarray(y), symmetry=symmetry, key=jax.random.key(args.seed),
            method=args.method, **_options(args),
        )  # fmt: skip
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from None


def _fraction(value: float, var_y: float) -> float:
    return value / var_y if var_y > 0 else math.nan


def main(args) -> int:
    """Runs `symreg estimate`; prints η̂ ± s.e. and η̂ / Var(y) (or JSON); exit 2 on misuse."""
    try:
        var_y, est = estimate(args)
    except UsageError as err:
        print(f"symreg estimate: error: {err}", file=sys.stderr)
        return 2
    record = {
        "eta_hat": float(est.value),
        "eta_se": float(est.stderr),
        "var_y": var_y,
        "eta_over_var_y": _fraction(float(est.value), var_y),
        "eta_over_var_y_se": _fraction(float(est.stderr), var_y),
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
        print(
            f"η̂ / Var(y) = {record['eta_over_var_y']:.4g} ± {record['eta_over_var_y_se']:.2g}  "
            f"(Var(y) = E‖y − E y‖² = {var_y:.6g})"
        )
        if not est.is_reliable:
            print(f"warning: unreliable estimate: {est.reason}", file=sys.stderr)
    return 0
