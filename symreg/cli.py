"""The `symreg` command line: demo, bench, tradeoff (the main job) and estimate."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def _demo(args) -> int:
    from symreg.experiments import demo

    print("Equivariance error ED_2 = E_g E_x ||f(g x) - g f(x)||^2 (16 group samples per example)")
    print(demo.format_table(demo.run(seed=args.seed)))
    return 0


def _bench(args) -> int:
    runner = Path(__file__).resolve().parent.parent / "benchmarks" / "run_all.py"
    if not runner.is_file():
        print(
            f"symreg bench: no benchmarks/run_all.py next to the package ({runner})",
            file=sys.stderr,
        )
        return 2
    cmd = [sys.executable, str(runner)] + (["--quick"] if args.quick else [])
    cmd += (["--only", args.only] if args.only else []) + (["--out", args.out] if args.out else [])
    return subprocess.call(cmd, cwd=runner.parent)


def _tradeoff(args) -> int:
    from symreg.experiments import job

    try:
        tasks = job.parse_tasks(args.task)
    except ValueError as err:
        print(f"symreg tradeoff: error: {err}", file=sys.stderr)
        return 2
    return job.main(
        tasks, quick=args.quick, seed=args.seed, out=args.out, progress=not args.no_progress
    )


def _estimate(args) -> int:
    from symreg.experiments import estimate_cli

    return estimate_cli.main(args)


def _add_tradeoff(sub) -> None:
    t = sub.add_parser(
        "tradeoff",
        help="the main job: data error, weight grid vs auto-tuned model, per task",
        description=(
            "For each task: estimate the data equivariance error (with its s.e.), train the "
            "unregularized model, the symmetrized model, a grid of penalty weights and the "
            "auto-tuned model; print a table and write tradeoff.json and tradeoff.png."
        ),
    )
    t.add_argument("--quick", action="store_true", help="small sizes for a CPU (< 2 minutes)")
    t.add_argument(
        "--task",
        action="append",
        metavar="NAME",
        help="run only these tasks (repeatable or comma-separated): sets, cloud2d, cloud3d, digits",
    )
    t.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    t.add_argument("--out", default="symreg_out", help="output folder (default ./symreg_out)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    t.set_defaults(func=_tradeoff)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `symreg` and its subcommands."""
    p = argparse.ArgumentParser(
        prog="symreg", description="Differentiable symmetry regularization in JAX."
    )
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="equivariance errors of equivariant and generic models")
    d.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    d.set_defaults(func=_demo)
    b = sub.add_parser(
        "bench",
        help="run the benchmarks in benchmarks/: JSON lines, plots and RESULTS.md in one folder",
    )
    b.add_argument("--quick", action="store_true", help="short configurations")
    b.add_argument("--only", help="run only benchmarks/bench_<ONLY>.py")
    b.add_argument("--out", help="output folder (default benchmarks/out/<date>/)")
    b.set_defaults(func=_bench)
    _add_tradeoff(sub)
    from symreg.experiments.estimate_cli import add_parser

    add_parser(sub, _estimate)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `symreg` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
