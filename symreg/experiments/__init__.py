"""The main job and its tasks (top layer: may import every other layer).

`symreg tradeoff` (`symreg.experiments.job`) runs, for each task, the data-error estimate, a
grid of penalty weights, the auto-tuned weight, dual ascent and the symmetrized model
(`symreg.experiments.tradeoff.run_task`), and writes the table, JSON and PNG
(`symreg.experiments.results`, typed). Tasks implement `symreg.experiments.tasks.Task`:
`symreg.experiments.synthetic` (sets, planar and 3-D point clouds, the latter two with an exactly
equivariant model from `symreg.experiments.exact`) and `symreg.experiments.digits` (C4 on
scikit-learn's digits).
"""

from symreg.experiments.config import FULL, QUICK, TradeoffConfig
from symreg.experiments.job import TASKS, parse_tasks

__all__ = ["FULL", "QUICK", "TASKS", "TradeoffConfig", "parse_tasks"]
