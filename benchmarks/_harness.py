"""Shared timing code for the benchmarks (scripts, never imported by the library).

Rules (the project's benchmark conventions): compilation is timed separately, every timed call is warmed up and
ends in `block_until_ready`, and we report medians over repeats plus ratios measured in the
same run. Each configuration prints one JSON object on its own line (`emit`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import jax


def environment() -> dict[str, Any]:
    """The device and library versions, recorded with every run."""
    import importlib.metadata as md

    def version(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    dev = jax.devices()[0]
    return {
        "date": datetime.date.today().isoformat(),
        "backend": jax.default_backend(),
        "device": getattr(dev, "device_kind", str(dev)),
        "num_devices": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        **{k: version(k) for k in ("jax", "jaxlib", "flax", "optax", "e3nn-jax", "chex", "torch")},
    }


def block(tree: Any) -> Any:
    """Waits for every array in `tree`."""
    return jax.tree.map(
        lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, tree
    )


def compile_fn(fn: Callable, *args, **kwargs) -> tuple[Callable, float]:
    """Compiles a jitted function ahead of time; returns (compiled, seconds)."""
    t0 = time.perf_counter()
    compiled = fn.lower(*args, **kwargs).compile()
    return compiled, time.perf_counter() - t0


def time_fn(
    fn: Callable, *args, warmup: int = 2, repeats: int = 20, min_seconds: float = 0.0, **kwargs
) -> dict[str, float]:
    """Median wall time of `fn(*args)` after warm-up.

    If `fn` is jitted (has `.lower`), compilation is done first and timed on its own
    (`compile_s`); the timed calls then run the compiled executable.

    Returns:
      dict with median_s, p25_s, p75_s, min_s, repeats, compile_s (None if not jitted) and
      times (the seconds of each call).
    """
    compile_s = None
    if hasattr(fn, "lower"):
        fn, compile_s = compile_fn(fn, *args, **kwargs)
    for _ in range(warmup):
        block(fn(*args, **kwargs))
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        block(fn(*args, **kwargs))
        times.append(time.perf_counter() - t0)
    return _summary(times, compile_s)


def memory_bytes(jitted: Callable, *args, **kwargs) -> dict[str, int] | None:
    """XLA's static memory analysis of a jitted function: temp, argument, output bytes."""
    return compiled_memory(jitted.lower(*args, **kwargs).compile())


def emit(record: dict[str, Any]) -> None:
    """Prints one configuration's result as one JSON line."""
    print(json.dumps(record, default=_jsonable), flush=True)


def _jsonable(v):
    if hasattr(v, "item"):
        return v.item()
    return str(v)


def parser(description: str) -> argparse.ArgumentParser:
    """The common command line: --quick for a short run (CI-sized)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fewer configurations and repeats")
    return p


def log(msg: str) -> None:
    """Progress to stderr, so stdout stays one JSON object per line."""
    print(msg, file=sys.stderr, flush=True)


def compiled_memory(compiled: Any) -> dict[str, int] | None:
    """`memory_bytes` for an executable that is already compiled (`jit(f).lower(...).compile()`)."""
    m = compiled.memory_analysis()
    if m is None:
        return None
    out = {
        "temp_bytes": int(m.temp_size_in_bytes),
        "argument_bytes": int(m.argument_size_in_bytes),
        "output_bytes": int(m.output_size_in_bytes),
    }
    out["peak_bytes"] = sum(out.values())
    return out


def time_interleaved(
    fns: dict[str, tuple[Callable, tuple]], *, warmup: int = 2, repeats: int = 20
) -> dict[str, dict[str, Any]]:
    """Times several functions in alternation, so that a loaded machine slows them alike.

    Each jitted function (with `.lower`) is compiled first, timed on its own (`compile_s`).
    After `warmup` rounds, each of `repeats` rounds calls every function once, in turn, and
    waits for it; the ratio of two functions is best taken per round (`median_ratio`).

    Args:
      fns: name -> (function, positional arguments).

    Returns:
      name -> dict with median_s, p25_s, p75_s, min_s, repeats, compile_s and times (the
      per-round seconds, in round order).
    """
    ready = {}
    for name, (fn, args) in fns.items():
        compile_s = None
        if hasattr(fn, "lower"):
            fn, compile_s = compile_fn(fn, *args)
        ready[name] = (fn, args, compile_s)
    for _ in range(warmup):
        for fn, args, _ in ready.values():
            block(fn(*args))
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, (fn, args, _) in ready.items():
            t0 = time.perf_counter()
            block(fn(*args))
            times[name].append(time.perf_counter() - t0)
    return {name: _summary(times[name], ready[name][2]) for name in fns}


def _summary(times: list[float], compile_s: float | None) -> dict[str, Any]:
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return {
        "median_s": statistics.median(times),
        "p25_s": q[0],
        "p75_s": q[2],
        "min_s": min(times),
        "repeats": len(times),
        "compile_s": compile_s,
        "times": times,
    }


def median_ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The median over rounds of a's time ÷ b's time (two results of `time_interleaved`)."""
    return statistics.median(x / y for x, y in zip(a["times"], b["times"], strict=True))
