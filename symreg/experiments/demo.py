"""A short demo: the equivariance error of exactly equivariant and of generic models."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import symreg
from symreg.actions import Image, Irreps, Permutation, Regular, Vector
from symreg.groups import SO2, SO3, Cyclic, Dihedral, Symmetric


def _mlp_init(key, sizes):
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        jax.random.normal(k, (a, b)) / np.sqrt(a)
        for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def _mlp(ws, x):
    for w in ws[:-1]:
        x = jnp.tanh(x @ w)
    return x @ ws[-1]


def _flat_mlp(ws, x):
    return _mlp(ws, x.reshape(x.shape[0], -1))


def _deepsets(ws, x):  # x (B, n, 1): sum over the set of a per-element MLP
    return _mlp(ws, x).sum(axis=1)


def _circular_conv(w, x):  # x (B, n): equivariant to circular shifts
    return jnp.stack([jnp.roll(x, k, axis=-1) for k in range(x.shape[-1])], -1) @ w


def _radial(ws, x):  # x (B, 2): a function of the norm only
    return _mlp(ws, jnp.linalg.norm(x, axis=-1, keepdims=True))


def _irreps_linear(w, x):  # x (B, 4) = "0e + 1o": scale each irrep, equivariant
    return jnp.concatenate([x[:, :1] * w[0], x[:, 1:] * w[1]], -1)


def cases(key):
    """(group name, model name, apply_fn, params, x, symmetry) for the demo table."""
    k = jax.random.split(key, 8)
    sets = jax.random.normal(k[0], (256, 8, 1))
    seq = jax.random.normal(k[1], (256, 16))
    pts = jax.random.normal(k[2], (256, 2))
    irr = jax.random.normal(k[3], (256, 4))
    img = jax.random.normal(k[4], (64, 8, 8))
    perm = symreg.Symmetry(Symmetric(8), Permutation())
    shift = symreg.Symmetry(Cyclic(16), Regular(), Regular())
    rot2 = symreg.Symmetry(SO2(), Vector())
    rot3 = symreg.Symmetry(SO3(), Irreps("0e + 1o"), Irreps("0e + 1o"))
    d4 = symreg.Symmetry(Dihedral(4), Image())
    img_mlp = _mlp_init(k[5], [64, 32, 1])
    return [
        ("S_8 (sets)", "DeepSets", _deepsets, _mlp_init(k[6], [1, 16, 1]), sets, perm),
        ("S_8 (sets)", "MLP", _flat_mlp, _mlp_init(k[6], [8, 16, 1]), sets, perm),
        (
            "C_16 (shifts)",
            "circular conv",
            _circular_conv,
            jax.random.normal(k[7], (16,)),
            seq,
            shift,
        ),
        ("C_16 (shifts)", "MLP", _mlp, _mlp_init(k[7], [16, 32, 16]), seq, shift),
        ("SO(2) (points)", "radial MLP", _radial, _mlp_init(k[5], [1, 16, 1]), pts, rot2),
        ("SO(2) (points)", "MLP", _mlp, _mlp_init(k[5], [2, 16, 1]), pts, rot2),
        ("SO(3) (irreps)", "irreps linear", _irreps_linear, jnp.array([0.7, -1.3]), irr, rot3),
        ("SO(3) (irreps)", "MLP", _mlp, _mlp_init(k[6], [4, 16, 4]), irr, rot3),
        (
            "D_4 (images)",
            "symmetrized MLP",
            symreg.symmetrize(_flat_mlp, symmetry=d4),
            img_mlp,
            img,
            d4,
        ),
        ("D_4 (images)", "MLP", _flat_mlp, img_mlp, img, d4),
    ]


def run(seed: int = 0, num_samples: int = 16) -> list[dict]:
    """Measures ED_2 and the relative error of each demo model; returns one row per model."""
    key = jax.random.key(seed)
    rows = []
    for group, model, fn, params, x, sym in cases(key):
        key, sub = jax.random.split(key)
        err = symreg.equivariance_error(fn, params, x, sub, symmetry=sym, num_samples=num_samples)
        rel = symreg.equivariance_error(
            fn, params, x, sub, symmetry=sym, num_samples=num_samples, metric="relative"
        )
        per_example = np.asarray(err.mean(0))
        rows.append(
            {
                "group": group,
                "model": model,
                "ed2": float(per_example.mean()),
                "ed2_se": float(per_example.std(ddof=1) / np.sqrt(per_example.size)),
                "relative": float(rel.mean()),
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """The demo rows as an aligned text table."""
    lines = [f"{'group':<16}{'model':<18}{'ED_2 (± s.e.)':>24}{'relative':>12}"]
    for r in rows:
        ed = f"{r['ed2']:.3g} ± {r['ed2_se']:.2g}"
        lines.append(f"{r['group']:<16}{r['model']:<18}{ed:>24}{r['relative']:>12.2e}")
    return "\n".join(lines)
