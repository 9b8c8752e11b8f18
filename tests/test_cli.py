"""The `symreg` command line: --help of every subcommand, `estimate` on a small .npz file, and
the error messages (exit code 2) for missing files, arrays, and unknown names."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from symreg import cli

SUBCOMMANDS = ("demo", "bench", "tradeoff", "estimate")


def run(capsys, *argv):
    """(exit code, stdout, stderr) of `symreg argv...`, argparse exits included."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_top_level_help_lists_every_subcommand(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(capsys, name):
    code, out, _ = run(capsys, name, "--help")
    assert code == 0 and f"usage: symreg {name}" in out


def test_tradeoff_help_names_its_options(capsys):
    _, out, _ = run(capsys, "tradeoff", "--help")
    for option in ("--quick", "--task", "--seed", "--out"):
        assert option in out
    assert "sets, cloud2d, cloud3d, digits" in " ".join(out.split())


def test_tradeoff_rejects_an_unknown_task(capsys, tmp_path):
    code, _, err = run(capsys, "tradeoff", "--task", "sets,nope", "--out", str(tmp_path))
    assert code == 2
    assert "unknown task(s) ['nope']" in err and "choose from sets" in err
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    """Points in R², y = |x|² + 0.5·x₀ + noise: η₂ = 2·0.25·E x₀² = 0.5 under SO(2)."""
    kx, kn = jax.random.split(jax.random.key(0))
    x = np.asarray(jax.random.normal(kx, (2048, 2)))
    y = (x**2).sum(1) + 0.5 * x[:, 0] + 0.1 * np.asarray(jax.random.normal(kn, (2048,)))
    path = tmp_path_factory.mktemp("data") / "points.npz"
    np.savez(path, x=x, y=y, other=np.zeros(3))
    return path


def test_estimate_on_a_small_npz(capsys, npz):
    code, out, err = run(
        capsys, "estimate", str(npz), "--group", "SO2", "--act-in", "vector", "--act-out",
        "trivial", "--method", "crossfit", "--regressor", "linear", "--json",
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(out)
    assert record["method"] == "crossfit" and record["n"] == 2048 and record["reliable"]
    assert abs(record["eta_hat"] - 0.5) <= 4 * record["eta_se"]


def test_estimate_prints_value_and_stderr(capsys, npz):
    code, out, _ = run(
        capsys, "estimate", str(npz), "--group", "so2", "--act-in", "vector",
        "--regressor", "linear", "--folds", "4",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("η̂ = ") and "± " in out and "(crossfit, N = 2048)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.npz", "--group", "SO2", "--act-in", "vector"], "no such file: missing.npz"),
        (["NPZ", "--group", "SO2", "--act-in", "vector", "--y-key", "z"], "has no array 'z' (it has: x, y, other)"),
        (["NPZ", "--group", "SO4", "--act-in", "vector"], "unknown group 'SO4'; choose from SO2"),
        (["NPZ", "--group", "SO2", "--act-in", "spin"], "unknown action 'spin' for --act-in"),
        (["NPZ", "--group", "SO2", "--act-in", "vector", "--act-out", "irreps:2x"], "--act-out 'irreps:2x'"),
        (["NPZ", "--group", "SO2", "--act-in", "regular"], "the regular representation needs a finite group"),
        (["NPZ", "--group", "C4", "--act-in", "vector", "--method", "mmd", "--folds", "3"], "--folds applies to crossfit and riskgap"),
        (["NPZ", "--group", "SO3", "--act-in", "vector"], "expected a last axis of size 3"),
    ],
)  # fmt: skip
def test_estimate_errors_name_what_is_wrong(capsys, npz, argv, message):
    argv = [str(npz) if a == "NPZ" else a for a in argv]
    code, out, err = run(capsys, "estimate", *argv)
    assert code == 2 and out == ""
    assert err.startswith("symreg estimate: error: ") and message in err, err


def test_estimate_rejects_an_unknown_method(capsys, npz):
    code, _, err = run(
        capsys, "estimate", str(npz), "--group", "SO2", "--act-in", "vector", "--method", "oracle"
    )
    assert code == 2 and "invalid choice: 'oracle'" in err


def test_estimate_needs_group_and_action(capsys, npz):
    code, _, err = run(capsys, "estimate", str(npz))
    assert code == 2 and "--group" in err and "--act-in" in err


def test_estimate_rejects_a_file_that_is_not_npz(capsys, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    code, _, err = run(capsys, "estimate", str(bad), "--group", "SO2", "--act-in", "vector")
    assert code == 2 and "cannot read" in err
