"""How symreg's kernel scales: time against S and B, compile time, memory, where the time goes.

scaling     kernel and floor time against S (B fixed) and against B (S fixed), with the
            log-log slope fitted on the points with S·B >= 4096 (linear cost: slope 1);
compile     compile time of the kernel and of the bare forward against the MLP's depth;
memory      peak memory (XLA's static analysis) without and with `chunk_size`, and the
            check that chunked and unchunked errors agree on a size that runs;
breakdown   sampling, input action and forward timed alone against the whole kernel.

  python benchmarks/bench_scaling.py [--quick]
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from _harness import (
    compile_fn,
    compiled_memory,
    emit,
    environment,
    log,
    median_ratio,
    memory_bytes,
    parser,
    time_fn,
    time_interleaved,
)
from models import DIM, SYMMETRIES, WIDTH, mlp, mlp_params

import symreg
from symreg.groups import sample_pairs

MIN_PAIRS = 4096  # the slope is fitted where S·B >= MIN_PAIRS (fixed costs are negligible)
# chunks of transformed inputs that keep a layer's activations (2048 × 256 floats = 2 MiB)
# near the L2 cache of a CPU core: the kernel's time with chunk_size = CHUNK is also recorded
CHUNK = 2048
CHUNK_RTOL = 1e-5  # chunked and unchunked errors agree to float32 rounding


def kernel_fn(sym, s, chunk_size="auto", apply_fn=mlp):
    """The jitted public kernel with S samples; chunk_size as in `equivariance_error` (its
    default "auto", None for one pass, or a number of pairs)."""
    return jax.jit(
        lambda p, x, k: symreg.equivariance_error(
            apply_fn, p, x, k, symmetry=sym, num_samples=s, chunk_size=chunk_size
        )
    )


# ---------------------------------------------------------------- time against S and B


def scaling_record(name, vary, s, b, params, key, repeats):
    """Kernel time (the default chunk_size="auto", one pass, and chunks of CHUNK) and floor time
    at one (S, B)."""
    x = jax.random.normal(key, (b, DIM))
    x_all = jax.random.normal(key, ((s + 1) * b, DIM))
    sym = SYMMETRIES[name]
    t = time_interleaved(
        {
            "kernel": (kernel_fn(sym, s), (params, x, key)),
            "unchunked": (kernel_fn(sym, s, None), (params, x, key)),
            "chunked": (kernel_fn(sym, s, CHUNK), (params, x, key)),
            "floor": (jax.jit(mlp), (params, x_all)),
        },
        repeats=repeats,
    )
    rec = {"bench": "scaling", "symmetry": name, "vary": vary, "S": s, "B": b, "pairs": s * b}
    rec.update({f"{k}_ms": 1e3 * v["median_s"] for k, v in t.items()})
    rec["kernel_over_floor"] = median_ratio(t["kernel"], t["floor"])
    # the minimum resists a loaded machine's noise
    rec.update(kernel_min_ms=1e3 * t["kernel"]["min_s"], floor_min_ms=1e3 * t["floor"]["min_s"])
    rec["chunk_size"] = CHUNK
    return rec


def fit_slope(records, vary, column="kernel_ms", min_pairs=MIN_PAIRS):
    """Least-squares slope of log(time) against log(S or B), on records with S·B >= min_pairs.

    Returns:
      (slope, number of points); slope is NaN with fewer than two points.
    """
    pts = [(r[vary], r[column]) for r in records if r["vary"] == vary and r["pairs"] >= min_pairs]
    if len(pts) < 2:
        return math.nan, len(pts)
    u, t = np.log(np.array(pts, dtype=float)).T
    return float(np.polyfit(u, t, 1)[0]), len(pts)


def slope_record(name, records, vary):
    """The fitted slopes of kernel and floor time against `vary` ("S" or "B")."""
    slope, n = fit_slope(records, vary)
    floor_slope, _ = fit_slope(records, vary, "floor_ms")
    min_slope, _ = fit_slope(records, vary, "kernel_min_ms")
    chunked_slope, _ = fit_slope(records, vary, "chunked_ms")
    unchunked_slope, _ = fit_slope(records, vary, "unchunked_ms")
    return {
        "bench": "scaling_fit",
        "symmetry": name,
        "vary": vary,
        "min_pairs": MIN_PAIRS,
        "points": n,
        "kernel_slope": slope,
        "floor_slope": floor_slope,
        "kernel_min_slope": min_slope,
        "chunked_slope": chunked_slope,
        "unchunked_slope": unchunked_slope,
        "target_met": bool(abs(slope - 1.0) <= 0.1),
    }


# ---------------------------------------------------------------- compile time


def compile_record(depth, width, s, b, key):
    """Compile time (trace + lower + compile) of the kernel and of the forward on (S+1)·B."""
    params = mlp_params(key, width=width, depth=depth)
    x = jax.random.normal(key, (b, DIM))
    x_all = jax.random.normal(key, ((s + 1) * b, DIM))
    kern = time_fn(kernel_fn(SYMMETRIES["cyclic64"], s), params, x, key, warmup=0, repeats=1)
    floor = time_fn(jax.jit(mlp), params, x_all, warmup=0, repeats=1)
    return {
        "bench": "compile",
        "symmetry": "cyclic64",
        "depth": depth,
        "width": width,
        "num_params": sum(w.size + c.size for w, c in params),
        "S": s,
        "B": b,
        "kernel_compile_s": kern["compile_s"],
        "floor_compile_s": floor["compile_s"],
    }


# ---------------------------------------------------------------- memory and chunking


def memory_records(s, b, chunk_sizes, params, key):
    """Peak bytes of the kernel at S·B pairs, unchunked and with each chunk size (not run)."""
    x = jax.random.normal(key, (b, DIM))
    sym = SYMMETRIES["cyclic64"]
    peak = lambda c: memory_bytes(kernel_fn(sym, s, c), params, x, key)["peak_bytes"]
    full = peak(None)
    records = []
    for c in [None, *chunk_sizes]:
        p = full if c is None else peak(c)
        rec = {"bench": "memory_sweep", "symmetry": "cyclic64", "S": s, "B": b, "chunk_size": c}
        records.append({**rec, "peak_MiB": p / 2**20, "ratio": p / full})
    return records


def chunk_check_record(s, b, chunk_size, params, key):
    """Runs the kernel with and without chunking on the same key: the errors must agree."""
    x = jax.random.normal(key, (b, DIM))
    sym = SYMMETRIES["cyclic64"]
    full, _ = compile_fn(kernel_fn(sym, s, None), params, x, key)
    chunked, _ = compile_fn(kernel_fn(sym, s, chunk_size), params, x, key)
    e_full, e_chunked = full(params, x, key), chunked(params, x, key)
    diff = float(jnp.max(jnp.abs(e_full - e_chunked)))
    scale = float(jnp.max(jnp.abs(e_full)))
    peak = lambda c: compiled_memory(c)["peak_bytes"]
    return {
        "bench": "chunk_check",
        "symmetry": "cyclic64",
        "S": s,
        "B": b,
        "chunk_size": chunk_size,
        "max_abs_diff": diff,
        "max_abs_error": scale,
        "equal": bool(diff <= CHUNK_RTOL * scale),
        "peak_ratio": peak(chunked) / peak(full),
    }


# ---------------------------------------------------------------- where the time goes


def _stage_fns(sym, s):
    """Jitted stages: sampling; sampling + input action on every pair; the whole kernel."""
    sample = lambda k, b: sample_pairs(sym.transforms, k, (s, b))  # as the kernel draws them
    act = jax.vmap(jax.vmap(sym.act_input), in_axes=(0, None))

    def sample_and_act(k, x):
        return act(sample(k, x.shape[0]), x)

    return {
        "sample": jax.jit(lambda k, x: sample(k, x.shape[0])),
        "sample_act": jax.jit(sample_and_act),
    }


def breakdown_record(name, s, b, params, key, repeats):
    """Times of the stages alone (ms, minimum over repeats) and the kernel ÷ forward ratio.

    act = (sampling + input action) − sampling; rest = kernel − (sampling + action) − forward:
    the output action, the metric and whatever the fused program does differently.
    """
    sym = SYMMETRIES[name]
    x = jax.random.normal(key, (b, DIM))
    x_all = jax.random.normal(key, ((s + 1) * b, DIM))
    stages = _stage_fns(sym, s)
    t = time_interleaved(
        {
            "sample": (stages["sample"], (key, x)),
            "sample_act": (stages["sample_act"], (key, x)),
            "forward": (jax.jit(mlp), (params, x_all)),
            "kernel": (kernel_fn(sym, s), (params, x, key)),
        },
        repeats=repeats,
    )
    # the minimum over repeats: differences of medians are swamped by noise on a shared CPU
    rec = {"bench": "breakdown", "symmetry": name, "S": s, "B": b, "statistic": "min"}
    rec.update({f"{k}_ms": 1e3 * v["min_s"] for k, v in t.items()})
    rec["act_ms"] = rec["sample_act_ms"] - rec["sample_ms"]
    rec["rest_ms"] = rec["kernel_ms"] - rec["sample_act_ms"] - rec["forward_ms"]
    rec["kernel_over_floor"] = median_ratio(t["kernel"], t["forward"])
    return rec


# ---------------------------------------------------------------- main


def plan(quick):
    """The sizes measured in quick and full mode."""
    if quick:
        return {
            "symmetries": ["cyclic64"],
            "S": ([16, 64, 128], 64),
            "B": ([64, 256, 512], 16),
            "depths": [1, 4],
            "memory": (1024, 256, [4096, 16384]),
            "check": (16, 64, 100),
            "breakdown": [("cyclic64", 32, 256), ("symmetric64", 32, 256)],
        }
    return {
        "symmetries": list(SYMMETRIES),
        "S": ([1, 2, 4, 8, 16, 32, 64, 128], 256),
        "B": ([16, 32, 64, 128, 256, 512, 1024, 2048], 16),
        "depths": [1, 2, 4, 8],
        "memory": (4096, 1024, [1024, 4096, 16384, 65536, 262144]),
        "check": (64, 256, 1000),
        "breakdown": [(n, s, 256) for n in SYMMETRIES for s in (8, 32)],
    }


def run_scaling(cfg, params, key, repeats):
    for name in cfg["symmetries"]:
        records = []
        for vary in ("S", "B"):
            values, fixed = cfg[vary]
            for v in values:
                s, b = (v, fixed) if vary == "S" else (fixed, v)
                log(f"scaling {name} S={s} B={b}")
                reps = repeats if s * b <= 8192 else max(3, repeats // 3)
                records.append(scaling_record(name, vary, s, b, params, key, reps))
                emit(records[-1])
        for vary in ("S", "B"):
            emit(slope_record(name, records, vary))


def main():
    args = parser(__doc__).parse_args()
    key = jax.random.key(0)
    params = mlp_params(key)
    cfg = plan(args.quick)
    repeats = 5 if args.quick else 15
    emit({"bench": "environment", **environment()})
    run_scaling(cfg, params, key, repeats)
    for depth in cfg["depths"]:
        log(f"compile depth={depth}")
        emit(compile_record(depth, WIDTH, 8, 16, key))
    log("memory")
    for rec in memory_records(*cfg["memory"], params, key):
        emit(rec)
    emit(chunk_check_record(*cfg["check"], params, key))
    for name, s, b in cfg["breakdown"]:
        log(f"breakdown {name} S={s} B={b}")
        emit(breakdown_record(name, s, b, params, key, repeats))


if __name__ == "__main__":
    main()
