"""scikit-learn's 8x8 digits and a one-hidden-layer MLP, shared by the digits examples.

Not an example itself: `anneal_digits.py`, `train_digits.py` and `checkpoint_resume.py` import it
(their folder is on the import path when they run), and so does `benchmarks/metropolis.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from sklearn.datasets import load_digits

Data = tuple[jax.Array, jax.Array]


def digits(shape: Sequence[int] = (64,)) -> Data:
    """The 1,797 digits: float32 images of ``shape`` with pixels in [0, 1], and int32 labels."""
    dataset = load_digits()
    images = jnp.asarray(dataset.data.reshape(-1, *shape) / 16.0, dtype=jnp.float32)
    return images, jnp.asarray(dataset.target, dtype=jnp.int32)


def split_digits(
    key: jax.Array, test_fraction: float = 0.2, shape: Sequence[int] = (64,)
) -> tuple[Data, Data]:
    """The digits in a random order: the first ``test_fraction`` for testing, the rest training.

    With the default fraction: 359 digits for testing and 1,438 for training.
    """
    images, labels = digits(shape)
    order = jax.random.permutation(key, len(labels))
    num_test = round(test_fraction * len(labels))
    test, train = order[:num_test], order[num_test:]
    return (images[train], labels[train]), (images[test], labels[test])


class MLP(nnx.Module):
    """64 pixels, one hidden layer (ReLU unless ``activation`` says otherwise), 10 logits."""

    def __init__(
        self, hidden: int = 32, *, activation: Callable = nnx.relu, rngs: nnx.Rngs
    ) -> None:
        self.hidden = nnx.Linear(64, hidden, rngs=rngs)
        self.logits = nnx.Linear(hidden, 10, rngs=rngs)
        self.activation = activation

    def __call__(self, images: jax.Array) -> jax.Array:
        return self.logits(self.activation(self.hidden(images)))
