"""Smoke tests of the benchmark scripts' core functions on tiny configurations.

Nothing here asserts a timing (timings are measured, not tested); the tests check that the
scripts run, that the peers compute the same errors as symreg, and that the reports and plots
are written.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_peers  # noqa: E402
import bench_relaxed  # noqa: E402
import bench_scaling  # noqa: E402
import bench_variance  # noqa: E402
import models  # noqa: E402
import plots  # noqa: E402
import report  # noqa: E402
import run_all  # noqa: E402

import symreg  # noqa: E402
from symreg.equivariance import pairwise_errors, squared_l2  # noqa: E402
from symreg.experiments.inertia import summarize  # noqa: E402

RTOL = 1e-4  # float32 torch and XLA matmuls of the same MLP differ by rounding only
TINY = {"width": 16, "depth": 1}


@pytest.fixture
def tiny_params(key):
    return models.mlp_params(key, **TINY)


@pytest.mark.parametrize("name", ["cyclic64", "symmetric64"])
def test_torch_errors_match_symreg(name, tiny_params, key):
    torch = pytest.importorskip("torch")
    net = bench_peers.torch_mlp(torch, tiny_params)
    sym = models.SYMMETRIES[name]
    kx, kg = jax.random.split(key)
    x = jax.random.normal(kx, (5, models.DIM))
    g = sym.transforms.sample(kg, (3, 5))
    pairs = jax.jit(
        lambda p, x, g: pairwise_errors(models.mlp, p, x, None, g, symmetry=sym, metric=squared_l2)
    )
    ours = pairs(tiny_params, x, g)
    _, index = bench_peers.torch_action(torch, name)
    xt = torch.from_numpy(np.array(x))
    with torch.no_grad():
        fx = net(xt)
        gt = torch.from_numpy(np.array(g)).long()
        theirs = torch.stack([bench_peers.torch_errors(net, index, xt, fx, gs) for gs in gt])
    np.testing.assert_allclose(theirs.numpy(), np.asarray(ours), rtol=RTOL, atol=RTOL)


def test_torch_variants_shapes(tiny_params):
    torch = pytest.importorskip("torch")
    net = bench_peers.torch_mlp(torch, tiny_params)
    variants = bench_peers.make_torch_variants(torch, net, "symmetric64", 3)
    x = torch.randn(4, models.DIM)
    assert variants["loop"](x).shape == (3, 4)
    assert variants["vmap"](x).shape == (3, 4)


def test_mlp_record_runs(tiny_params, key):
    torch = bench_peers.torch_or_none()
    net = None if torch is None else bench_peers.torch_mlp(torch, tiny_params)
    rec = bench_peers.mlp_record("cyclic64", 2, 4, tiny_params, key, 1, torch, net)
    assert rec["bench"] == "peers" and rec["symreg_ms"] > 0 and rec["speedup_vs_jax_loop"] > 0
    assert ("speedup_vs_best_torch" in rec) == (torch is not None)


@pytest.mark.slow
def test_e3nn_model_and_loop_agree_it_is_equivariant(key):
    apply_fn, params, irreps_fn, sym = models.e3nn_model(key, irreps="2x0e + 1x1o", layers=1)
    x = jax.random.normal(key, (3, sym.act_in.irreps.dim))
    ours = symreg.equivariance_error(apply_fn, params, x, key, symmetry=sym, num_samples=2)
    theirs = bench_peers.make_e3nn_loop(irreps_fn, sym.act_in.irreps, 2)(params, x, key)
    scale = float(jnp.mean(apply_fn(params, x) ** 2))
    assert ours.shape == theirs.shape == (2, 3)
    assert float(ours.max()) < 1e-8 * scale and float(theirs.max()) < 1e-8 * scale
    rec = bench_peers.irreps_action_record(2, 3, sym, key, 1)
    assert rec["symreg_action_ms"] > 0 and rec["e3nn_action_ms"] > 0


def test_fit_slope_recovers_power_law():
    recs = [
        {"vary": "S", "S": s, "B": 256, "pairs": 256 * s, "kernel_ms": 0.5 * s**1.0}
        for s in (32, 64)
    ]
    recs += [{"vary": "S", "S": 1, "B": 256, "pairs": 256, "kernel_ms": 100.0}]  # below min_pairs
    slope, n = bench_scaling.fit_slope(recs, "S")
    assert n == 2 and slope == pytest.approx(1.0)
    assert math.isnan(bench_scaling.fit_slope(recs[:1], "S")[0])


def test_chunk_check_and_memory_records(tiny_params, key):
    rec = bench_scaling.chunk_check_record(4, 8, 5, tiny_params, key)  # 5 ∤ 32: padding
    assert rec["equal"] and rec["max_abs_error"] > 0
    mem = bench_scaling.memory_records(16, 8, [16], tiny_params, key)
    assert [r["chunk_size"] for r in mem] == [None, 16] and mem[0]["ratio"] == 1.0


def test_breakdown_and_compile_records(tiny_params, key):
    rec = bench_scaling.breakdown_record("cyclic64", 2, 4, tiny_params, key, 1)
    assert rec["kernel_ms"] > 0 and rec["forward_ms"] > 0
    comp = bench_scaling.compile_record(1, 8, 2, 4, key)
    assert comp["kernel_compile_s"] > 0 and comp["num_params"] == 64 * 8 + 8 + 8 * 64 + 64


def _records():
    env = {"bench": "environment", "backend": "cpu", "device": "cpu"}
    kern = [
        {"bench": "kernel", "symmetry": sym, "S": s, "B": 256, "kernel_over_floor": 1.05}
        for sym in ("cyclic64", "symmetric64")
        for s in (8, 32)
    ]
    scaling = [
        {"bench": "scaling", "symmetry": "cyclic64", "vary": v, "S": s, "B": b, "pairs": s * b}
        | {"kernel_ms": 0.01 * s * b, "floor_ms": 0.009 * s * b}
        for v, s, b in [("S", 16, 256), ("S", 32, 256), ("B", 16, 256), ("B", 16, 512)]
    ]
    fit = {"bench": "scaling_fit", "symmetry": "cyclic64", "vary": "S", "kernel_slope": 1.3}
    mem = [
        {"bench": "memory_sweep", "S": 64, "B": 64, "chunk_size": c, "peak_MiB": m, "ratio": r}
        for c, m, r in [(None, 100.0, 1.0), (512, 10.0, 0.1)]
    ]
    other = {"bench": "newbench", "x": 1, "nested": "ok"}
    return [env, *kern, *scaling, fit, *mem, other]


def test_report_targets_and_tables(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _records()) + "\nnot json\n")
    records = report.load([tmp_path])
    met = {row["target"]: row["met"] for row in report.targets(records)}
    assert met["kernel ÷ floor (bench_kernels), cyclic64, S ∈ {8, 32}, B = 256"] is True
    assert met["log-log slope of kernel time (S and B), S·B >= 4096"] is False
    assert met["speedup over the best torch variant"] is None  # not run
    text = report.render(records)
    assert "## newbench" in text and "| x | nested |" in text and "Environment: " in text


def test_plots_written(tmp_path):
    paths = plots.make_all(_records(), tmp_path)
    assert {p.name for p in paths} == {"scaling.png", "memory.png", "kernels.png"}
    assert all(p.stat().st_size > 0 for p in paths)


def test_relaxed_plot_written(tmp_path):
    names = list(bench_relaxed.MODELS)
    records = [
        {"model": m, "n": n, "seed": s, "excess": 1.0 + i + s, "weight": 0.0, "model_ed2": 0.1}
        for i, m in enumerate(names)
        for n in (10, 20)
        for s in range(2)
    ]
    result = {
        "config": {"ns": (10, 20), "eps": 0.5},
        "eta": 0.5,
        "records": records,
        "summary": summarize(records),
    }
    path = bench_relaxed.plot(result, tmp_path / "relaxed.png")
    assert path.stat().st_size > 0


def test_relaxed_weight_grid_trains_each_weight_and_tables_the_best(fast_compile):
    from symreg.experiments.inertia import InertiaConfig

    config = InertiaConfig(ns=(16,), seeds=1, steps=3, hidden=(4,), n_test=8)
    records = bench_relaxed.weight_grid(config, [0.0, 2.0])
    assert [(r["arch"], r["weight"]) for r in records] == [
        ("pathway", 0.0), ("pathway", 2.0), ("mlp", 0.0), ("mlp", 2.0)
    ]  # fmt: skip
    assert records[1]["model_ed2"] < records[0]["model_ed2"]  # the weight is applied
    rows = bench_relaxed.grid_table(records).splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| pathway", "| mlp"]
    for row, pair in zip(rows, (records[:2], records[2:]), strict=True):
        best = min(pair, key=lambda r: r["excess"])
        assert f"**{best['excess']:.4g}**" in row and row.count("**") == 2


def test_variance_record_reads_the_1_over_n_law():
    from types import SimpleNamespace

    from symreg.estimators import Estimate

    def cal(v):
        e = Estimate(jnp.float32(0.5), jnp.float32(0.05), method="crossfit", n=100)
        return SimpleNamespace(estimate=e, variance=SimpleNamespace(value=jnp.float32(v)),
                               weight=0.0)  # fmt: skip

    # v(N/4) = 4·v(N): the law holds, v̂ (scaled by 1/4) is v(N), the exponent is 1
    law = bench_variance.record("t", 100, 0, 4, cal(1.0), cal(0.25))
    assert law["exponent"] == pytest.approx(1.0) and law["v_hat_over_v_n"] == pytest.approx(1.0)
    assert law["v_n"] == pytest.approx(1.0) and law["v_n_over_k"] == pytest.approx(4.0)
    # a variance that does not fall with n: v̂ is v(N)/4 and the exponent 0
    flat = bench_variance.record("t", 100, 0, 4, cal(1.0), cal(1.0))
    assert flat["exponent"] == pytest.approx(0.0) and flat["v_hat_over_v_n"] == pytest.approx(0.25)
    assert flat["weight_with_v_n"] == pytest.approx(4 * law["weight_with_v_n"], rel=1e-5)
    assert "| t | 100 | " in bench_variance.table([law, flat])


def test_runner_records_a_script(tmp_path, monkeypatch):
    script = tmp_path / "bench_fake.py"
    script.write_text(
        'import json, sys\nprint(json.dumps({"bench": "fake", "quick": sys.argv[1:]}))\n'
    )
    rec = run_all.run_script(script, tmp_path, quick=True, timeout=60)
    assert rec["returncode"] == 0 and rec["script"] == "bench_fake.py"
    assert json.loads((tmp_path / "bench_fake.jsonl").read_text()) == {
        "bench": "fake",
        "quick": ["--quick"],
    }
    names = [p.name for p in run_all.scripts(["peers", "bench_scaling"])]
    assert names == ["bench_peers.py", "bench_scaling.py"]


def test_gpu_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(BENCH / "gpu.sh")], check=True)
