"""Train a Flax NNX MLP on scikit-learn's 8x8 digits without gradients: Metropolis against Adam.

`annealax.metropolis` anneals many copies (chains) of a 64-32-10 MLP on minibatches, using loss
values only; `optax.adam` trains the same MLP from the same initialisation on the same batches,
with gradients. The script prints a table (test accuracy, final training loss, examples
evaluated, wall time) and plots the test accuracy against the number of examples evaluated.

An example evaluated is one example through the model's forward pass. With ``minibatch=True``
Metropolis evaluates every example of the batch twice per chain and step (the current chain and
its proposal, on the same batch): 2 x chains x batch size per step. Adam evaluates every example
of the batch once per step, followed by a backward pass that costs about two forward passes.

    python examples/anneal_digits.py            # 10,000 steps, under a minute on a laptop CPU
    python examples/anneal_digits.py --quick    # 1,000 steps, about 10 s
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
from _digits import MLP, split_digits
from flax import nnx
from tqdm import tqdm

import annealax

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def cross_entropy(graphdef, params, images: jax.Array, labels: jax.Array) -> jax.Array:
    logits = nnx.merge(graphdef, params)(images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@functools.partial(jax.jit, static_argnums=0)
def loss_and_accuracy(graphdef, params, data) -> tuple[jax.Array, jax.Array]:
    """Mean cross-entropy and accuracy on a whole data set."""
    images, labels = data
    logits = nnx.merge(graphdef, params)(images)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def metropolis_step(graphdef, tx, train_data) -> Callable:
    """A jitted Metropolis step on the minibatch ``batch_indices``: a loss closure, no gradient."""
    images, labels = train_data

    @jax.jit
    def train_step(params, opt_state, batch_indices):
        batch_images, batch_labels = images[batch_indices], labels[batch_indices]

        def batch_loss(candidate):
            return cross_entropy(graphdef, candidate, batch_images, batch_labels)

        updates, opt_state = tx.update(None, opt_state, params, value_fn=batch_loss)
        return optax.apply_updates(params, updates), opt_state

    return train_step


def gradient_step(graphdef, tx, train_data) -> Callable:
    """A jitted gradient step on the minibatch ``batch_indices``."""
    images, labels = train_data

    @jax.jit
    def train_step(params, opt_state, batch_indices):
        grads = jax.grad(cross_entropy, argnums=1)(
            graphdef, params, images[batch_indices], labels[batch_indices]
        )
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return train_step


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def minibatches(key: jax.Array, num_steps: int, num_examples: int, batch_size: int) -> jax.Array:
    """``num_steps`` minibatches of indices: each epoch a new permutation, cut into full batches."""
    batches_per_epoch = num_examples // batch_size
    num_epochs = -(-num_steps // batches_per_epoch)
    epochs = jax.vmap(lambda k: jax.random.permutation(k, num_examples))(
        jax.random.split(key, num_epochs)
    )
    batches = epochs[:, : batches_per_epoch * batch_size].reshape(-1, batch_size)
    return batches[:num_steps]


def train(name, train_step, tx, graphdef, params, batches, test_data, *, examples_per_step):
    """Run one optimizer over ``batches``; returns its figures and test-accuracy curve.

    The wall time counts the training steps only: not the compilation, and not the test-set
    evaluations of the curve, made at about 50 evenly spaced steps.
    """
    opt_state = tx.init(params)
    train_step = train_step.lower(params, opt_state, batches[0]).compile()
    num_steps = len(batches)
    checkpoints = set(np.linspace(0, num_steps, 51, dtype=int)[1:])
    curve = [(0, float(loss_and_accuracy(graphdef, params, test_data)[1]))]
    wall_time = 0.0
    with tqdm(total=num_steps, desc=f"{name:>10}", unit="step") as bar:
        start = time.perf_counter()
        for step, batch_indices in enumerate(batches, start=1):
            params, opt_state = train_step(params, opt_state, batch_indices)
            if step in checkpoints:
                jax.block_until_ready(params)
                wall_time += time.perf_counter() - start
                accuracy = float(loss_and_accuracy(graphdef, params, test_data)[1])
                curve.append((step * examples_per_step, accuracy))
                bar.update(step - bar.n)
                bar.set_postfix(test_accuracy=f"{accuracy:.3f}")
                start = time.perf_counter()
    return {"params": params, "wall_time_s": wall_time, "curve": curve}


def print_table(results: dict) -> None:
    print("| optimizer  | test accuracy | train loss | examples evaluated | wall time (s) |")
    print(f"|{'-' * 12}|{'-' * 15}|{'-' * 12}|{'-' * 20}|{'-' * 15}|")
    for name, result in results.items():
        print(
            f"| {name:<10} | {result['test_accuracy']:>13.4f} | {result['train_loss']:>10.4f} "
            f"| {result['examples_evaluated']:>18d} | {result['wall_time_s']:>13.2f} |"
        )


def plot(results: dict, path: Path) -> None:
    """Test accuracy against the number of examples evaluated, log scale."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, result in results.items():
        evaluations, accuracies = zip(*result["curve"][1:], strict=True)
        axis.plot(evaluations, accuracies, marker=".", label=name)
    axis.axhline(0.1, color="gray", linestyle=":", label="chance")
    axis.set(
        xlabel="examples evaluated (forward passes)",
        ylabel="test accuracy",
        xscale="log",
        ylim=(0.0, 1.0),
        title="8x8 digits, Flax NNX MLP: gradient-free Metropolis against Adam",
    )
    axis.grid(alpha=0.3, which="both")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/anneal_digits"))
    parser.add_argument("--quick", action="store_true", help="1,000 steps, for a smoke test")
    args = parser.parse_args(argv)
    num_steps = 1000 if args.quick else args.steps
    if min(num_steps, args.chains, args.batch_size, args.hidden) < 1:
        parser.error("--steps, --chains, --batch-size and --hidden must be >= 1")

    data_key, init_key, batch_key, anneal_key = jax.random.split(jax.random.key(args.seed), 4)
    train_data, test_data = split_digits(data_key)
    graphdef, params = nnx.split(MLP(args.hidden, rngs=nnx.Rngs(init_key)))
    batches = np.asarray(minibatches(batch_key, num_steps, len(train_data[1]), args.batch_size))

    metropolis = annealax.metropolis(
        args.chains,
        key=anneal_key,
        temperature=optax.exponential_decay(3e-3, num_steps, 1e-2),
        step_size=optax.exponential_decay(0.03, num_steps, 0.3),
        minibatch=True,
        adaptation=None,  # the step-size schedule is tuned: no adaptation on top of it
    )
    adam = optax.adam(1e-3)
    contenders = {
        "metropolis": (
            metropolis_step(graphdef, metropolis, train_data),
            metropolis,
            2 * args.chains,
        ),
        "adam": (gradient_step(graphdef, adam, train_data), adam, 1),
    }
    results = {}
    for name, (train_step, tx, passes_per_example) in contenders.items():
        examples_per_step = passes_per_example * args.batch_size
        result = train(
            name,
            train_step,
            tx,
            graphdef,
            params,
            batches,
            test_data,
            examples_per_step=examples_per_step,
        )
        train_loss, _ = loss_and_accuracy(graphdef, result["params"], train_data)
        _, test_accuracy = loss_and_accuracy(graphdef, result["params"], test_data)
        results[name] = {
            "test_accuracy": float(test_accuracy),
            "train_loss": float(train_loss),
            "examples_evaluated": num_steps * examples_per_step,
            "wall_time_s": result["wall_time_s"],
            "curve": result["curve"],
        }

    print(
        f"\n{num_steps} steps of batch {args.batch_size}, Metropolis with {args.chains} chains, "
        f"seed {args.seed}"
    )
    print_table(results)

    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "anneal_digits.png")
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"plot and results written to {args.out}/")
    return {name: {k: v for k, v in r.items() if k != "curve"} for name, r in results.items()}


if __name__ == "__main__":
    main()
