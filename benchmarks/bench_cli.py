"""Start-up time of the `symreg` command line, against a bare interpreter.

Each configuration is one command run in a fresh interpreter: `symreg --help`, `symreg estimate
--help`, `import symreg`, and the first use of the core (`symreg.Symmetry`, which imports JAX).
The commands run in alternation with `python -c pass` (so that a loaded machine slows them
alike), and `ratio_to_python` is the median over rounds of command ÷ bare interpreter. The
commands run from this checkout (`python -m symreg.cli`, with the repository first on the
path), not from whatever `symreg` is installed.

    python benchmarks/bench_cli.py [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _harness import emit, environment, log, median_ratio, parser, time_interleaved

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "python -c pass"
#: name -> the arguments after `python`.
COMMANDS = {
    BASELINE: ["-c", "pass"],
    "symreg --help": ["-m", "symreg.cli", "--help"],
    "symreg estimate --help": ["-m", "symreg.cli", "estimate", "--help"],
    "import symreg": ["-c", "import symreg"],
    "symreg.Symmetry (imports jax)": ["-c", "import symreg; symreg.Symmetry"],
}


def command(args: list[str]):
    """A function that runs `python args` from the repository root and checks its exit code."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }

    def run() -> None:
        subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
        )

    return run


def records(names: list[str], repeats: int) -> list[dict]:
    """One record per command in `names` (the baseline is always timed too)."""
    fns = {name: (command(COMMANDS[name]), ()) for name in dict.fromkeys([BASELINE, *names])}
    timed = time_interleaved(fns, warmup=1, repeats=repeats)
    return [
        {
            "bench": "cli",
            "command": name,
            "median_s": timed[name]["median_s"],
            "p25_s": timed[name]["p25_s"],
            "p75_s": timed[name]["p75_s"],
            "repeats": repeats,
            "ratio_to_python": median_ratio(timed[name], timed[BASELINE]),
        }
        for name in fns
    ]


def main():
    p = parser(__doc__)
    args = p.parse_args()
    emit({"bench": "environment", **environment()})
    repeats = 5 if args.quick else 21
    log(f"cli: {len(COMMANDS)} commands, {repeats} rounds")
    for record in records(list(COMMANDS), repeats):
        emit(record)


if __name__ == "__main__":
    main()
