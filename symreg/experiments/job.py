"""`symreg tradeoff`: the default suite of tasks, run one after the other with progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
from tqdm import tqdm

from symreg.experiments import results
from symreg.experiments.config import FULL, QUICK, TradeoffConfig
from symreg.experiments.digits import DigitsTask
from symreg.experiments.inertia_task import inertia_task
from symreg.experiments.synthetic import cloud2d_task, cloud3d_task, sets_task
from symreg.experiments.tasks import Task
from symreg.experiments.tradeoff import run_task

#: Every task of the job, in order: name → task factory.
TASKS: dict[str, Callable[[], Task]] = {
    "sets": sets_task,
    "cloud2d": cloud2d_task,
    "cloud3d": cloud3d_task,
    "digits": DigitsTask,
    "inertia": inertia_task,
}
#: The tasks run when none is named (`make run`). "inertia" (O(3) on 5 point masses, issue 12's
#: task) is run on request, `--task inertia`; its comparison with the relaxed layers is
#: `symreg.experiments.inertia` (`benchmarks/bench_relaxed.py`).
DEFAULT_TASKS: tuple[str, ...] = ("sets", "cloud2d", "cloud3d", "digits")
#: Steps of `run_task`, for the progress bar.
_STAGES = ("data", "calibrate", "validation grid", "train", "evaluate")


def parse_tasks(spec: Sequence[str] | None) -> list[str]:
    """Task names from repeated and/or comma-separated `--task` values (None: `DEFAULT_TASKS`).

    Raises:
      ValueError: an unknown task name (the message lists the known ones).

    Examples:
      >>> from symreg.experiments.job import parse_tasks
      >>> parse_tasks(["sets,digits", "sets"])
      ['sets', 'digits']
    """
    if not spec:
        return list(DEFAULT_TASKS)
    names = [n.strip() for item in spec for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in TASKS]
    if unknown or not names:
        raise ValueError(f"unknown task(s) {unknown or spec}; choose from {', '.join(TASKS)}")
    return list(dict.fromkeys(names))


def run(
    tasks: Sequence[str] | None = None,
    *,
    config: TradeoffConfig = QUICK,
    seed: int = 0,
    progress: bool = True,
) -> list[results.TaskResult]:
    """Runs the trade-off comparison on each task; returns one result per task.

    Args:
      tasks: task names (default: `DEFAULT_TASKS`).
      config: `QUICK`, `FULL` or a custom `TradeoffConfig`.
      seed: the seed of every PRNG key (task i uses fold_in(key(seed), i)).
      progress: show a tqdm progress bar on stderr.

    Returns:
      One `symreg.experiments.results.TaskResult` per task (JSON schema in
      `symreg.experiments.results`).
    """
    names = parse_tasks(tasks)
    bar = tqdm(total=len(names) * len(_STAGES), file=sys.stderr, disable=not progress, unit="step")
    out = []
    try:
        for i, name in enumerate(names):

            def tell(stage, name=name):
                bar.set_description(f"{name}: {stage}")
                if stage != _STAGES[0]:
                    bar.update(1)

            key = jax.random.fold_in(jax.random.key(seed), i)
            out.append(run_task(TASKS[name](), config, key, progress=tell))
            bar.update(1)
    finally:
        bar.close()
    return out


def main(
    tasks: Sequence[str] | None = None,
    *,
    quick: bool = False,
    seed: int = 0,
    out: str | Path = "symreg_out",
    progress: bool = True,
    config: TradeoffConfig | None = None,
) -> int:
    """Runs the job, prints the table and writes tradeoff.json and tradeoff.png to `out`.

    Args:
      tasks: task names (default: `DEFAULT_TASKS`).
      quick: use `QUICK` instead of `FULL`.
      seed: the PRNG seed.
      out: the output folder (created if needed).
      progress: show a progress bar on stderr.
      config: a custom configuration (overrides `quick`).

    Returns:
      The exit code, 0.
    """
    config = config or (QUICK if quick else FULL)
    if config is FULL and jax.default_backend() == "cpu":
        print(
            "symreg tradeoff: full mode is sized for a GPU; on 2 CPU cores it takes about 25 "
            "minutes (--quick: about 1)",
            file=sys.stderr,
        )
    res = run(tasks, config=config, seed=seed, progress=progress)
    print(f"symreg tradeoff ({config.mode} mode, seed {seed})")
    print(results.format_table(res))
    paths = results.save(res, config, out, seed=seed)
    print(f"wrote {paths['json']} and {paths['png']}")
    return 0
