"""The real-data task: C4 on the 8×8 handwritten digits that ship with scikit-learn.

Design (and why). A model's and the data's equivariance errors compare only under one input
law, and ED_2 = 2‖f − Qf‖² needs that law to be invariant; upright digits are not (a rotated
digit lies off their support, where f* is undefined). So each image is shown at a uniformly
random orientation r ∈ {0, 1, 2, 3} quarter turns (`jnp.rot90`, exactly the action
`Image()` of `Cyclic(4)`), which makes the input law C4-invariant, and the target is the
one-hot label *as the digit appears*: every digit keeps its class when turned, except that a
6 turned by a half turn appears as a 9 and vice versa. A 6–9 glyph has an orientation o
(o = r for a 6, r + 2 for a 9, mod 4, since a 9 is a turned 6) and is labelled 6 for
o ∈ {0, 1} and 9 for o ∈ {2, 3}, a rule consistent with appearance (a quarter-turned 6 and a
three-quarter-turned 9 look alike and get the same label). So f*(x) = P(label | x) is
invariant on 8 of the 10 classes and not on 6 and 9: real data, partly symmetric.

The model is an MLP from the 64 pixels to 10 outputs trained with the squared error on the
one-hot labels (the Brier score; f* is the vector of class probabilities), invariance is
`Symmetry(Cyclic(4), Image())` with `Trivial()` outputs, and the test set is every held-out
image at all four orientations. The test error is the Brier score on it (labels are noisy,
so there is no offset), and the accuracy is reported too.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import symreg
from symreg.actions import Image
from symreg.estimators import MLP, MLPRegressor
from symreg.experiments.tasks import Sizes, Split
from symreg.groups import Cyclic

NUM_CLASSES = 10
#: Images kept out of training whatever N is (the test set is all of the rest).
MIN_TEST_IMAGES = 297


@functools.cache
def load_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as float32 images in [0, 1], shape (1797, 8, 8), and their labels.

    Raises:
      ImportError: scikit-learn is not installed (it is in the `tasks` and `dev` extras).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the digits task needs scikit-learn (bundled data, no download): "
            "pip install 'symreg[tasks]'"
        ) from err
    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int32)


def appearance_labels(labels: jax.Array, turns: jax.Array) -> jax.Array:
    """The label of each digit as it appears after `turns` quarter turns (6 ↔ 9 rule above).

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.experiments.digits import appearance_labels
      >>> appearance_labels(jnp.array([6, 6, 9, 9, 3]), jnp.array([0, 2, 0, 3, 2])).tolist()
      [6, 9, 9, 6, 3]
    """
    orientation = jnp.where(labels == 9, turns + 2, turns) % 4
    glyph = (labels == 6) | (labels == 9)
    return jnp.where(glyph, jnp.where(orientation < 2, 6, 9), labels)


def _rotate(images: jax.Array, turns: jax.Array) -> jax.Array:
    return jax.vmap(
        lambda img, k: jax.lax.switch(k, [lambda a, i=i: jnp.rot90(a, i) for i in range(4)], img)
    )(images, turns)


@dataclasses.dataclass(frozen=True)
class DigitsTask:
    """C4 (quarter turns) on the scikit-learn 8×8 digits, labels as they appear (see module).

    Examples:
      >>> from symreg.experiments.digits import DigitsTask
      >>> DigitsTask().symmetry.transforms
      Cyclic(n=4)
    """

    name: str = "digits"
    title: str = "C4 on 8x8 digits, random quarter turns, 6<->9 as they appear"
    symmetry: symreg.Symmetry = symreg.Symmetry(Cyclic(4), Image())
    breaking: str = "a half-turned 6 reads as a 9"
    num_classes: int = NUM_CLASSES

    def split(self, key: jax.Array, sizes: Sizes) -> Split:
        """N training images at random orientations; every other image at all 4 for testing."""
        images, labels = load_images()
        n = min(sizes.n_train, len(labels) - MIN_TEST_IMAGES)
        k_perm, k_turn = jax.random.split(key)
        order = np.asarray(jax.random.permutation(k_perm, len(labels)))
        train, test = order[:n], order[n:]
        turns = jax.random.randint(k_turn, (n,), 0, 4)
        x = _rotate(jnp.asarray(images[train]), turns)
        y = jax.nn.one_hot(appearance_labels(jnp.asarray(labels[train]), turns), NUM_CLASSES)
        test_turns = jnp.repeat(jnp.arange(4), len(test))
        test_images = jnp.tile(jnp.asarray(images[test]), (4, 1, 1))
        test_labels = jnp.tile(jnp.asarray(labels[test]), 4)
        x_test = _rotate(test_images, test_turns)
        t_test = jax.nn.one_hot(appearance_labels(test_labels, test_turns), NUM_CLASSES)
        return Split(x, y, x_test, t_test, 0.0)

    def splits(self, keys: jax.Array, sizes: Sizes) -> Split:
        """One `split` per key, stacked on a leading axis D."""
        parts = [self.split(k, sizes) for k in keys]
        return jax.tree.map(lambda *a: jnp.stack(a), *parts)

    def model(self, sizes: Sizes) -> MLP:
        """An MLP from the 64 pixels to 10 outputs."""
        return MLP(hidden=sizes.hidden, out_shape=(NUM_CLASSES,), activation="silu")

    def estimator_options(self, sizes: Sizes) -> dict[str, Any]:
        """Cross-fitted estimate with MLP fits (3 folds)."""
        reg = MLPRegressor(
            hidden=(64,), steps=sizes.estimator_steps, learning_rate=3e-3, activation="silu"
        )
        return {"method": "crossfit", "regressor": reg, "folds": sizes.folds}

    def oracle_eta(self, x: Any, key: jax.Array, num_samples: int) -> None:
        """Real data: f* is unknown, so there is no oracle η."""
        return None

    def known_target(self) -> None:
        """Real data: f* is unknown."""
        return None

    def exact_model(self, sizes: Sizes) -> None:
        """A finite group: the symmetrized model is already exact."""
        return None
