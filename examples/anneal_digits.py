"""Train a Flax NNX MLP on scikit-learn's 8x8 digits without gradients: `anneal` against Adam.

`annealax.anneal` anneals a 64-32-10 MLP on the full training loss, using loss values only,
with its defaults for a network's weights: one chain of sparse moves scaled per layer, each
step moving about a tenth of the weights by a step scaled by its layer's fan-in
(`random_walk(per_leaf=True, fraction=0.1)`). `optax.adam` trains the same MLP from the same
initialisation on batches of 64, with gradients. The script prints a table (test accuracy,
final training loss, example forward passes, wall time) and plots the training loss against
the number of example forward passes.

A forward pass is one example through the model. Each evaluation of the full training loss is
1,438 forward passes; Adam's step is 64, followed by a backward pass that costs about two
forward passes (not counted).

    python examples/anneal_digits.py            # 82 million forward passes, about a minute
    python examples/anneal_digits.py --quick    # a tenth of them, about 10 s
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


def train_adam(tx, graphdef, params, batches, train_data, *, examples_per_step):
    """Run Adam over ``batches``; returns its params, wall time and training-loss curve.

    The wall time counts the training steps only: not the compilation, and not the
    training-set evaluations of the curve, made at about 50 evenly spaced steps.
    """
    train_step = gradient_step(graphdef, tx, train_data)
    opt_state = tx.init(params)
    train_step = train_step.lower(params, opt_state, batches[0]).compile()
    num_steps = len(batches)
    checkpoints = set(np.linspace(0, num_steps, 51, dtype=int)[1:])
    curve = [(0, float(loss_and_accuracy(graphdef, params, train_data)[0]))]
    wall_time = 0.0
    with tqdm(total=num_steps, desc="adam", unit="step") as bar:
        start = time.perf_counter()
        for step, batch_indices in enumerate(batches, start=1):
            params, opt_state = train_step(params, opt_state, batch_indices)
            if step in checkpoints:
                jax.block_until_ready(params)
                wall_time += time.perf_counter() - start
                loss = float(loss_and_accuracy(graphdef, params, train_data)[0])
                curve.append((step * examples_per_step, loss))
                bar.update(step - bar.n)
                bar.set_postfix(train_loss=f"{loss:.3f}")
                start = time.perf_counter()
    return {"params": params, "wall_time_s": wall_time, "curve": curve}


def train_anneal(graphdef, params, train_data, key, *, passes, num_chains):
    """`anneal` on the full training loss with ``passes`` example forward passes in all.

    Returns its best params, the wall time of the compiled run and the curve of its best
    training loss so far at about 50 evenly spaced steps.
    """
    images, labels = train_data
    num_steps = max(1, passes // (len(labels) * num_chains) - 1)

    def train_loss(candidate):
        return cross_entropy(graphdef, candidate, images, labels)

    def run(key):
        return annealax.anneal(
            train_loss,
            params,
            key=key,
            num_steps=num_steps,
            num_chains=num_chains,
        )

    compiled = jax.jit(run).lower(key).compile()
    start = time.perf_counter()
    result = jax.block_until_ready(compiled(key))
    wall_time = time.perf_counter() - start
    passes_per_step = len(labels) * num_chains
    steps = np.linspace(0, num_steps - 1, 51, dtype=int)[1:]
    best = np.asarray(result.trace.best_value)
    curve = [(0, float(train_loss(params)))]
    curve += [(int(step + 2) * passes_per_step, float(best[step])) for step in steps]
    return {"params": result.best_params, "wall_time_s": wall_time, "curve": curve}, int(
        result.num_evaluations
    ) * len(labels)


def print_table(results: dict) -> None:
    print("| optimizer  | test accuracy | train loss | examples evaluated | wall time (s) |")
    print(f"|{'-' * 12}|{'-' * 15}|{'-' * 12}|{'-' * 20}|{'-' * 15}|")
    for name, result in results.items():
        print(
            f"| {name:<10} | {result['test_accuracy']:>13.4f} | {result['train_loss']:>10.4f} "
            f"| {result['examples_evaluated']:>18d} | {result['wall_time_s']:>13.2f} |"
        )


def plot(results: dict, path: Path) -> None:
    """Training loss against the number of example forward passes, log scales."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, result in results.items():
        evaluations, losses = zip(*result["curve"][1:], strict=True)
        axis.plot(evaluations, losses, marker=".", label=name)
    axis.set(
        xlabel="example forward passes",
        ylabel="training loss (cross-entropy)",
        xscale="log",
        yscale="log",
        title="8x8 digits, Flax NNX MLP: gradient-free anneal against Adam",
    )
    axis.grid(alpha=0.3, which="both")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--passes", type=int, default=81_920_000, help="anneal's example forward passes"
    )
    parser.add_argument(
        "--chains", type=int, default=1, help="anneal's chains (1: its default for a network)"
    )
    parser.add_argument("--adam-steps", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=64, help="Adam's batch size")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/anneal_digits"))
    parser.add_argument("--quick", action="store_true", help="a tenth of the budget, for a test")
    args = parser.parse_args(argv)
    passes, adam_steps = args.passes, args.adam_steps
    if args.quick:
        passes, adam_steps = passes // 10, adam_steps // 10
    if min(passes, args.chains, adam_steps, args.batch_size, args.hidden) < 1:
        parser.error("--passes, --chains, --adam-steps, --batch-size and --hidden must be >= 1")

    data_key, init_key, batch_key, anneal_key = jax.random.split(jax.random.key(args.seed), 4)
    train_data, test_data = split_digits(data_key)
    graphdef, params = nnx.split(MLP(args.hidden, rngs=nnx.Rngs(init_key)))
    if passes < len(train_data[1]) * args.chains * 2:
        parser.error(f"--passes must allow two steps of {args.chains} chains on the data")
    batches = np.asarray(minibatches(batch_key, adam_steps, len(train_data[1]), args.batch_size))

    results = {}
    print(f"anneal: {args.chains} chain(s) on the full training loss, {passes:,} forward passes")
    anneal_run, anneal_passes = train_anneal(
        graphdef, params, train_data, anneal_key, passes=passes, num_chains=args.chains
    )
    adam_run = train_adam(
        optax.adam(1e-3),
        graphdef,
        params,
        batches,
        train_data,
        examples_per_step=args.batch_size,
    )
    for name, run, used in (
        ("anneal", anneal_run, anneal_passes),
        ("adam", adam_run, adam_steps * args.batch_size),
    ):
        train_loss, _ = loss_and_accuracy(graphdef, run["params"], train_data)
        _, test_accuracy = loss_and_accuracy(graphdef, run["params"], test_data)
        results[name] = {
            "test_accuracy": float(test_accuracy),
            "train_loss": float(train_loss),
            "examples_evaluated": used,
            "wall_time_s": run["wall_time_s"],
            "curve": run["curve"],
        }

    print(
        f"\nanneal with {args.chains} chain(s); Adam: {adam_steps} steps of batch "
        f"{args.batch_size}; seed {args.seed}"
    )
    print_table(results)

    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "anneal_digits.png")
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"plot and results written to {args.out}/")
    return {name: {k: v for k, v in r.items() if k != "curve"} for name, r in results.items()}


if __name__ == "__main__":
    main()
