"""The `symreg` command line: --help of every subcommand, `estimate` on a small .npz file, and
the error messages (exit code 2) for missing files, arrays, and unknown names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from symreg import cli

SUBCOMMANDS = ("demo", "tradeoff", "estimate")


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


def test_the_benchmarks_are_not_a_subcommand(capsys):
    """They live next to the package, not in it: `make bench` runs benchmarks/run_all.py."""
    code, _, err = run(capsys, "bench")
    assert code == 2 and "invalid choice: 'bench'" in err


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


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help_has_a_description_and_defaults(capsys, name):
    _, out, _ = run(capsys, name, "--help")
    usage, _, rest = out.partition("\n\n")
    description = rest.split("\n\n")[0]
    assert "usage:" in usage and len(description.split()) >= 8, out
    assert "(default:" in out


def test_help_shows_the_defaults_it_has_and_only_those(capsys):
    _, out, _ = run(capsys, "estimate", "--help")
    out = " ".join(out.split())
    assert "the estimator (default: crossfit)" in out and "(default: -1)" in out
    assert "(default: None)" not in out


def test_estimate_prints_the_fraction_of_var_y(capsys, npz):
    code, out, _ = run(
        capsys, "estimate", str(npz), "--group", "SO2", "--act-in", "vector",
        "--regressor", "linear",
    )  # fmt: skip
    assert code == 0
    var_y = float(out.split("Var(y) = E‖y − E y‖² = ")[1].split(")")[0])
    assert "η̂ / Var(y) = " in out and var_y == pytest.approx(np.load(npz)["y"].var(), rel=1e-4)


@pytest.fixture(scope="module")
def npy_pair(npz):
    data = np.load(npz)
    folder = npz.parent
    np.save(folder / "x.npy", data["x"])
    np.save(folder / "y.npy", data["y"])
    return folder / "x.npy", folder / "y.npy"


def estimate_json(capsys, *files, extra=()):
    code, out, err = run(
        capsys, "estimate", *map(str, files), "--group", "SO2", "--act-in", "vector",
        "--regressor", "linear", "--json", *extra,
    )  # fmt: skip
    assert code == 0, err
    return json.loads(out)


def test_estimate_reads_two_npy_files_like_the_npz(capsys, npz, npy_pair):
    from_npz = estimate_json(capsys, npz)
    from_npy = estimate_json(capsys, *npy_pair)
    assert from_npy == from_npz
    y = np.load(npz)["y"]
    assert from_npz["var_y"] == pytest.approx(float(y.var()), rel=1e-5)
    assert from_npz["eta_over_var_y"] == pytest.approx(from_npz["eta_hat"] / y.var(), rel=1e-5)


@pytest.mark.parametrize(("header", "y_cols"), [(False, None), (False, "2"), (True, "target")])
def test_estimate_reads_a_csv(capsys, npz, tmp_path, header, y_cols):
    data = np.load(npz)
    path = tmp_path / "points.csv"
    table = np.column_stack([data["x"], data["y"]])
    np.savetxt(path, table, delimiter=",", header="x0,x1,target" if header else "", comments="")
    extra = () if y_cols is None else ("--y-cols", y_cols)
    record = estimate_json(capsys, path, extra=extra)
    assert record["n"] == 2048
    assert record["eta_hat"] == pytest.approx(estimate_json(capsys, npz)["eta_hat"], rel=1e-3)


def test_csv_y_columns_may_be_several_and_are_taken_out_of_x(tmp_path):
    from symreg.experiments.estimate_cli import load_csv

    path = tmp_path / "d.csv"
    path.write_text("1,2,3,4\n5,6,7,8\n")
    x, y = load_csv(str(path), "0,-1")
    assert x.tolist() == [[2, 3], [6, 7]] and y.tolist() == [[1, 4], [5, 8]]


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        ("a,b\n1,2\n", ["--y-cols", "c"], "--y-cols 'c': no column 'c' among 2; header: a, b"),
        ("1,2\n3,4\n", ["--y-cols", "5"], "no column '5' among 2 (the file has no header)"),
        ("1,2\n3,4\n", ["--y-cols", "0,1"], "leaves no column for x"),
        ("1,2\n3,x\n", [], "'x' is not a number"),
        ("1,2\n3,4,5\n", [], "rows have different numbers of columns [2, 3]"),
        ("a,b\n", [], "has no rows of numbers"),
    ],
)  # fmt: skip
def test_csv_errors_name_what_is_wrong(capsys, tmp_path, content, argv, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, out, err = run(
        capsys, "estimate", str(path), "--group", "SO2", "--act-in", "vector", *argv
    )
    assert code == 2 and out == "" and message in err, err


def test_estimate_file_combinations_are_checked(capsys, npz, npy_pair, tmp_path):
    x, y = npy_pair
    short = tmp_path / "short.npy"
    np.save(short, np.zeros(7))
    cases = [
        ([x], "is one array; pass two .npy files"),
        ([x, npz], "expected one .npz or .csv file, or two .npy files"),
        ([x, y, y], "expected one .npz or .csv file, or two .npy files"),
        ([x, short], "x and y need the same leading size N, got shapes (2048, 2) and (7,)"),
    ]
    for files, message in cases:
        code, _, err = run(
            capsys, "estimate", *map(str, files), "--group", "SO2", "--act-in", "vector"
        )
        assert code == 2 and message in err, err


def test_tradeoff_without_the_tasks_extra_says_how_to_install_it():
    code = (
        "import sys\n"
        "sys.modules['tqdm'] = None  # as if the tasks extra were not installed\n"
        "from symreg import cli\n"
        "sys.exit(cli.main(['tradeoff', '--quick']))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert "needs 'tqdm', from the tasks extra: pip install 'symreg[tasks]'" in done.stderr
