"""The configurations of the main job: `QUICK` (CPU, under 2 minutes) and `FULL` (a GPU)."""

from __future__ import annotations

import dataclasses

import numpy as np

import symreg
from symreg.experiments.tasks import Sizes


def _grid(low: float, high: float, num: int) -> tuple[float, ...]:
    return tuple(float(w) for w in np.geomspace(low, high, num))


@dataclasses.dataclass(frozen=True)
class TradeoffConfig:
    """Sizes and settings of `symreg tradeoff`.

    Attributes:
      mode: "quick" or "full" (for the report).
      n_train: training examples N per data set (synthetic tasks).
      n_test: fresh test inputs M per data set (synthetic tasks).
      digits_n_train: training images of the digits task (the rest is the test set).
      seeds: data sets D per task (each with its own estimate, tuned weight and runs).
      hidden: hidden widths of the MLPs.
      steps: full-batch Adam steps per run.
      learning_rate: the peak learning rate (cosine decay).
      penalty_samples: group samples per example in the training penalty.
      penalty_batch_size: B', examples per step in the training penalty (one in each block
        of N // B', at an offset drawn each step: `SymmetryPenalty(penalty_batch_size=...)`),
        or None for all N (QUICK and FULL). An unbiased estimate of the same ED_2 at a
        fraction of the cost of a second pass over the batch, but a noisier gradient:
        benchmarks/RESULTS.md ("Cost") measures what 64 and 128 of N = 512 cost in excess
        risk.
      grid: the penalty weights β of the grid (>= 7, increasing); the calibrated weight is
        not bound to it.
      measure_samples: group samples per test example when measuring model errors.
      symmetrize_samples: elements of the sampled Reynolds operator (continuous groups).
      estimator_steps: Adam steps of the estimator's MLP fits.
      folds: folds K of `symreg.flax.calibrate` (and of the `symreg estimate` estimator).
      dual_step: η_β of the log-space dual ascent.
      warmup: the fraction of the steps over which the applied weight ramps up from 0
        (`make_train_step(warmup_steps=...)`).

    Raises:
      ValueError: a grid of fewer than 7 increasing weights.

    Examples:
      >>> import dataclasses
      >>> from symreg.experiments import QUICK
      >>> small = dataclasses.replace(QUICK, n_train=128, steps=100)
      >>> small.sizes().n_train, len(small.grid)
      (128, 7)
      >>> from symreg.experiments.synthetic import sets_task
      >>> QUICK.penalty(sets_task().symmetry).penalty_batch_size is None   # all N examples
      True
      >>> cheap = dataclasses.replace(QUICK, penalty_batch_size=128)
      >>> cheap.penalty(sets_task().symmetry).penalty_batch_size
      128
    """

    mode: str
    n_train: int
    n_test: int
    digits_n_train: int
    seeds: int
    hidden: tuple[int, ...]
    steps: int
    learning_rate: float
    penalty_samples: int
    grid: tuple[float, ...]
    measure_samples: int = 16
    symmetrize_samples: int = 32
    estimator_steps: int = 400
    folds: int = 3
    dual_step: float = 0.05
    warmup: float = 0.3
    penalty_batch_size: int | None = None

    def __post_init__(self):
        if len(self.grid) < 7 or any(
            b <= a for a, b in zip(self.grid, self.grid[1:], strict=False)
        ):
            raise ValueError(f"grid must hold >= 7 increasing weights, got {self.grid}")

    def penalty(self, symmetry: symreg.Symmetry) -> symreg.SymmetryPenalty:
        """The training penalty of every regularized run: `penalty_samples` elements for each
        of `penalty_batch_size` examples."""
        return symreg.SymmetryPenalty(
            symmetry, num_samples=self.penalty_samples, penalty_batch_size=self.penalty_batch_size
        )

    def sizes(self, n_train: int | None = None) -> Sizes:
        """The `Sizes` a task is run with (`n_train` overrides N, e.g. for digits)."""
        return Sizes(
            n_train=self.n_train if n_train is None else n_train,
            n_test=self.n_test,
            hidden=self.hidden,
            estimator_steps=self.estimator_steps,
            folds=self.folds,
        )


#: CPU, under 2 minutes for the four tasks on 2 cores: one data set per task, small MLPs.
QUICK = TradeoffConfig(
    mode="quick",
    n_train=512,
    n_test=2048,
    digits_n_train=720,
    seeds=1,
    hidden=(32, 32),
    steps=300,
    learning_rate=1e-2,
    penalty_samples=1,
    grid=_grid(0.01, 10.0, 7),
    measure_samples=8,
    symmetrize_samples=16,
    estimator_steps=600,
    folds=4,
)

#: A GPU: 4× the data, 4 data sets per task, wider MLPs, a finer grid, longer training.
FULL = TradeoffConfig(
    mode="full",
    n_train=2048,
    n_test=8192,
    digits_n_train=1400,
    seeds=4,
    hidden=(64, 64),
    steps=1000,
    learning_rate=5e-3,
    penalty_samples=2,
    grid=_grid(0.01, 31.6, 13),
    measure_samples=16,
    symmetrize_samples=32,
    estimator_steps=1000,
    folds=4,
    dual_step=0.03,
)
