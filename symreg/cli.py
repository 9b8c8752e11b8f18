"""The `symreg` command line: demo, tradeoff (the main job) and estimate.

The benchmarks are not a subcommand: they live next to the package, not in it, and run as
`python benchmarks/run_all.py` (`make bench`).

Building the parser imports nothing heavy (no JAX): `symreg --help` and every subcommand's
`--help` answer at once; a subcommand imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys

#: Methods of `symreg estimate` ("oracle" needs f* in Python).
ESTIMATE_METHODS = ("crossfit", "riskgap", "pairing", "mmd")
#: Group names understood by `symreg estimate --group`.
GROUP_NAMES = "SO2, O2, SO3, O3, C<n> (cyclic), D<n> (dihedral), S<n> (symmetric)"
#: Action names understood by `symreg estimate --act-in/--act-out`.
ACTION_NAMES = (
    "trivial, vector, regular, permutation, pointcloud, image, irreps:<irreps> (e.g. irreps:1o+0e)"
)
#: The modules of the optional `tasks` extra that `symreg tradeoff` needs.
_TASKS_EXTRA = ("tqdm", "sklearn", "matplotlib")


def _demo(args) -> int:
    from symreg.experiments import demo

    print("Equivariance error ED_2 = E_g E_x ||f(g x) - g f(x)||^2 (16 group samples per example)")
    print(demo.format_table(demo.run(seed=args.seed)))
    return 0


def _run_tradeoff(args) -> int:
    from symreg.experiments import job

    try:
        tasks = job.parse_tasks(args.task)
    except ValueError as err:
        print(f"symreg tradeoff: error: {err}", file=sys.stderr)
        return 2
    return job.main(
        tasks, quick=args.quick, seed=args.seed, out=args.out, progress=not args.no_progress
    )


def _tradeoff(args) -> int:
    try:
        return _run_tradeoff(args)
    except ModuleNotFoundError as err:  # tqdm on import; scikit-learn, matplotlib when used
        if err.name not in _TASKS_EXTRA:
            raise
        print(
            f"symreg tradeoff: error: it needs {err.name!r}, from the tasks extra: "
            "pip install 'symreg[tasks]'",
            file=sys.stderr,
        )
        return 2


def _estimate(args) -> int:
    from symreg.experiments import estimate_cli

    return estimate_cli.main(args)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: ...)" to every option's help, except where the default is None (a
    required option, or one whose help says what its absence means)."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def _subparser(sub, name: str, help: str, description: str) -> argparse.ArgumentParser:
    """A subcommand whose --help shows its description and its defaults."""
    return sub.add_parser(name, help=help, description=description, formatter_class=_HelpFormatter)


def _add_demo(sub) -> None:
    d = _subparser(
        sub,
        "demo",
        help="equivariance errors of equivariant and generic models",
        description=(
            "Prints the sampled equivariance error ED_2 of a few small models, exactly "
            "equivariant ones (error ~0) next to generic ones, for a quick look at the kernels."
        ),
    )
    d.add_argument("--seed", type=int, default=0, help="PRNG seed")
    d.set_defaults(func=_demo)


def _add_tradeoff(sub) -> None:
    t = _subparser(
        sub,
        "tradeoff",
        help="the main job: data error, weight grid vs auto-tuned model, per task",
        description=(
            "For each task: estimate the data equivariance error (with its s.e.), train the "
            "unregularized model, the symmetrized model, a grid of penalty weights and the "
            "auto-tuned model; print a table and write tradeoff.json and tradeoff.png. Needs "
            "the tasks extra (pip install 'symreg[tasks]')."
        ),
    )
    t.add_argument("--quick", action="store_true", help="small sizes for a CPU (< 2 minutes)")
    t.add_argument(
        "--task",
        action="append",
        metavar="NAME",
        help="run only these tasks (repeatable or comma-separated): sets, cloud2d, cloud3d, "
        "digits, inertia (default: all but inertia)",
    )
    t.add_argument("--seed", type=int, default=0, help="PRNG seed")
    t.add_argument("--out", default="symreg_out", help="output folder")
    t.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    t.set_defaults(func=_tradeoff)


def _add_estimate(sub) -> None:
    e = _subparser(
        sub,
        "estimate",
        help="the data equivariance error of arrays x and y (.npz, two .npy, or .csv)",
        description=(
            "Estimates η₂ = E_g E_x ||f*(g x) - g f*(x)||² of the data (x, y) with its standard "
            "error, and prints it also as a fraction of Var(y) = E||y - E y||². Data: one .npz "
            "file (arrays --x-key and --y-key), two .npy files (x, then y), or one .csv file "
            "(numbers; an optional header row; --y-cols are y, the other columns x). "
            f"Groups: {GROUP_NAMES}. Actions: {ACTION_NAMES}."
        ),
    )
    e.add_argument("files", nargs="+", metavar="FILE", help="DATA.npz, or X.npy Y.npy, or DATA.csv")
    e.add_argument("--group", required=True, help="the group, e.g. SO2, C4, D4, S5, O3")
    e.add_argument("--act-in", required=True, help="the action on inputs, e.g. vector")
    e.add_argument("--act-out", default="trivial", help="the action on outputs")
    e.add_argument("--method", default="crossfit", choices=ESTIMATE_METHODS, help="the estimator")
    e.add_argument(
        "--regressor", default="mlp", choices=("mlp", "linear"), help="crossfit/riskgap fits"
    )
    e.add_argument("--degree", type=int, default=2, help="polynomial degree of --regressor linear")
    e.add_argument("--hidden", default="64,64", help="hidden widths of --regressor mlp")
    e.add_argument("--steps", type=int, default=1000, help="Adam steps of --regressor mlp")
    e.add_argument("--folds", type=int, help="folds K of crossfit/riskgap (default: 8)")
    e.add_argument(
        "--num-samples", type=int, help="group elements per example (default: the method's)"
    )
    e.add_argument("--x-key", default="x", help="name of the input array in an .npz file")
    e.add_argument("--y-key", default="y", help="name of the output array in an .npz file")
    e.add_argument(
        "--y-cols",
        default="-1",
        help="the y columns of a .csv file: comma-separated 0-based indices (negative from the "
        "end) or header names; every other column is x",
    )
    e.add_argument("--seed", type=int, default=0, help="PRNG seed")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=_estimate)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `symreg` and its subcommands; it imports no heavy module.

    Returns:
      The parser; each subcommand sets `func`, which runs it and returns the exit code.

    Examples:
      >>> from symreg.cli import build_parser
      >>> args = build_parser().parse_args(["demo"])
      >>> args.command, args.seed
      ('demo', 0)
    """
    p = argparse.ArgumentParser(
        prog="symreg",
        description="Differentiable symmetry regularization in JAX.",
        formatter_class=_HelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_demo, _add_tradeoff, _add_estimate):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `symreg` command.

    Args:
      argv: the arguments (default `sys.argv[1:]`).

    Returns:
      The exit code: 0 on success, 2 on a usage error.

    Examples:
      >>> from symreg.cli import main
      >>> main(["tradeoff", "--task", "nope"])
      2
    """
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
