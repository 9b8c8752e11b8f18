"""The tasks of the main job: a data split per seed, a symmetry, a model and an estimator.

Every task implements the `Task` protocol; its model, the `Model` protocol. A task draws a `Split` (training data, test inputs and what to compare predictions with) from a
key. Synthetic tasks know f*: y = f_sym(x) + ε·f_break(x) + σ·ξ with f_sym exactly equivariant
and the knob ε scaling the symmetry-breaking term f_break, so η₂ = ε²·ED_2(f_break) is also
computed by the oracle. Their test error is ‖f − f*‖² on fresh inputs plus σ², which is the
test MSE on fresh noisy targets without the Monte Carlo noise of sampling them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

import symreg
from symreg.estimators import MLP, MLPRegressor, estimate_data_error


@dataclasses.dataclass(frozen=True)
class Split:
    """One data set of a task: training data and test data.

    Attributes:
      x_train: training inputs, leading axis N.
      y_train: training targets, leading axis N.
      x_test: test inputs, leading axis M.
      t_test: what test predictions are compared with, leading axis M (f*(x) for synthetic
        tasks, held-out targets for real data).
      test_offset: added to the mean squared error on the test set (σ² for synthetic tasks).
    """

    x_train: Any
    y_train: jax.Array
    x_test: Any
    t_test: jax.Array
    test_offset: float = 0.0

    def map(self, fn: Callable[[jax.Array], jax.Array]) -> Split:
        """`fn` applied to every array of the split."""
        return jax.tree.map(fn, self)


jax.tree_util.register_dataclass(
    Split, data_fields=["x_train", "y_train", "x_test", "t_test", "test_offset"], meta_fields=[]
)


@runtime_checkable
class Model(Protocol):
    """A model of the main job: a hashable `apply(params, x)` that draws its own parameters.

    Pass the instance itself as `apply_fn` (equal models share compiled programs).
    `symreg.estimators.MLP` is one.

    Examples:
      >>> from symreg.estimators import MLP
      >>> from symreg.experiments.tasks import Model
      >>> isinstance(MLP(hidden=(4,)), Model)
      True
    """

    def init(self, key: jax.Array, x: Any) -> Any:
        """Parameters for inputs like the batch `x` (leading axis B)."""
        ...

    def __call__(self, params: Any, x: Any) -> jax.Array:
        """f(x) on a batch: inputs with leading axis B → outputs (B, ...)."""
        ...


@runtime_checkable
class Task(Protocol):
    """What the main job needs of a task (docs/architecture.md, Layers: layer 8).

    Every task of `symreg tradeoff` (sets, cloud2d, cloud3d: `SyntheticTask`; digits:
    `symreg.experiments.digits.DigitsTask`) and the inertia task implements it. The job draws
    `splits`, estimates η₂ with `estimator_options`, trains `model` and scores it against
    `known_target` where f* is known.

    Attributes:
      name: the short name used on the command line.
      title: a one-line description.
      symmetry: the `symreg.Symmetry` of the task.
      breaking: how f* breaks the symmetry (for the report).
      num_classes: the number of classes of a classification task (0: regression).

    Examples:
      >>> from symreg.experiments.digits import DigitsTask
      >>> from symreg.experiments.synthetic import sets_task
      >>> from symreg.experiments.tasks import Task
      >>> isinstance(sets_task(), Task), isinstance(DigitsTask(), Task)
      (True, True)
    """

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def symmetry(self) -> symreg.Symmetry: ...

    @property
    def breaking(self) -> str: ...

    @property
    def num_classes(self) -> int: ...

    def splits(self, keys: jax.Array, sizes: Sizes) -> Split:
        """One `Split` per key, stacked on a leading axis D."""
        ...

    def model(self, sizes: Sizes) -> Model:
        """The model the job trains and regularizes."""
        ...

    def estimator_options(self, sizes: Sizes) -> dict[str, Any]:
        """Options of `symreg.estimators.estimate_data_error` for the task."""
        ...

    def oracle_eta(self, x: Any, key: jax.Array, num_samples: int) -> float | None:
        """η₂ = ED_2(f*) on the inputs x when f* is known, else None."""
        ...

    def known_target(self) -> tuple[Callable[[Any, Any], jax.Array], float] | None:
        """f* as (`apply_fn(params, x)`, params) when it is known (synthetic tasks), else None."""
        ...

    def exact_model(self, sizes: Sizes) -> Model | None:
        """An exactly equivariant model for a continuous group (trained next to the sampled
        Reynolds average), or None."""
        ...


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes a task is run with (from the job's configuration).

    Attributes:
      n_train: training examples N.
      n_test: test examples M.
      hidden: hidden widths of the MLP.
      estimator_steps: Adam steps of the estimator's `MLPRegressor` fits.
      folds: folds K of the cross-fitted estimator.
    """

    n_train: int
    n_test: int
    hidden: tuple[int, ...]
    estimator_steps: int
    folds: int = 3


@dataclasses.dataclass(frozen=True)
class SyntheticTask:
    """A synthetic regression task y = f_sym(x) + ε·f_break(x) + σ·ξ, ξ ~ N(0, I).

    Attributes:
      name: the short name used on the command line.
      title: a one-line description.
      symmetry: the `symreg.Symmetry` (f_sym is exactly equivariant under it).
      sample_inputs: `sample_inputs(key, n)` → n inputs from a λ-invariant law.
      f_sym: the equivariant part of f*, on a batch.
      f_break: the symmetry-breaking part of f*, on a batch.
      eps: the knob ε.
      noise: σ.
      out_shape: the shape of one output.
      activation: the MLP's activation.
      breaking: how ε·f_break breaks the symmetry (for the report).
      exact: builds the exactly equivariant model, `exact(hidden=..., activation=...)`, or
        None (`symreg.experiments.exact`).
    """

    name: str
    title: str
    symmetry: symreg.Symmetry
    sample_inputs: Callable[[jax.Array, int], Any]
    f_sym: Callable[[Any], jax.Array]
    f_break: Callable[[Any], jax.Array]
    eps: float
    noise: float
    out_shape: tuple[int, ...] = ()
    activation: str = "silu"
    breaking: str = ""
    exact: Callable[..., Model] | None = None

    def target(self, x: Any) -> jax.Array:
        """f*(x) = f_sym(x) + ε·f_break(x) on a batch."""
        return self.target_model(jnp.float32(self.eps), x)

    @property
    def target_model(self) -> TargetModel:
        """f* as an `apply_fn(ε, x)` whose parameter is ε (one compilation for every ε)."""
        return TargetModel(self.f_sym, self.f_break)

    @property
    def num_classes(self) -> int:
        """0: a regression task."""
        return 0

    def exact_model(self, sizes: Sizes) -> Model | None:
        """`exact` with the MLP's hidden widths and activation, or None."""
        if self.exact is None:
            return None
        return self.exact(hidden=sizes.hidden, activation=self.activation)

    def known_target(self) -> tuple[TargetModel, float]:
        """f* = `target_model` with its parameter ε."""
        return self.target_model, self.eps

    def with_eps(self, eps: float) -> SyntheticTask:
        """The same task with another symmetry-breaking level ε."""
        return dataclasses.replace(self, eps=float(eps))

    def split(self, key: jax.Array, sizes: Sizes) -> Split:
        """Draws N training examples (with noise) and M test inputs with f*(x_test)."""
        return self.splits(key[None], sizes).map(lambda a: a[0])

    def splits(self, keys: jax.Array, sizes: Sizes) -> Split:
        """One split per key, stacked on a leading axis D (one compiled, vmapped draw; ε is an
        array, so tasks that differ only in ε share it)."""
        return _vmapped_split(
            dataclasses.replace(self, eps=0.0), sizes, keys, jnp.float32(self.eps)
        )

    def _split(self, key: jax.Array, sizes: Sizes, eps: jax.Array) -> Split:
        k_train, k_noise, k_test = jax.random.split(key, 3)
        x = self.sample_inputs(k_train, sizes.n_train)
        f = self.target_model(eps, x)
        y = f + self.noise * jax.random.normal(k_noise, f.shape, f.dtype)
        x_test = self.sample_inputs(k_test, sizes.n_test)
        offset = jnp.float32(self.noise**2 * math.prod(self.out_shape))
        return Split(x, y, x_test, self.target_model(eps, x_test), offset)

    def model(self, sizes: Sizes) -> MLP:
        """The (non-equivariant) MLP trained on the task."""
        return MLP(hidden=sizes.hidden, out_shape=self.out_shape, activation=self.activation)

    def estimator_options(self, sizes: Sizes) -> dict[str, Any]:
        """Options of `symreg.estimators.estimate_data_error` for this task."""
        reg = MLPRegressor(
            hidden=(32, 32),
            steps=sizes.estimator_steps,
            learning_rate=3e-3,
            activation=self.activation,
        )
        return {"method": "crossfit", "regressor": reg, "folds": sizes.folds}

    def oracle_eta(self, x: Any, key: jax.Array, num_samples: int) -> float:
        """η₂ = ED_2(f*) on the inputs x, by the oracle estimator (known f*)."""
        est = estimate_data_error(
            x, self.target(x), symmetry=self.symmetry, key=key, method="oracle",
            target_fn=self.target, num_samples=num_samples,
        )  # fmt: skip
        return float(est.value)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _vmapped_split(task: SyntheticTask, sizes: Sizes, keys: jax.Array, eps: jax.Array) -> Split:
    return jax.vmap(lambda k: task._split(k, sizes, eps))(keys)


@dataclasses.dataclass(frozen=True)
class TargetModel:
    """f*(x) = f_sym(x) + ε·f_break(x) as an `apply_fn(ε, x)` (hashable, ε is data).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.experiments.tasks import TargetModel
      >>> f = TargetModel(lambda x: x[:, 0], lambda x: x[:, 1])
      >>> f(0.5, jnp.array([[1.0, 2.0]])).tolist()
      [2.0]
    """

    f_sym: Callable[[Any], jax.Array]
    f_break: Callable[[Any], jax.Array]

    def __call__(self, eps: Any, x: Any) -> jax.Array:
        return self.f_sym(x) + eps * self.f_break(x)


@dataclasses.dataclass(frozen=True)
class NormalInputs:
    """Inputs with i.i.d. N(0, 1) entries of one example's `shape` (invariant under orthogonal
    actions and permutations): `NormalInputs(shape)(key, n)` has shape (n, *shape)."""

    shape: tuple[int, ...]

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.normal(key, (n, *self.shape), jnp.float32)
