"""Kernel speed against the floor and a per-sample loop; memory with and without chunking.

Floor: one jitted forward of the same MLP on (S+1)·B inputs, the least work any method must do
(f(x) and f on S·B transformed inputs). Loop: a Python loop over the S samples calling a jitted
sampler, action and forward once per sample (how escnn and e3nn check equivariance).

    python benchmarks/bench_kernels.py [--quick]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from _harness import (
    emit,
    environment,
    log,
    median_ratio,
    memory_bytes,
    parser,
    time_fn,
    time_interleaved,
)
from models import DIM, SYMMETRIES, mlp, mlp_params

import symreg
from symreg.equivariance import squared_l2


def make_loop(sym, num_samples):
    """The per-sample Python loop baseline (jitted pieces, Python loop over samples)."""
    fwd = jax.jit(mlp)
    sample = jax.jit(lambda k, b: sym.transforms.sample(k, (b,)), static_argnums=1)
    act_in = jax.jit(jax.vmap(sym.act_input))
    act_out = jax.jit(jax.vmap(sym.act_output))
    err = jax.jit(jax.vmap(squared_l2))

    def loop(params, x, key):
        fx = fwd(params, x)
        out = []
        for k in jax.random.split(key, num_samples):
            g = sample(k, x.shape[0])
            out.append(err(fwd(params, act_in(g, x)), act_out(g, fx)))
        return jnp.stack(out)

    return loop


def bench_config(name, sym, s, b, params, key, repeats):
    """Kernel (the public call, jitted by its caller), floor and loop, timed in alternation;
    ratios are per-round medians."""
    x = jax.random.normal(key, (b, DIM))
    floor_x = jax.random.normal(key, ((s + 1) * b, DIM))
    kernel = lambda p, x, k: symreg.equivariance_error(mlp, p, x, k, symmetry=sym, num_samples=s)
    t = time_interleaved(
        {
            "floor": (jax.jit(mlp), (params, floor_x)),
            "kernel": (jax.jit(kernel), (params, x, key)),
            "loop": (make_loop(sym, s), (params, x, key)),
        },
        repeats=repeats,
    )
    return {
        "bench": "kernel",
        "symmetry": name,
        "S": s,
        "B": b,
        **{f"{k}_ms": 1e3 * v["median_s"] for k, v in t.items()},
        "kernel_over_floor": median_ratio(t["kernel"], t["floor"]),
        "loop_speedup": median_ratio(t["loop"], t["kernel"]),
        "kernel_compile_s": t["kernel"]["compile_s"],
    }


def bench_memory(params, key, run_chunked):
    """Peak memory (XLA static analysis) of S·B = 2^22 transformed inputs."""
    sym = SYMMETRIES["cyclic64"]
    s, b, chunk = 4096, 1024, 65536
    x = jax.random.normal(key, (b, DIM))
    fn = lambda chunk_size: jax.jit(
        lambda p, x, k: symreg.equivariance_error(
            mlp, p, x, k, symmetry=sym, num_samples=s, chunk_size=chunk_size
        )
    )
    full = memory_bytes(fn(None), params, x, key)
    chunked = memory_bytes(fn(chunk), params, x, key)
    record = {
        "bench": "memory",
        "symmetry": "cyclic64",
        "S": s,
        "B": b,
        "chunk_size": chunk,
        "unchunked_peak_GiB": full["peak_bytes"] / 2**30,
        "chunked_peak_GiB": chunked["peak_bytes"] / 2**30,
        "ratio": chunked["peak_bytes"] / full["peak_bytes"],
    }
    if run_chunked:  # it really runs: 2^20 forward passes in chunks
        record["chunked_run_s"] = time_fn(fn(chunk), params, x, key, warmup=0, repeats=1)[
            "median_s"
        ]
    return record


def main():
    args = parser(__doc__).parse_args()
    key = jax.random.key(0)
    params = mlp_params(key)
    emit({"bench": "environment", **environment()})
    repeats = 9 if args.quick else 31
    for name, sym in SYMMETRIES.items():
        for b in (16, 256):
            for s in (1, 8, 32):
                log(f"kernel {name} S={s} B={b}")
                emit(bench_config(name, sym, s, b, params, key, repeats))
    log("memory")
    emit(bench_memory(params, key, run_chunked=not args.quick))


if __name__ == "__main__":
    main()
