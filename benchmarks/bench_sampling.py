"""Variance of the sampled equivariance error: iid against stratified group elements.

Cost is counted in forward passes, so at equal S (the same forward passes) a lower variance is
a faster estimator: reaching the stratified standard error with iid draws takes `ratio` times
more samples. For each (group, model, S), the batch-mean error of a fixed batch is estimated
with K independent keys per sampler; `var_*` is its variance over the keys and
`ratio = var_iid / var_stratified` (with `ratio_rel_se`, its approximate relative standard
error, 2/sqrt(K) for near-normal estimates). The kernels' times at the same S and B show that
stratified sampling costs the same.

    python benchmarks/bench_sampling.py [--quick] [--sizes S ...] [--keys K]
"""

from __future__ import annotations

import math

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from _harness import emit, environment, log, parser, time_fn

import symreg
from symreg import groups as G
from symreg.actions import Irreps, Permutation, PointCloud, Regular, Vector

B = 16  # examples in the fixed batch
ROUNDOFF_RTOL = 1e-9  # var_stratified below this fraction of var_iid is float round-off
WIDTH = 64


def mlp_params(key, d_in, d_out=1, width=WIDTH):
    keys = jax.random.split(key, 3)
    sizes = [d_in, width, width, d_out]
    return [
        (jax.random.normal(k, (a, b)) / math.sqrt(a), jnp.zeros(b))
        for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp(params, x):
    """A tanh MLP on the flattened example: (B, ...) -> (B, d_out)."""
    x = x.reshape(x.shape[0], -1)
    for w, b in params[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = params[-1]
    return x @ w + b


E3_LINEAR = e3nn.flax.Linear("1o")


def e3nn_model(params, x):
    """An e3nn Linear on two vectors (equivariant) plus a small symmetry-breaking term."""
    y = E3_LINEAR.apply(params["linear"], e3nn.IrrepsArray("2x1o", x)).array
    return y + jnp.tanh(x @ params["break"])


def e3nn_params(key):
    k1, k2 = jax.random.split(key)
    lin = E3_LINEAR.init(k1, e3nn.IrrepsArray("2x1o", jnp.zeros((1, 6))))
    return {"linear": lin, "break": 0.3 * jax.random.normal(k2, (6, 3))}


def configs():
    """name -> (group, model name, apply_fn, params, x, Symmetry)."""
    kp, kx = jax.random.split(jax.random.key(0))
    vec = lambda d: jax.random.normal(kx, (B, d))
    rows = [
        ("SO2", "mlp", mlp, mlp_params(kp, 2), vec(2), symreg.Symmetry(G.SO2(), Vector())),
        ("O2", "mlp", mlp, mlp_params(kp, 2), vec(2), symreg.Symmetry(G.O2(), Vector())),
        ("SO3", "mlp", mlp, mlp_params(kp, 3), vec(3), symreg.Symmetry(G.SO3(), Vector())),
        ("O3", "mlp", mlp, mlp_params(kp, 3), vec(3), symreg.Symmetry(G.O3(), Vector())),
        (
            "SO3",
            "e3nn_linear+break",
            e3nn_model,
            e3nn_params(kp),
            vec(6),
            symreg.Symmetry(G.SO3(), Irreps("2x1o"), Irreps("1o")),
        ),
        ("Dihedral6", "mlp", mlp, mlp_params(kp, 2), vec(2), symreg.Symmetry(G.Dihedral(6), Vector())),
        ("Cyclic16", "mlp", mlp, mlp_params(kp, 16), vec(16), symreg.Symmetry(G.Cyclic(16), Regular())),
        ("Symmetric8", "mlp", mlp, mlp_params(kp, 8), vec(8), symreg.Symmetry(G.Symmetric(8), Permutation())),
        (
            "SO3xSymmetric4",
            "mlp_pointcloud",
            mlp,
            mlp_params(kp, 12),
            jax.random.normal(kx, (B, 4, 3)),
            symreg.Symmetry(G.DirectProduct(G.SO3(), G.Symmetric(4)), PointCloud()),
        ),
    ]  # fmt: skip
    return rows


def batch_means(fn, params, x, key, sym, s, keys, sampling):
    """`keys` independent batch-mean estimates in one call: every example of the `keys` copies
    of the batch gets its own set of S elements."""
    copies = jax.tree.map(lambda a: jnp.tile(a, (keys,) + (1,) * (a.ndim - 1)), x)
    err = symreg.equivariance_error(
        fn, params, copies, key, symmetry=sym, num_samples=s, sampling=sampling
    )
    return err.reshape(s, keys, B).mean((0, 2))


def bench_config(group, model, fn, params, x, sym, s, keys, repeats):
    key = jax.random.key(s)
    k1, k2 = jax.random.split(key)
    run = jax.jit(batch_means, static_argnums=(0, 4, 5, 6, 7))
    iid = np.asarray(run(fn, params, x, k1, sym, s, keys, "iid"), np.float64)
    strat = np.asarray(run(fn, params, x, k2, sym, s, keys, "stratified"), np.float64)
    var_iid, var_strat = iid.var(ddof=1), strat.var(ddof=1)
    kernel = lambda sampling: jax.jit(
        lambda p, x, k: symreg.equivariance_error(
            fn, p, x, k, symmetry=sym, num_samples=s, sampling=sampling
        )
    )
    t_iid = time_fn(kernel("iid"), params, x, key, repeats=repeats)
    t_strat = time_fn(kernel("stratified"), params, x, key, repeats=repeats)
    ratio = var_iid / var_strat if var_strat > 0 else math.inf
    return {
        "bench": "sampling",
        "group": group,
        "model": model,
        "S": s,
        "B": B,
        "keys": keys,
        "mean_iid": iid.mean(),
        "mean_stratified": strat.mean(),
        "mean_diff_over_se": (strat.mean() - iid.mean()) / math.sqrt((var_iid + var_strat) / keys),
        "var_iid": var_iid,
        "var_stratified": var_strat,
        "ratio": ratio,
        # no Monte Carlo error left: the sets cover a finite group, or integrate to round-off
        "stratified_at_roundoff": bool(var_strat <= ROUNDOFF_RTOL * var_iid),
        "ratio_rel_se": 2 / math.sqrt(keys),
        "iid_samples_for_same_se": ratio * s,
        "kernel_ms_iid": 1e3 * t_iid["median_s"],
        "kernel_ms_stratified": 1e3 * t_strat["median_s"],
        "cost_ratio": t_strat["median_s"] / t_iid["median_s"],
    }


def main():
    p = parser(__doc__)
    p.add_argument("--sizes", type=int, nargs="+", help="values of S (default by mode)")
    p.add_argument("--keys", type=int, help="keys per variance estimate (default by mode)")
    args = p.parse_args()
    emit({"bench": "environment", **environment()})
    sizes = args.sizes or ((16,) if args.quick else (4, 8, 16, 32, 64))
    keys = args.keys or (200 if args.quick else 1000)
    repeats = 5 if args.quick else 21
    for group, model, fn, params, x, sym in configs():
        for s in sizes:
            log(f"sampling {group} {model} S={s}")
            emit(bench_config(group, model, fn, params, x, sym, s, keys, repeats))


if __name__ == "__main__":
    main()
