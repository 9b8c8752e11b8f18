"""PNG plots from the benchmarks' JSON lines (matplotlib, Agg backend).

    python benchmarks/plots.py OUT_DIR_OR_FILES... [--out DIR]

Writes scaling.png (time against S and B, log-log, fitted slopes), compile.png (compile time
against depth), memory.png (peak memory against chunk_size), peers.png (symreg against the
alternatives) and kernels.png (kernel ÷ floor); a plot whose records are absent is skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
from report import load  # noqa: E402


def _rows(records, bench, **match):
    return [
        r
        for r in records
        if r.get("bench") == bench and all(r.get(k) == v for k, v in match.items())
    ]


def _save(fig, out, name):
    path = Path(out) / name
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _value_ticks(ax, values):
    """x ticks at the measured values, labelled as plain numbers (log axes)."""
    ax.set_xticks(values, [str(v) for v in values])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def _scaling_lines(ax, pts, vary, fits, sym, color):
    u = [r[vary] for r in pts]
    fit = fits.get((sym, vary), {})
    for column, style, label in (
        ("kernel_ms", "o-", "kernel"),
        ("chunked_ms", "^:", f"chunk_size={pts[0].get('chunk_size')}"),
        ("floor_ms", "s--", "floor"),
    ):
        if all(column in r for r in pts):
            slope = fit.get(column.replace("_ms", "_slope"), float("nan"))
            ax.plot(
                u,
                [r[column] for r in pts],
                style,
                color=color,
                alpha=0.8,
                label=f"{sym} {label} (slope {slope:.2f})",
            )


def plot_scaling(records, out):
    """Kernel (solid) and floor (dashed) time against S and against B, log-log."""
    rows = _rows(records, "scaling")
    if not rows:
        return None
    fits = {(r["symmetry"], r["vary"]): r for r in _rows(records, "scaling_fit")}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, vary in zip(axes, ("S", "B"), strict=True):
        for i, sym in enumerate(dict.fromkeys(r["symmetry"] for r in rows)):
            pts = [r for r in rows if r["symmetry"] == sym and r["vary"] == vary]
            if pts:
                _scaling_lines(ax, sorted(pts, key=lambda r: r[vary]), vary, fits, sym, f"C{i}")
        fixed = "B" if vary == "S" else "S"
        value = next((r[fixed] for r in rows if r["vary"] == vary), "?")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=f"{vary} ({fixed} = {value})",
            ylabel="time per call (ms)",
            title=f"time against {vary} (slopes fitted where S·B >= 4096)",
        )
        _value_ticks(ax, sorted({r[vary] for r in rows if r["vary"] == vary}))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, out, "scaling.png")


def plot_compile(records, out):
    """Compile time of the kernel and of the bare forward against the MLP's depth."""
    rows = sorted(_rows(records, "compile"), key=lambda r: r["depth"])
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(5, 4))
    depth = [r["depth"] for r in rows]
    ax.plot(depth, [r["kernel_compile_s"] for r in rows], "o-", label="symreg kernel")
    ax.plot(depth, [r["floor_compile_s"] for r in rows], "s--", label="forward only")
    ax.set(
        xlabel=f"MLP depth (width {rows[0]['width']})",
        ylabel="compile time (s)",
        title="compile time against model size",
        ylim=(0, None),
    )
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, out, "compile.png")


def plot_memory(records, out):
    """Peak memory against chunk_size (log-log), the unchunked peak as a horizontal line."""
    rows = _rows(records, "memory_sweep")
    chunked = sorted((r["chunk_size"], r["peak_MiB"]) for r in rows if r["chunk_size"])
    if not chunked:
        return None
    full = next(r["peak_MiB"] for r in rows if not r["chunk_size"])
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(*zip(*chunked, strict=True), "o-", label="chunk_size")
    ax.axhline(full, color="C3", linestyle="--", label="unchunked")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="chunk_size (transformed inputs per forward)",
        ylabel="peak memory (MiB)",
        title=f"S={rows[0]['S']}, B={rows[0]['B']}",
    )
    _value_ticks(ax, [c for c, _ in chunked])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, out, "memory.png")


def _bars(ax, rows, methods, label):
    width = 0.8 / len(methods)
    for j, m in enumerate(methods):
        xs = [i + j * width for i, r in enumerate(rows) if r.get(m) is not None]
        ys = [r[m] for r in rows if r.get(m) is not None]
        ax.bar(xs, ys, width, label=m.removesuffix("_ms"))
    ax.set_xticks(
        [i + 0.4 - width / 2 for i in range(len(rows))], [label(r) for r in rows], fontsize=7
    )
    ax.set(yscale="log", ylabel="time per call (ms)")
    ax.legend(fontsize=7)


def plot_peers(records, out):
    """Time per call of symreg and its peers, one group of bars per configuration."""
    mlp, e3 = _rows(records, "peers", model="mlp"), _rows(records, "peers", model="e3nn")
    if not mlp and not e3:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    if mlp:
        methods = ["floor_ms", "symreg_ms", "jax_loop_ms", "torch_loop_ms", "torch_vmap_ms"]
        methods += ["torch_floor_ms"]
        _bars(axes[0], mlp, methods, lambda r: f"{r['symmetry']}\nS={r['S']} B={r['B']}")
        axes[0].set_title("MLP (width 256, depth 3) on dim 64")
    if e3:
        methods = ["floor_ms", "symreg_ms", "symreg_shared_ms", "e3nn_test_ms"]
        _bars(axes[1], e3, methods, lambda r: f"S={r['S']} B={r['B']}")
        axes[1].set_title(f"e3nn-jax O(3) model ({e3[0]['irreps']})")
    return _save(fig, out, "peers.png")


def plot_kernels(records, out):
    """kernel ÷ floor per configuration (bench_kernels), with the 1.1 and 1.5 targets."""
    rows = _rows(records, "kernel")
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [f"{r['symmetry']}\nS={r['S']} B={r['B']}" for r in rows]
    ax.bar(range(len(rows)), [r["kernel_over_floor"] for r in rows])
    ax.axhline(1.1, color="C2", linestyle="--", label="1.1 (cyclic64 target)")
    ax.axhline(1.5, color="C3", linestyle="--", label="1.5 (symmetric64 target)")
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set(ylabel="kernel time ÷ floor time", title="symreg kernel against the forward floor")
    ax.legend(fontsize=8)
    return _save(fig, out, "kernels.png")


PLOTS = (plot_scaling, plot_compile, plot_memory, plot_peers, plot_kernels)


def make_all(records, out) -> list[Path]:
    """Every plot whose records are present; returns the written paths."""
    Path(out).mkdir(parents=True, exist_ok=True)
    return [p for p in (plot(records, out) for plot in PLOTS) if p is not None]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="+", help="JSON-lines files or folders of *.jsonl files")
    p.add_argument("--out", help="folder for the PNGs (default: the first path if a folder)")
    args = p.parse_args(argv)
    first = Path(args.paths[0])
    out = args.out or (first if first.is_dir() else first.parent)
    for path in make_all(load(args.paths), out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
