"""Runs every benchmarks/bench_*.py and writes their results, plots and tables to one folder.

    python benchmarks/run_all.py [--quick] [--out DIR] [--only NAME ...] [--timeout SECONDS]

DIR (default benchmarks/out/<date>/, git-ignored) receives <name>.jsonl (the script's JSON
lines), <name>.log (its stderr), environment.json, runner.jsonl (wall and CPU seconds and exit
status per script), the PNGs of plots.py and RESULTS.md from report.py. A script that fails or
times out is recorded and the others still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(only=None) -> list[Path]:
    """The bench_*.py scripts next to this file, or those named in `only` (without bench_)."""
    found = sorted(HERE.glob("bench_*.py"))
    if not only:
        return found
    wanted = {f"bench_{n.removeprefix('bench_').removesuffix('.py')}.py" for n in only}
    missing = wanted - {p.name for p in found}
    if missing:
        raise SystemExit(f"run_all: no such benchmark(s): {sorted(missing)}")
    return [p for p in found if p.name in wanted]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_script(script: Path, out: Path, quick: bool, timeout: float | None) -> dict:
    """Runs one script, stdout to <name>.jsonl and stderr to <name>.log; returns its timings."""
    name = script.stem
    cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
    load0, cpu0, t0 = os.getloadavg()[0], _children_cpu(), time.perf_counter()
    with open(out / f"{name}.jsonl", "w") as stdout, open(out / f"{name}.log", "w") as stderr:
        try:
            code = subprocess.run(
                cmd, cwd=HERE, stdout=stdout, stderr=stderr, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    return {
        "bench": "runner",
        "script": script.name,
        "quick": quick,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": _children_cpu() - cpu0,
        "returncode": code,
        "loadavg_1m": [load0, os.getloadavg()[0]],  # other processes on the machine
    }


def write_environment(out: Path) -> dict:
    """Writes environment.json (device and versions) and returns it."""
    sys.path.insert(0, str(HERE))
    from _harness import environment

    env = environment()
    (out / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    return env


def summarize(out: Path) -> None:
    """The PNGs (plots.py) and RESULTS.md (report.py) from every *.jsonl in `out`."""
    import plots
    import report

    records = report.load([out])
    for path in plots.make_all(records, out):
        print(f"  wrote {path}", file=sys.stderr)
    (out / "RESULTS.md").write_text(report.render(records) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="run every script with --quick")
    p.add_argument("--out", help="output folder (default benchmarks/out/<date>)")
    p.add_argument("--only", nargs="*", help="names of the scripts to run (e.g. peers scaling)")
    p.add_argument("--timeout", type=float, help="seconds allowed per script")
    args = p.parse_args(argv)
    out = Path(args.out or HERE / "out" / datetime.date.today().isoformat()).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = write_environment(out)
    print(f"run_all: backend {env['backend']} ({env['device']}), output {out}", file=sys.stderr)
    failed = False
    with open(out / "runner.jsonl", "w") as log:
        for script in scripts(args.only):
            print(f"run_all: {script.name}{' --quick' if args.quick else ''}", file=sys.stderr)
            rec = run_script(script, out, args.quick, args.timeout)
            print(
                f"  {rec['wall_s']:.1f} s wall, {rec['cpu_s']:.1f} s CPU, exit {rec['returncode']}",
                file=sys.stderr,
            )
            log.write(json.dumps(rec) + "\n")
            log.flush()
            failed |= rec["returncode"] != 0
    summarize(out)
    print(f"run_all: results in {out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
