"""Markdown tables (for benchmarks/RESULTS.md) from the benchmarks' JSON lines.

    python benchmarks/report.py OUT_DIR_OR_FILES... [-o RESULTS.md]

Every record has a "bench" field; known benches get chosen columns, any other bench (from a
newer script) a table of all its fields. A "Targets" table checks the performance targets.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

# bench -> (title, columns); columns missing from every record are dropped
TABLES = {
    "kernel": (
        "Kernel against the floor and the per-sample loop (bench_kernels)",
        ["symmetry", "S", "B", "floor_ms", "kernel_ms", "loop_ms"]
        + ["kernel_over_floor", "loop_speedup"],
    ),
    "memory": (
        "Peak memory with chunking (bench_kernels)",
        ["symmetry", "S", "B", "chunk_size", "unchunked_peak_GiB", "chunked_peak_GiB", "ratio"],
    ),
    "peers": (
        "Peers on the same model, same run (bench_peers)",
        ["model", "symmetry", "S", "B", "floor_ms", "symreg_ms", "symreg_shared_ms"]
        + ["jax_loop_ms", "e3nn_test_ms", "torch_loop_ms", "torch_vmap_ms", "torch_floor_ms"]
        + ["symreg_over_floor", "speedup_vs_jax_loop", "speedup_vs_best_torch"]
        + ["speedup_vs_best_torch_min"]
        + ["speedup_vs_e3nn", "speedup_shared_vs_e3nn"],
    ),
    "torch": ("PyTorch", ["skipped"]),
    "irreps_action": (
        "O(3) action on S·B pairs, alone (min over repeats, bench_peers)",
        ["irreps", "S", "B", "sample_ms", "symreg_action_ms", "e3nn_action_ms"],
    ),
    "runner": (
        "Run time per script (run_all)",
        ["script", "quick", "wall_s", "cpu_s", "returncode", "loadavg_1m"],
    ),
    "scaling": (
        "Time against S and B (bench_scaling)",
        ["symmetry", "vary", "S", "B", "pairs", "kernel_ms", "floor_ms", "kernel_over_floor"]
        + ["unchunked_ms", "kernel_min_ms", "floor_min_ms", "chunk_size", "chunked_ms"],
    ),
    "scaling_fit": (
        "Log-log slopes, fitted where S·B >= min_pairs (bench_scaling)",
        ["symmetry", "vary", "min_pairs", "points", "kernel_slope", "kernel_min_slope"]
        + ["unchunked_slope", "chunked_slope", "floor_slope", "target_met"],
    ),
    "compile": (
        "Compile time against depth (bench_scaling)",
        ["depth", "width", "num_params", "S", "B", "kernel_compile_s", "floor_compile_s"],
    ),
    "memory_sweep": (
        "Peak memory against chunk_size (XLA memory analysis, bench_scaling)",
        ["symmetry", "S", "B", "chunk_size", "peak_MiB", "ratio"],
    ),
    "chunk_check": (
        "Chunked against unchunked errors, same key (bench_scaling)",
        ["S", "B", "chunk_size", "max_abs_diff", "max_abs_error", "equal", "peak_ratio"],
    ),
    "breakdown": (
        "Where the kernel's time goes (stages timed alone, bench_scaling)",
        ["symmetry", "S", "B", "sample_ms", "act_ms", "forward_ms", "rest_ms", "kernel_ms"]
        + ["kernel_over_floor"],
    ),
}
SKIP = {"environment"}


def load(paths) -> list[dict]:
    """Records from JSON-lines files, or from every *.jsonl file in the given folders."""
    records = []
    for path in map(Path, paths):
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for f in files:
            for line in f.read_text().splitlines():
                if line.strip().startswith("{"):
                    records.append(json.loads(line))
    return records


def fmt(v) -> str:
    """A table cell: 3 significant digits for floats, '—' for missing."""
    if v is None:
        return "—"
    if isinstance(v, list):
        return ", ".join(fmt(x) for x in v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def table(records, columns=None) -> str:
    """A markdown table of `records` (all fields except 'bench' if `columns` is None)."""
    if columns is None:
        columns = list(dict.fromkeys(k for r in records for k in r if k != "bench"))
    columns = [c for c in columns if any(c in r for r in records)]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in records]
    return "\n".join(lines)


def environment_line(records) -> str:
    """One line naming the device and versions (from the first environment record)."""
    env = next((r for r in records if r.get("bench") == "environment"), None)
    if env is None:
        return "Environment: not recorded."
    keys = ("date", "backend", "device", "cpu_count", "jax", "e3nn-jax", "torch")
    return "Environment: " + ", ".join(f"{k} {env.get(k)}" for k in keys)


def _rows(records, bench, **match):
    return [
        r
        for r in records
        if r.get("bench") == bench and all(r.get(k) == v for k, v in match.items())
    ]


def _kernel_ratios(records, sym):
    return [
        r["kernel_over_floor"]
        for s in (8, 32)
        for r in _rows(records, "kernel", S=s, B=256, symmetry=sym)
    ]


def _peer_ratios(records, sym):
    return [
        r["symreg_over_floor"]
        for s in (8, 32)
        for r in _rows(records, "peers", S=s, B=256, symmetry=sym)
    ]


def _chunked_ratios(records):
    vals = [r["ratio"] for r in _rows(records, "memory")]
    return vals + [r["ratio"] for r in _rows(records, "memory_sweep") if r.get("chunk_size")]


# (target, goal, test, values from the records)
TARGETS = [
    (
        "kernel ÷ floor (bench_kernels), cyclic64, S ∈ {8, 32}, B = 256",
        "<= 1.1",
        lambda v: v <= 1.1,
        lambda rs: _kernel_ratios(rs, "cyclic64"),
    ),
    (
        "kernel ÷ floor (bench_kernels), symmetric64, S ∈ {8, 32}, B = 256",
        "<= 1.5",
        lambda v: v <= 1.5,
        lambda rs: _kernel_ratios(rs, "symmetric64"),
    ),
    (
        "symreg ÷ floor, timed in alternation (bench_peers), cyclic64, S ∈ {8, 32}, B = 256",
        "<= 1.1",
        lambda v: v <= 1.1,
        lambda rs: _peer_ratios(rs, "cyclic64"),
    ),
    (
        "symreg ÷ floor, timed in alternation (bench_peers), symmetric64, S ∈ {8, 32}, B = 256",
        "<= 1.5",
        lambda v: v <= 1.5,
        lambda rs: _peer_ratios(rs, "symmetric64"),
    ),
    (
        "speedup over the per-sample loop (bench_kernels), B = 16, S = 32",
        ">= 3",
        lambda v: v >= 3,
        lambda rs: [r["loop_speedup"] for r in _rows(rs, "kernel", S=32, B=16)],
    ),
    (
        "speedup over the per-sample loop, in alternation (bench_peers), B = 16, S = 32",
        ">= 3",
        lambda v: v >= 3,
        lambda rs: [r["speedup_vs_jax_loop"] for r in _rows(rs, "peers", S=32, B=16, model="mlp")],
    ),
    (
        "speedup over e3nn-jax's equivariance_test loop",
        "> 1",
        lambda v: v > 1,
        lambda rs: [r["speedup_vs_e3nn"] for r in _rows(rs, "peers", model="e3nn")],
    ),
    (
        "speedup over the best torch variant",
        "> 1",
        lambda v: v > 1,
        lambda rs: [r.get("speedup_vs_best_torch") for r in _rows(rs, "peers", model="mlp")],
    ),
    (
        "speedup over the best torch variant, minimum times",
        "> 1",
        lambda v: v > 1,
        lambda rs: [r.get("speedup_vs_best_torch_min") for r in _rows(rs, "peers", model="mlp")],
    ),
    (
        "log-log slope of kernel time (S and B), S·B >= 4096",
        "1.0 ± 0.1",
        lambda v: abs(v - 1) <= 0.1,
        lambda rs: [r["kernel_slope"] for r in _rows(rs, "scaling_fit")],
    ),
    ("chunked ÷ unchunked peak memory", "<= 0.25", lambda v: v <= 0.25, _chunked_ratios),
    (
        "chunked errors equal the unchunked ones (1 = yes)",
        "1",
        lambda v: v == 1,
        lambda rs: [float(r["equal"]) for r in _rows(rs, "chunk_check")],
    ),
]


def targets(records) -> list[dict]:
    """The performance targets, each with the measured values and whether all meet it."""
    rows = []
    for name, goal, ok, values in TARGETS:
        vals = [v for v in values(records) if v is not None]
        if not vals:
            rows.append({"target": name, "goal": goal, "measured": "not run", "met": None})
            continue
        shown = ", ".join(fmt(float(v)) for v in vals)
        rows.append({"target": name, "goal": goal, "measured": shown, "met": all(map(ok, vals))})
    return rows


def render(records) -> str:
    """The whole markdown report: environment, targets, then one table per bench."""
    parts = ["# Benchmark results", "", environment_line(records), ""]
    parts += ["## Targets", "", table(targets(records), ["target", "goal", "measured", "met"]), ""]
    benches = list(dict.fromkeys(r.get("bench") for r in records if r.get("bench") not in SKIP))
    for bench in benches:
        title, columns = TABLES.get(bench, (f"{bench}", None))
        parts += [f"## {title}", "", table(_rows(records, bench), columns), ""]
    return "\n".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="+", help="JSON-lines files or folders of *.jsonl files")
    p.add_argument("-o", "--output", help="write the markdown here (default: stdout)")
    args = p.parse_args(argv)
    text = render(load(args.paths))
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
