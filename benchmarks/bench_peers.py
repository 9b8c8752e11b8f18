"""symreg against the alternatives a user would otherwise pick, measured in the same run.

On the width-256 depth-3 MLP (cyclic64 and symmetric64), for S group samples per example and a
batch of B examples:
  floor       one jitted forward on (S+1)·B inputs, the least work any method must do;
  symreg      the public call `symreg.equivariance_error`, jitted by its caller;
  jax_loop    a Python loop over the S samples with a jitted sampler, action and forward
              (how escnn and e3nn check equivariance; `bench_kernels.make_loop`);
  torch_*     PyTorch on the same MLP (weights copied) and the same action: an eager loop over
              samples, `torch.func.vmap` over samples, and the floor (one forward on (S+1)·B),
              all under `torch.no_grad()` with `torch.set_num_threads(os.cpu_count())`.
On an O(3)-equivariant e3nn-jax model (`models.e3nn_model`), symreg with `Irreps` actions
against e3nn-jax's own `e3nn_jax.utils.equivariance_test`, jitted and called once per sample.

    python benchmarks/bench_peers.py [--quick]
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
from _harness import emit, environment, log, median_ratio, parser, time_fn, time_interleaved
from bench_kernels import make_loop
from models import DIM, SYMMETRIES, e3nn_model, mlp, mlp_params

import symreg

# ---------------------------------------------------------------- PyTorch on the same MLP


def torch_or_none():
    """The torch module, or None (with the reason logged) if it cannot be imported."""
    try:
        import torch
    except ImportError as err:  # the `bench` extra installs torch (CPU)
        log(f"torch skipped: {err}")
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    log(f"torch {torch.__version__} on the CPU, torch.set_num_threads({torch.get_num_threads()})")
    return torch


def torch_mlp(torch, params):
    """The MLP as a torch.nn.Sequential of Linear/ReLU layers with the same weights."""
    layers = []
    for i, (w, b) in enumerate(params):
        lin = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.asarray(w).T.copy()))
            lin.bias.copy_(torch.from_numpy(np.asarray(b).copy()))
        layers += [lin] if i == len(params) - 1 else [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers).eval()


def torch_action(torch, name):
    """(sample(shape), index(g)) in torch: g ↦ the gather index of the coordinates.

    cyclic64: g is a shift k and x ↦ x[(i − k) mod 64] (symreg's `Regular` on `Cyclic`);
    symmetric64: g is a permutation p and x ↦ x[p] (symreg's `Permutation`).
    """
    if name == "cyclic64":
        sample = lambda shape: torch.randint(0, DIM, shape)
        index = lambda g: torch.remainder(torch.arange(DIM) - g[..., None], DIM)
        return sample, index
    if name == "symmetric64":
        sample = lambda shape: torch.argsort(torch.rand(shape + (DIM,)), dim=-1)
        return sample, lambda g: g
    raise ValueError(f"no torch action for symmetry {name!r}")


def torch_errors(net, index, x, fx, g):
    """‖f(g·x_b) − g·f(x_b)‖² for one element per example: g (B,) or (B, 64) → (B,)."""
    idx = index(g)
    return ((net(x.gather(-1, idx)) - fx.gather(-1, idx)) ** 2).sum(-1)


def make_torch_variants(torch, net, name, num_samples):
    """The eager per-sample loop, the vmap over samples and the floor, as fn(x) closures."""
    sample, index = torch_action(torch, name)

    def loop(x):
        with torch.no_grad():
            fx = net(x)
            g = [sample((x.shape[0],)) for _ in range(num_samples)]
            return torch.stack([torch_errors(net, index, x, fx, gs) for gs in g])

    def vmapped(x):
        with torch.no_grad():
            fx = net(x)
            one = lambda gs: torch_errors(net, index, x, fx, gs)
            return torch.func.vmap(one)(sample((num_samples, x.shape[0])))

    def floor(x_all):
        with torch.no_grad():
            return net(x_all)

    return {"loop": loop, "vmap": vmapped, "floor": floor}


def torch_fns(torch, net, name, s, b):
    """The torch variants with their inputs, for `time_interleaved` (name -> (fn, args))."""
    torch.manual_seed(0)
    x = torch.randn(b, DIM)
    x_all = torch.randn((s + 1) * b, DIM)
    variants = make_torch_variants(torch, net, name, s)
    return {f"torch_{v}": (fn, (x_all if v == "floor" else x,)) for v, fn in variants.items()}


# ---------------------------------------------------------------- JAX on the MLP


def mlp_record(name, s, b, params, key, repeats, torch=None, net=None):
    """One configuration: floor, symreg, the JAX per-sample loop and (if given) torch.

    The JAX functions are timed in alternation (`time_interleaved`), their ratios being
    medians of per-round ratios; the torch variants likewise but in their own group (torch's
    OpenMP threads keep spinning after a call and would slow the JAX call that follows), and
    the ratio to symreg is then a ratio of medians.
    """
    sym = SYMMETRIES[name]
    x = jax.random.normal(key, (b, DIM))
    x_all = jax.random.normal(key, ((s + 1) * b, DIM))
    call = jax.jit(
        lambda p, x, k: symreg.equivariance_error(mlp, p, x, k, symmetry=sym, num_samples=s)
    )
    fns = {
        "floor": (jax.jit(mlp), (params, x_all)),
        "symreg": (call, (params, x, key)),
        "jax_loop": (make_loop(sym, s), (params, x, key)),
    }
    t = time_interleaved(fns, repeats=repeats)
    if torch is not None:
        t.update(time_interleaved(torch_fns(torch, net, name, s, b), repeats=repeats))
    rec = {"bench": "peers", "model": "mlp", "symmetry": name, "S": s, "B": b}
    rec.update({f"{k}_ms": 1e3 * v["median_s"] for k, v in t.items()})
    rec["symreg_over_floor"] = median_ratio(t["symreg"], t["floor"])
    rec["speedup_vs_jax_loop"] = median_ratio(t["jax_loop"], t["symreg"])
    if torch is not None:
        best = min(("torch_loop", "torch_vmap"), key=lambda v: t[v]["median_s"])
        rec.update(torch_device="cpu", torch_threads=torch.get_num_threads(), best_torch=best)
        rec["speedup_vs_best_torch"] = t[best]["median_s"] / t["symreg"]["median_s"]
        # minima: torch's spinning OpenMP threads suffer most from other load on the CPU
        best_min = min(t["torch_loop"]["min_s"], t["torch_vmap"]["min_s"])
        rec["speedup_vs_best_torch_min"] = best_min / t["symreg"]["min_s"]
    return rec


# ---------------------------------------------------------------- e3nn-jax's equivariance_test


def make_e3nn_loop(irreps_fn, irreps, num_samples):
    """e3nn-jax's `equivariance_test` (one random O(3) element per call), jitted, S calls.

    Each call evaluates f(R·x) and R·f(x) for the whole batch; the per-example squared error
    ‖f(R·x_b) − R·f(x_b)‖² is computed inside the same jitted call.
    """
    import e3nn_jax as e3nn

    def one(params, key, x):
        fun = lambda z: irreps_fn(params, z)
        out1, out2 = e3nn.utils.equivariance_test(fun, key, e3nn.IrrepsArray(irreps, x))
        return jnp.sum((out1.array - out2.array) ** 2, axis=-1)

    one = jax.jit(one)

    def loop(params, x, key):
        return jnp.stack([one(params, k, x) for k in jax.random.split(key, num_samples)])

    return loop


def e3nn_record(s, b, model, key, repeats):
    """symreg (per-example and shared elements) against e3nn-jax's per-sample test."""
    apply_fn, params, irreps_fn, sym = model
    irreps = sym.act_in.irreps
    x = jax.random.normal(key, (b, irreps.dim))
    x_all = jax.random.normal(key, ((s + 1) * b, irreps.dim))

    def call(shared):
        return jax.jit(
            lambda p, x, k: symreg.equivariance_error(
                apply_fn, p, x, k, symmetry=sym, num_samples=s, share_elements=shared
            )
        )

    t = time_interleaved(
        {
            "floor": (jax.jit(apply_fn), (params, x_all)),
            "symreg": (call(False), (params, x, key)),
            "symreg_shared": (call(True), (params, x, key)),
            "e3nn_test": (make_e3nn_loop(irreps_fn, irreps, s), (params, x, key)),
        },
        repeats=repeats,
    )
    rec = {"bench": "peers", "model": "e3nn", "irreps": str(irreps), "S": s, "B": b}
    rec.update({f"{k}_ms": 1e3 * v["median_s"] for k, v in t.items()})
    rec["symreg_over_floor"] = median_ratio(t["symreg"], t["floor"])
    rec["speedup_vs_e3nn"] = median_ratio(t["e3nn_test"], t["symreg"])
    rec["speedup_shared_vs_e3nn"] = median_ratio(t["e3nn_test"], t["symreg_shared"])
    return rec


def irreps_action_record(s, b, sym, key, repeats):
    """Profile of the O(3) action on S·B pairs (min over repeats): where symreg's time goes.

    symreg's `Irreps` builds the block-diagonal Wigner-D of all irreps per element and applies
    it as one matrix; e3nn's `transform_by_matrix` applies each irrep's D to its own block.
    """
    import e3nn_jax as e3nn

    irreps = sym.act_in.irreps
    g = sym.transforms.sample(key, (s * b,))
    x = jax.random.normal(key, (s * b, irreps.dim))
    by_e3nn = lambda g, x: e3nn.IrrepsArray(irreps, x).transform_by_matrix(g).array
    fns = {
        "sample_ms": (jax.jit(lambda k: sym.transforms.sample(k, (s * b,))), (key,)),
        "symreg_action_ms": (jax.jit(jax.vmap(sym.act_input)), (g, x)),
        "e3nn_action_ms": (jax.jit(jax.vmap(by_e3nn)), (g, x)),
    }
    rec = {"bench": "irreps_action", "irreps": str(irreps), "S": s, "B": b, "statistic": "min"}
    for name, (fn, args) in fns.items():
        rec[name] = 1e3 * time_fn(fn, *args, repeats=repeats)["min_s"]
    return rec


# ---------------------------------------------------------------- main


def configurations(quick):
    """(symmetry, S, B) for the MLP and (S, B) for the e3nn model."""
    if quick:
        return [("cyclic64", 32, 16), ("symmetric64", 32, 16)], [(8, 16)]
    sb = [(s, b) for b in (16, 256) for s in (8, 32)]
    return [(n, s, b) for n in SYMMETRIES for s, b in sb], sb


def main():
    args = parser(__doc__).parse_args()
    key = jax.random.key(0)
    params = mlp_params(key)
    emit({"bench": "environment", **environment()})
    repeats = 5 if args.quick else 15
    torch = torch_or_none()
    if torch is None:
        emit({"bench": "torch", "skipped": "torch is not importable (pip install symreg[bench])"})
    net = None if torch is None else torch_mlp(torch, params)
    mlp_configs, e3nn_configs = configurations(args.quick)
    for name, s, b in mlp_configs:
        log(f"peers mlp {name} S={s} B={b}")
        emit(mlp_record(name, s, b, params, key, repeats, torch, net))
    model = e3nn_model(key)
    for s, b in e3nn_configs:
        log(f"peers e3nn S={s} B={b}")
        emit(e3nn_record(s, b, model, key, repeats))
    if not args.quick:
        emit(irreps_action_record(32, 256, model[3], key, repeats))


if __name__ == "__main__":
    main()
