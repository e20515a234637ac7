"""Train a Flax NNX CNN on scikit-learn's 8x8 digits: CoolMomentum's cooling laws, Adam and SGD.

CoolMomentum runs with each of its three cooling laws ("exponential", "linear", "friction"), all
cooled to rho = 0 at the last step, against Adam and SGD with momentum, over several seeds. For a
given seed every optimizer gets the same model initialisation, the same batches and the same
number of steps; the train/test split is the same for every seed. The script prints a table (mean
and standard deviation over the seeds of the final training loss and of the test accuracy, and the
training wall time per run) and writes a plot of the training loss and the rescaled temperature
against the step, averaged over the seeds, and of the momentum coefficient rho_t of each cooling
law, like the CoolMomentum paper's CIFAR-10 figure.

    python examples/train_digits.py            # 60 epochs, 3 seeds: about a minute on 2 cores
    python examples/train_digits.py --quick    # 3 epochs, 1 seed: about 15 s
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
from _digits import split_digits
from flax import nnx
from tqdm import tqdm

import annealax

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COOLING_LAWS = ("exponential", "linear", "friction")
COOLMOMENTUM = {"learning_rate": 0.01, "momentum": 0.99}


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


@jax.jit
def init_params(key: jax.Array) -> nnx.State:
    """The CNN's parameters, initialised in one compiled call rather than op by op."""
    return nnx.state(CNN(rngs=nnx.Rngs(key)))


def coolmomentum_name(cooling: str) -> str:
    return f"coolmomentum {cooling}"


def optimizers(num_steps: int) -> dict[str, optax.GradientTransformation]:
    """The contenders; each reports the rescaled temperature of its updates."""
    coolmomentum = {
        coolmomentum_name(cooling): annealax.coolmomentum(
            **COOLMOMENTUM, total_steps=num_steps, cooling=cooling
        )
        for cooling in COOLING_LAWS
    }
    return {
        **coolmomentum,
        "sgd+momentum": optax.chain(
            optax.sgd(learning_rate=0.05, momentum=0.9), annealax.track_temperature()
        ),
        "adam": optax.chain(optax.adam(learning_rate=1e-3), annealax.track_temperature()),
    }


def make_train_step(graphdef, tx) -> Callable:
    """A jitted step on the minibatch ``batch_indices``; returns the loss and the temperature.

    A Python loop over this step is used rather than a `lax.scan` over an epoch: on XLA's CPU
    backend, convolutions inside a compiled loop run about 20 times slower.
    """

    def loss_fn(params, batch_images, batch_labels):
        logits = nnx.merge(graphdef, params)(batch_images)
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch_labels).mean()

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def train_step(params, opt_state, images, labels, batch_indices):
        loss, grads = jax.value_and_grad(loss_fn)(
            params, images[batch_indices], labels[batch_indices]
        )
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, loss, optax.tree.get(opt_state, "temperature")

    return train_step


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def shuffled_batches(key: jax.Array, num_examples: int, batch_size: int, epochs: int) -> jax.Array:
    """For each epoch, a random permutation of the examples cut into full minibatches of indices."""
    steps = num_examples // batch_size

    def epoch_batches(epoch_key: jax.Array) -> jax.Array:
        order = jax.random.permutation(epoch_key, num_examples)
        return order[: steps * batch_size].reshape(steps, batch_size)

    return jax.vmap(epoch_batches)(jax.random.split(key, epochs))


@functools.partial(jax.jit, static_argnums=0)
def evaluate(graphdef, params, images, labels) -> tuple[jax.Array, jax.Array]:
    """Mean cross-entropy and accuracy on a whole data set."""
    logits = nnx.merge(graphdef, params)(images)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
    return loss, accuracy


def train_one_seed(train_step, tx, graphdef, train_data, test_data, batches, init_key, bar):
    """Train from the initialisation of ``init_key`` on ``batches`` (epochs x steps x batch).

    The wall time counts the training steps only: ``train_step`` is compiled beforehand.
    """
    params = init_params(init_key)
    opt_state = tx.init(params)
    losses, temperatures = [], []
    start = time.perf_counter()
    for epoch in batches:
        epoch_losses, epoch_temperatures = [], []
        for batch_indices in epoch:
            params, opt_state, loss, temperature = train_step(
                params, opt_state, *train_data, batch_indices
            )
            epoch_losses.append(loss)
            epoch_temperatures.append(temperature)
        losses.append(np.asarray(jax.device_get(epoch_losses)))
        temperatures.append(np.asarray(jax.device_get(epoch_temperatures)))
        bar.update(len(epoch))
        bar.set_postfix(loss=f"{float(losses[-1].mean()):.4f}")
    wall_time = time.perf_counter() - start
    train_loss, _ = evaluate(graphdef, params, *train_data)
    _, test_accuracy = evaluate(graphdef, params, *test_data)
    return {
        "train_loss": float(train_loss),
        "test_accuracy": float(test_accuracy),
        "wall_time_s": wall_time,
        "losses": np.concatenate(losses),
        "temperatures": np.concatenate(temperatures),
    }


def train(name, tx, graphdef, train_data, test_data, seed_keys, *, epochs, batch_size):
    """Train one optimizer once per seed; returns the runs stacked along a leading seed axis."""
    num_examples = len(train_data[1])
    seed_batches = [
        np.asarray(shuffled_batches(shuffle_key, num_examples, batch_size, epochs))
        for _, shuffle_key in seed_keys
    ]
    params = init_params(seed_keys[0][0])
    train_step = make_train_step(graphdef, tx)
    train_step = train_step.lower(
        params, tx.init(params), *train_data, seed_batches[0][0, 0]
    ).compile()
    total_steps = len(seed_keys) * seed_batches[0].shape[0] * seed_batches[0].shape[1]
    with tqdm(total=total_steps, desc=f"{name:>24}", unit="step") as bar:
        runs = [
            train_one_seed(train_step, tx, graphdef, train_data, test_data, batches, init_key, bar)
            for (init_key, _), batches in zip(seed_keys, seed_batches, strict=True)
        ]
    return {key: np.stack([run[key] for run in runs]) for key in runs[0]}


def seed_summary(result: dict) -> dict:
    """Mean and standard deviation (over the seeds, ddof 0) of the final figures."""
    summary = {}
    for key in ("train_loss", "test_accuracy"):
        summary[f"{key}_mean"] = float(np.mean(result[key]))
        summary[f"{key}_std"] = float(np.std(result[key]))
        summary[key] = result[key].tolist()
    summary["wall_time_s"] = float(np.mean(result["wall_time_s"]))
    return summary


def print_table(summaries: dict) -> None:
    columns = [
        "train loss mean",
        "train loss std",
        "test accuracy mean",
        "test accuracy std",
        "wall time per run (s)",
    ]
    print(f"| {'optimizer':<24} | " + " | ".join(columns) + " |")
    print(f"|{'-' * 26}|" + "|".join("-" * (len(column) + 2) for column in columns) + "|")
    for name, summary in summaries.items():
        values = [
            f"{summary['train_loss_mean']:.3g}",
            f"{summary['train_loss_std']:.3g}",
            f"{summary['test_accuracy_mean']:.4f}",
            f"{summary['test_accuracy_std']:.4f}",
            f"{summary['wall_time_s']:.2f}",
        ]
        cells = [value.rjust(len(column)) for value, column in zip(values, columns, strict=True)]
        print(f"| {name:<24} | " + " | ".join(cells) + " |")


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot(results: dict, num_steps: int, steps_per_epoch: int, path: Path) -> None:
    """Loss and temperature (epoch averages, mean over the seeds) and rho_t, against the step."""
    figure, (loss_axis, temperature_axis, rho_axis) = plt.subplots(1, 3, figsize=(16, 4.5))
    colors = {name: f"C{index}" for index, name in enumerate(results)}
    for name, result in results.items():
        losses = moving_average(result["losses"].mean(axis=0), steps_per_epoch)
        temperatures = moving_average(result["temperatures"].mean(axis=0), steps_per_epoch)
        smoothed_steps = np.arange(num_steps)[num_steps - len(losses) :]
        loss_axis.plot(smoothed_steps, losses, color=colors[name], label=name)
        temperature_axis.plot(smoothed_steps, temperatures, color=colors[name], label=name)
    steps = np.arange(num_steps + 1)
    for cooling in COOLING_LAWS:
        name = coolmomentum_name(cooling)
        schedule = annealax.momentum_schedule(
            COOLMOMENTUM["momentum"], total_steps=num_steps, cooling=cooling
        )
        rho_axis.plot(steps, jax.vmap(schedule)(steps), color=colors[name], label=name)
    seeds = len(next(iter(results.values()))["losses"])
    loss_axis.set(
        xlabel="step", ylabel=f"training loss (epoch average, mean of {seeds})", yscale="log"
    )
    temperature_axis.set(
        xlabel="step",
        ylabel=rf"rescaled temperature $T\,dt^2$ (epoch average, mean of {seeds})",
        yscale="log",
    )
    rho_axis.set(xlabel="step", ylabel=r"momentum coefficient $\rho_t$")
    for axis in (loss_axis, temperature_axis, rho_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(f"8x8 digits, Flax NNX CNN, {seeds} seed(s)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds per optimizer")
    parser.add_argument("--seed", type=int, default=0, help="the first seed; also sets the split")
    parser.add_argument("--out", type=Path, default=Path("outputs/train_digits"))
    parser.add_argument("--quick", action="store_true", help="3 epochs and 1 seed, a smoke test")
    args = parser.parse_args(argv)
    epochs, num_seeds = (3, 1) if args.quick else (args.epochs, args.seeds)
    if min(epochs, args.batch_size, num_seeds) < 1:
        parser.error(
            "--epochs, --batch-size and --seeds must be >= 1, got "
            f"{epochs}, {args.batch_size} and {num_seeds}"
        )

    seeds = list(range(args.seed, args.seed + num_seeds))
    train_data, test_data = split_digits(jax.random.key(args.seed), shape=(8, 8, 1))
    seed_keys = [tuple(jax.random.split(jax.random.key(seed))) for seed in seeds]
    graphdef = nnx.graphdef(nnx.eval_shape(lambda: CNN(rngs=nnx.Rngs(0))))
    steps_per_epoch = len(train_data[1]) // args.batch_size
    num_steps = epochs * steps_per_epoch

    results = {
        name: train(
            name,
            tx,
            graphdef,
            train_data,
            test_data,
            seed_keys,
            epochs=epochs,
            batch_size=args.batch_size,
        )
        for name, tx in optimizers(num_steps).items()
    }
    summaries = {name: seed_summary(result) for name, result in results.items()}

    print(
        f"\n{num_steps} steps of batch {args.batch_size} ({epochs} epochs), "
        f"seeds {', '.join(map(str, seeds))}"
    )
    print_table(summaries)

    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, num_steps, steps_per_epoch, args.out / "train_digits.png")
    (args.out / "results.json").write_text(json.dumps(summaries, indent=2))
    print(f"plot and results written to {args.out}/")
    return summaries


if __name__ == "__main__":
    main()
