"""The main job end to end with tiny sizes: the table, tradeoff.json (schema) and tradeoff.png."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json

import numpy as np
import pytest

from symreg.experiments import job, results
from symreg.experiments.config import FULL, QUICK, TradeoffConfig
from symreg.experiments.inertia_task import inertia_task
from symreg.experiments.results import ModelResult, TaskResult, Tuning
from symreg.experiments.tasks import Task
from symreg.experiments.tradeoff import run_weights

#: The quick job at a size that runs in seconds (the other settings are QUICK's).
TINY = dataclasses.replace(
    QUICK, mode="tiny", n_train=64, n_test=128, digits_n_train=96, hidden=(8,), steps=20,
    grid=(0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0), measure_samples=2, symmetrize_samples=4,
    estimator_steps=20, folds=3,
)  # fmt: skip
TASK_KEYS = {
    "task", "title", "group", "breaking", "eta_hat", "eta_se", "eta_method", "eta_seeds",
    "eta_true", "variance_hat", "ed0_train", "noise_var", "tuned_weight", "target",
    "grid_best_weight", "grid_best_test_error", "tuned_test_error", "tuned_over_grid_best",
    "tuned_over_grid_best_excess", "validation_weight", "validation_test_error",
    "validation_over_grid_best_excess", "excess_seeds", "accuracy",
    "dual_target", "dual_train_model_error", "dual_model_error", "dual_final_weight", "per_seed",
    "models", "n_train", "n_test", "test_offset", "seeds", "time_s",
}  # fmt: skip
MODEL_KEYS = {"name", "kind", "weight", "model_error", "test_error", "test_error_seeds"}
KINDS = (
    ["unregularized"] + ["grid"] * len(TINY.grid) + ["symmetrized", "tuned", "dual", "validation"]
)
#: cloud3d (O(3)) also has its exactly equivariant e3nn-jax model, after the sampled Qf.
KINDS_WITH_EXACT = KINDS[: len(TINY.grid) + 2] + ["exact"] + KINDS[len(TINY.grid) + 2 :]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, fast_compile):
    """Two tasks (O(3) with irreps outputs and a sampled Q; digits with classes and exact Q),
    one data set each; compilation dominates, so XLA optimizations are off."""
    out = tmp_path_factory.mktemp("tradeoff")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = job.main(["cloud3d", "digits"], seed=1, out=out, progress=False, config=TINY)
    return code, out, printed.getvalue()


@pytest.mark.slow
def test_job_writes_json_png_and_a_table(tiny_run):
    code, out, _ = tiny_run
    assert code == 0
    png = (out / "tradeoff.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    doc = json.loads((out / "tradeoff.json").read_text())
    assert doc["command"] == "tradeoff" and doc["mode"] == "tiny" and doc["seed"] == 1
    assert doc["config"]["grid"] == list(TINY.grid)
    assert [t["task"] for t in doc["tasks"]] == ["cloud3d", "digits"]
    assert [s["task"] for s in doc["summary"]] == ["cloud3d", "digits"]


@pytest.mark.slow
def test_json_schema_of_every_task(tiny_run):
    doc = json.loads((tiny_run[1] / "tradeoff.json").read_text())
    for task in doc["tasks"]:
        assert set(task) == TASK_KEYS, set(task) ^ TASK_KEYS
        assert task["seeds"] == TINY.seeds and len(task["eta_seeds"]) == TINY.seeds
        kinds = KINDS_WITH_EXACT if task["task"] == "cloud3d" else KINDS
        assert [m["kind"] for m in task["models"]] == kinds
        for m in task["models"]:
            assert MODEL_KEYS <= set(m)
            assert m["model_error"] >= 0 and np.isfinite(m["test_error"])
            assert len(m["test_error_seeds"]) == TINY.seeds
        grid = [m for m in task["models"] if m["kind"] == "grid"]
        assert [m["weight"] for m in grid] == list(TINY.grid)
        best = min(m["test_error"] for m in grid)
        assert task["grid_best_test_error"] == pytest.approx(best)
        assert task["tuned_over_grid_best"] == pytest.approx(task["tuned_test_error"] / best)
        assert task["tuned_weight"] > 0  # calibrated: not bound to the grid
        assert all(w in TINY.grid for w in task["per_seed"]["validation_weight"])
        assert set(task["excess_seeds"]) == {"grid_best", *kinds} - {"grid"}
        sym = next(m for m in task["models"] if m["kind"] == "symmetrized")
        assert sym["weight"] is None
    cloud, digits = doc["tasks"]
    sampled, exact = (
        next(m for m in cloud["models"] if m["kind"] == k) for k in KINDS_WITH_EXACT[-5:-3]
    )
    assert sampled["name"] == "sampled Qf (4 el.)" and sampled["model_error"] > 1e-6
    assert exact["name"] == "exact (e3nn)" and exact["weight"] is None
    assert exact["model_error"] < 1e-6 * cloud["models"][0]["model_error"]  # exact, not sampled
    assert cloud["eta_true"] > 0 and cloud["test_offset"] == pytest.approx(4 * 0.5**2)
    assert digits["eta_true"] is None and digits["test_offset"] == 0.0
    assert all("accuracy" in m for m in digits["models"])
    assert cloud["accuracy"] is None and set(digits["accuracy"]) >= {"tuned", "grid_best"}
    assert digits["n_test"] == 4 * (1797 - TINY.digits_n_train)
    table = tiny_run[2]  # the printed table names every model of the JSON
    for task in doc["tasks"]:
        assert f"== {task['task']}: " in table
        assert all(m["name"] in table for m in task["models"])


def test_table_lists_every_model_and_the_summary():
    result = _fake_result()
    table = results.format_table([result])
    for m in result.models:
        assert m.name in table
    assert "η̂ = 0.1 ± 0.02" in table
    assert "tuned β̂ = 0.5 vs grid best β = 1" in table
    assert table.splitlines()[-1].split() == ["toy", "1.04", "1", "1.040", "1.000", "yes"]


def test_summary_judges_excess_risk_not_test_error():
    """Pass/fail reads the excess ratio: a test-error ratio of 1.02 diluted by σ² = 0.9 fails
    when the excess ratio is 1.2, and a wrong (test-error) reading would pass it."""
    result = _fake_result(tuned_test=1.02, offset=0.9)
    assert result.tuned_over_grid_best == pytest.approx(1.02)
    assert result.tuned_over_grid_best_excess == pytest.approx(1.2)
    assert results.summary([result])[0]["within_tolerance"] is False
    assert "NO" in results.format_table([result]).splitlines()[-1]


def test_summary_judges_classification_by_accuracy():
    result = _fake_result(accuracy={"tuned": 0.915, "grid": 0.92, "validation": 0.92})
    assert results.summary([result])[0]["within_tolerance"] is True  # 0.5 points below
    worse = _fake_result(accuracy={"tuned": 0.91, "grid": 0.92, "validation": 0.92})
    assert results.summary([worse])[0]["within_tolerance"] is False


def _fake_result(tuned_test=1.04, offset=0.0, accuracy=None) -> TaskResult:
    """One data set: β = 1 is the grid, the validation pick is the grid's model."""
    acc = accuracy or {}

    def row(name, kind, weight, ed, test):
        return ModelResult(name, kind, weight, ed, test, (test,), acc.get(kind))

    models = (
        row("unregularized", "unregularized", 0.0, 0.5, 1.3),
        row("β=1", "grid", 1.0, 0.05, 1.0),
        row("symmetrized Qf", "symmetrized", None, 0.0, 1.2),
        row("tuned", "tuned", 0.5, 0.1, tuned_test),
        row("dual ascent", "dual", 0.6, 0.08, 1.1),
        row("validation grid", "validation", 1.0, 0.05, 1.0),
    )
    one = np.ones(1)
    tuning = Tuning(0.5 * one, 0.03 * one, 0.2 * one, one, one, 0.6 * one, 0.08 * one, one)
    return TaskResult(
        task="toy", title="a toy", group="C4", breaking="", eta_seeds=((0.1, 0.02),),
        eta_method="crossfit", eta_true=None, tuning=tuning, models=models, n_train=10,
        n_test=10, test_offset=offset, time_s=0.0,
    )  # fmt: skip


def test_result_json_form_has_the_schema_keys():
    doc = results.document([_fake_result()], TINY, seed=0)
    task = doc["tasks"][0]
    assert set(task) == TASK_KEYS, set(task) ^ TASK_KEYS
    assert [m["kind"] for m in task["models"]][:2] == ["unregularized", "grid"]
    assert task["tuned_over_grid_best"] == pytest.approx(1.04) and task["seeds"] == 1


@pytest.mark.parametrize(
    "task", [factory() for factory in job.TASKS.values()], ids=lambda t: t.name
)
def test_every_task_implements_the_task_protocol(task):
    assert isinstance(task, Task)
    known = task.known_target()
    assert (known is None) == (task.num_classes > 0)  # only real data has no known f*


@pytest.mark.slow
def test_the_job_runs_the_inertia_task_on_request(tmp_path, fast_compile):
    """`symreg tradeoff --task inertia`: the O(3) inertia task through the whole job."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = job.main(["inertia"], seed=0, out=tmp_path, progress=False, config=TINY)
    assert code == 0 and "== inertia: " in printed.getvalue()
    (task,) = json.loads((tmp_path / "tradeoff.json").read_text())["tasks"]
    assert task["group"] == "O3()" and task["test_offset"] == pytest.approx(9 * 0.3**2)
    # η₂ = 0.516 (8192 inputs); the job measures f*'s ED₂ on TINY's 128 test inputs, 2 elements
    # each, where one input's ED₂ has s.d. 0.66: s.e. <= 0.66 / √128 < 0.06; bound 4 s.e.
    assert abs(task["eta_true"] - 0.516) <= 4 * 0.06
    assert [m["kind"] for m in task["models"]] == KINDS and task["tuned_weight"] > 0


def test_the_protocol_rejects_what_is_not_a_task():
    assert not isinstance(inertia_task().symmetry, Task)


def test_run_layout_holds_every_weight_once():
    """Runs [0, grid..., calibrated, dual, validation pick]: only the dual run has a target."""
    from types import SimpleNamespace

    ctx = SimpleNamespace(config=TINY)
    cal = SimpleNamespace(weight=0.7, target=0.05)
    weights, targets = run_weights(ctx, cal, 3.0)
    g = len(TINY.grid)
    np.testing.assert_allclose(weights, [0.0, *TINY.grid, 0.7, 0.7, 3.0])
    assert np.isnan(np.delete(targets, g + 2)).all() and targets[g + 2] == 0.05
    # the calibrated weight is used as it is, not capped at the grid's largest weight
    big = SimpleNamespace(weight=10 * TINY.grid[-1], target=0.01)
    assert run_weights(ctx, big, 3.0)[0][g + 1] == 10 * TINY.grid[-1]


def test_parse_tasks():
    assert job.parse_tasks(None) == ["sets", "cloud2d", "cloud3d", "digits"]  # not inertia
    assert job.parse_tasks(["inertia"]) == ["inertia"] and "inertia" in job.TASKS
    assert job.parse_tasks(["digits", "sets,cloud2d"]) == ["digits", "sets", "cloud2d"]
    with pytest.raises(ValueError, match="unknown task.*'nope'.*choose from sets"):
        job.parse_tasks(["sets,nope"])


def test_configs_are_validated():
    with pytest.raises(ValueError, match=">= 7 increasing"):
        TradeoffConfig(mode="x", n_train=8, n_test=8, digits_n_train=8, seeds=1, hidden=(4,),
                       steps=1, learning_rate=0.1, penalty_samples=1, grid=(1.0, 2.0))  # fmt: skip
    assert len(QUICK.grid) >= 7 and QUICK.seeds == 1 and FULL.seeds > 1
