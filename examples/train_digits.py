"""Train a Flax NNX CNN on scikit-learn's 8x8 digits with CoolMomentum, Adam and SGD with momentum.

Every optimizer gets the same model initialisation, the same batches and the same number of steps.
The script prints a table (final training loss, test accuracy, wall time) and writes a plot of the
training loss and the rescaled temperature against the step, like the CoolMomentum paper's figure.

    python examples/train_digits.py            # 60 epochs, under a minute on a laptop CPU
    python examples/train_digits.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from flax import nnx
from sklearn.datasets import load_digits
from tqdm import tqdm

import annealax

matplotlib.use("Agg")
import matplotlib.pyplot as plt


class CNN(nnx.Module):
    """Two 3x3 convolutions, 2x2 average pooling and two dense layers, for 8x8x1 images."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 16, kernel_size=(3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(16, 32, kernel_size=(3, 3), rngs=rngs)
        self.hidden = nnx.Linear(32 * 4 * 4, 64, rngs=rngs)
        self.logits = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, images: jax.Array) -> jax.Array:
        x = nnx.relu(self.conv1(images))
        x = nnx.avg_pool(nnx.relu(self.conv2(x)), window_shape=(2, 2), strides=(2, 2))
        x = nnx.relu(self.hidden(x.reshape(x.shape[0], -1)))
        return self.logits(x)


def load_data(key: jax.Array, test_fraction: float = 0.2):
    """The 1797 digits as float32 images in [0, 1], split at random into train and test sets."""
    digits = load_digits()
    images = jnp.asarray(digits.data.reshape(-1, 8, 8, 1) / 16.0, dtype=jnp.float32)
    labels = jnp.asarray(digits.target, dtype=jnp.int32)
    order = jax.random.permutation(key, len(labels))
    num_test = round(test_fraction * len(labels))
    test, train = order[:num_test], order[num_test:]
    return (images[train], labels[train]), (images[test], labels[test])


def optimizers(num_steps: int) -> dict[str, optax.GradientTransformation]:
    """The contenders; each reports the rescaled temperature of its updates."""
    return {
        "coolmomentum": annealax.coolmomentum(
            learning_rate=0.01, momentum=0.99, total_steps=num_steps
        ),
        "sgd+momentum": optax.chain(
            optax.sgd(learning_rate=0.05, momentum=0.9), annealax.track_temperature()
        ),
        "adam": optax.chain(optax.adam(learning_rate=1e-3), annealax.track_temperature()),
    }


def make_train_step(graphdef, tx, train) -> Callable:
    """A jitted step on the minibatch ``batch_indices``; returns the loss and the temperature.

    A Python loop over this step is used rather than a `lax.scan` over an epoch: on XLA's CPU
    backend, convolutions inside a compiled loop run about 20 times slower.
    """
    images, labels = train

    def loss_fn(params, batch_images, batch_labels):
        logits = nnx.merge(graphdef, params)(batch_images)
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch_labels).mean()

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def train_step(params, opt_state, batch_indices):
        loss, grads = jax.value_and_grad(loss_fn)(
            params, images[batch_indices], labels[batch_indices]
        )
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, loss, optax.tree.get(opt_state, "temperature")

    return train_step


@functools.partial(jax.jit, static_argnums=(1, 2))
def epoch_batches(key: jax.Array, num_examples: int, batch_size: int) -> jax.Array:
    """A random permutation of the examples cut into full minibatches of indices."""
    steps = num_examples // batch_size
    return jax.random.permutation(key, num_examples)[: steps * batch_size].reshape(steps, -1)


def evaluate(graphdef, params, data) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on a whole data set."""
    images, labels = data
    logits = nnx.merge(graphdef, params)(images)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
    return float(loss), float(accuracy)


def train(name, tx, graphdef, params, train_data, test_data, *, epochs, batch_size, key):
    """Train one optimizer; returns its per-step history and final figures.

    The wall time counts the training steps, not the compilation.
    """
    params = jax.tree.map(jnp.copy, params)  # the step donates its inputs
    opt_state = tx.init(params)
    num_examples = len(train_data[1])
    steps_per_epoch = num_examples // batch_size
    first_batch = epoch_batches(key, num_examples, batch_size)[0]
    train_step = make_train_step(graphdef, tx, train_data)
    train_step = train_step.lower(params, opt_state, first_batch).compile()
    losses, temperatures = [], []
    batches = np.asarray(
        jax.vmap(lambda k: epoch_batches(k, num_examples, batch_size))(
            jax.random.split(key, epochs)
        )
    )
    start = time.perf_counter()
    with tqdm(total=epochs * steps_per_epoch, desc=f"{name:>13}", unit="step") as bar:
        for epoch in batches:
            epoch_losses, epoch_temperatures = [], []
            for batch_indices in epoch:
                params, opt_state, loss, temperature = train_step(params, opt_state, batch_indices)
                epoch_losses.append(loss)
                epoch_temperatures.append(temperature)
            losses.append(np.asarray(jax.device_get(epoch_losses)))
            temperatures.append(np.asarray(jax.device_get(epoch_temperatures)))
            bar.update(steps_per_epoch)
            bar.set_postfix(loss=f"{float(losses[-1].mean()):.4f}")
    wall_time = time.perf_counter() - start
    train_loss, _ = evaluate(graphdef, params, train_data)
    _, test_accuracy = evaluate(graphdef, params, test_data)
    return {
        "train_loss": train_loss,
        "test_accuracy": test_accuracy,
        "wall_time_s": wall_time,
        "losses": np.concatenate(losses),
        "temperatures": np.concatenate(temperatures),
    }


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot(results: dict, steps_per_epoch: int, path: Path) -> None:
    """Training loss and temperature against the step, averaged over one epoch."""
    figure, (loss_axis, temperature_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for name, result in results.items():
        steps = np.arange(len(result["losses"]))
        smoothed_steps = steps[steps_per_epoch - 1 :] if len(steps) >= steps_per_epoch else steps
        loss_axis.plot(
            smoothed_steps, moving_average(result["losses"], steps_per_epoch), label=name
        )
        temperature_axis.plot(
            smoothed_steps, moving_average(result["temperatures"], steps_per_epoch), label=name
        )
    loss_axis.set(xlabel="step", ylabel="training loss (epoch average)", yscale="log")
    temperature_axis.set(
        xlabel="step",
        ylabel=r"rescaled temperature $T\,dt^2$ (epoch average)",
        yscale="log",
    )
    for axis in (loss_axis, temperature_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle("8x8 digits, Flax NNX CNN")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/train_digits"))
    parser.add_argument("--quick", action="store_true", help="3 epochs, for a smoke test")
    args = parser.parse_args(argv)
    epochs = 3 if args.quick else args.epochs
    if epochs < 1 or args.batch_size < 1:
        parser.error(f"--epochs and --batch-size must be >= 1, got {epochs} and {args.batch_size}")

    data_key, init_key, shuffle_key = jax.random.split(jax.random.key(args.seed), 3)
    train_data, test_data = load_data(data_key)
    graphdef, params = nnx.split(CNN(rngs=nnx.Rngs(init_key)))
    steps_per_epoch = len(train_data[1]) // args.batch_size
    num_steps = epochs * steps_per_epoch

    results = {
        name: train(
            name,
            tx,
            graphdef,
            params,
            train_data,
            test_data,
            epochs=epochs,
            batch_size=args.batch_size,
            key=shuffle_key,
        )
        for name, tx in optimizers(num_steps).items()
    }

    print(f"\n{num_steps} steps of batch {args.batch_size} ({epochs} epochs), seed {args.seed}")
    print(f"| {'optimizer':<13} | final train loss | test accuracy | wall time (s) |")
    print(f"|{'-' * 15}|{'-' * 18}|{'-' * 15}|{'-' * 15}|")
    for name, result in results.items():
        print(
            f"| {name:<13} | {result['train_loss']:>16.4f} | {result['test_accuracy']:>13.4f} "
            f"| {result['wall_time_s']:>13.2f} |"
        )

    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, steps_per_epoch, args.out / "train_digits.png")
    summary = {
        name: {key: result[key] for key in ("train_loss", "test_accuracy", "wall_time_s")}
        for name, result in results.items()
    }
    (args.out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"plot and results written to {args.out}/")
    return summary


if __name__ == "__main__":
    main()
