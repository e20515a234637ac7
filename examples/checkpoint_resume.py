"""Save a run with orbax mid-way, resume it from the checkpoint: bit-identical to no interruption.

Two runs on scikit-learn's 8x8 digits with a small Flax NNX MLP, in the functional style
(`nnx.split` / `nnx.merge` and a jitted step on plain pytrees):

- training with `annealax.coolmomentum` on minibatches;
- annealing the same model's weights with `annealax.metropolis` (no gradients), on a fixed subset
  of the training set.

Each run saves its parameters, optimizer state and step with `orbax.checkpoint` half-way through
and carries on to the end. The run is then restored from the checkpoint into a freshly built
state and finished again. The script prints, for each run, the final loss and the largest
difference of the resumed run to the uninterrupted one (0: bit-identical), and plots both loss
curves.

    python examples/checkpoint_resume.py            # 20 epochs and 2000 annealing steps
    python examples/checkpoint_resume.py --quick    # 2 epochs and 200 annealing steps
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import orbax.checkpoint as ocp
from _digits import MLP, digits
from flax import nnx
from tqdm import tqdm

import annealax

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BATCH_SIZE = 32
ANNEALING_SUBSET = 256  # training examples in the annealer's loss


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A run as pure functions of pytrees ``{"params": ..., "opt_state": ...}``.

    Attributes:
        init: A freshly built state from a key.
        step: The jitted step ``(state, step_index) -> (state, loss)``.
        final_loss: The loss of a state's parameters on the whole training set.
        num_steps: The length of the run.
    """

    init: Callable[[jax.Array], dict]
    step: Callable[[dict, jax.Array], tuple[dict, jax.Array]]
    final_loss: Callable[[dict], float]
    num_steps: int


def training_set(key: jax.Array):
    """The first 80% of the digits in a random order, flat float32 vectors in [0, 1]."""
    images, labels = digits()
    order = jax.random.permutation(key, len(labels))[: round(0.8 * len(labels))]
    return images[order], labels[order]


def model_loss(graphdef: nnx.GraphDef, data) -> Callable:
    """The mean cross-entropy ``loss(params, indices)`` of the examples ``indices``."""
    images, labels = data

    def loss(params, indices):
        logits = nnx.merge(graphdef, params)(images[indices])
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels[indices]).mean()

    return loss


def fresh_state(tx: optax.GradientTransformation) -> Callable[[jax.Array], dict]:
    """A function that builds a model from a key and the optimizer state for it."""

    def init(key: jax.Array) -> dict:
        params = nnx.state(MLP(rngs=nnx.Rngs(key)))
        state = {"params": params, "opt_state": tx.init(params)}
        # Committed to a device like restored arrays, so that the resumed run reuses the step
        # compiled for the first run.
        return jax.device_put(state, jax.devices()[0])

    return init


def training_set_loss(loss: Callable, data) -> Callable[[dict], float]:
    """The loss of a state's parameters on every training example."""
    everything = jnp.arange(len(data[1]))
    compiled_loss = jax.jit(loss)
    return lambda state: float(compiled_loss(state["params"], everything))


def minibatches(key: jax.Array, num_examples: int, num_epochs: int) -> jax.Array:
    """The indices of every step's minibatch, shape (steps, BATCH_SIZE): each epoch reshuffled."""
    steps_per_epoch = num_examples // BATCH_SIZE

    def epoch(epoch_key):
        order = jax.random.permutation(epoch_key, num_examples)
        return order[: steps_per_epoch * BATCH_SIZE].reshape(steps_per_epoch, BATCH_SIZE)

    batches = jax.vmap(epoch)(jax.random.split(key, num_epochs))
    return batches.reshape(-1, BATCH_SIZE)


def coolmomentum_experiment(data, shuffle_key: jax.Array, num_epochs: int) -> Experiment:
    """Minibatch training; the step index selects the batch, so a resumed run sees the same."""
    graphdef, _ = nnx.split(MLP(rngs=nnx.Rngs(0)))
    loss = model_loss(graphdef, data)
    batches = minibatches(shuffle_key, len(data[1]), num_epochs)
    tx = annealax.coolmomentum(learning_rate=0.05, momentum=0.99, total_steps=len(batches))

    @jax.jit
    def step(state, step_index):
        params, opt_state = state["params"], state["opt_state"]
        value, grads = jax.value_and_grad(loss)(params, batches[step_index])
        updates, opt_state = tx.update(grads, opt_state, params)
        return {"params": optax.apply_updates(params, updates), "opt_state": opt_state}, value

    return Experiment(fresh_state(tx), step, training_set_loss(loss, data), len(batches))


def metropolis_experiment(data, anneal_key: jax.Array, num_steps: int, num_chains: int):
    """Gradient-free annealing of the weights; the params follow the best chain of each step."""
    graphdef, _ = nnx.split(MLP(rngs=nnx.Rngs(0)))
    loss = model_loss(graphdef, data)
    subset = jnp.arange(ANNEALING_SUBSET)
    tx = annealax.metropolis(
        num_chains,
        key=anneal_key,
        temperature=optax.exponential_decay(0.01, num_steps, 1e-2),
        step_size=optax.exponential_decay(0.05, num_steps, 0.1),
        adaptation=None,  # the step-size schedule is tuned: no adaptation on top of it
    )

    def value_fn(params):
        return loss(params, subset)

    @jax.jit
    def step(state, step_index):
        del step_index  # the loss is the same at every step
        params, opt_state = state["params"], state["opt_state"]
        updates, opt_state = tx.update(None, opt_state, params, value_fn=value_fn)
        params = optax.apply_updates(params, updates)
        return {"params": params, "opt_state": opt_state}, jnp.min(opt_state.values)

    return Experiment(fresh_state(tx), step, training_set_loss(loss, data), num_steps)


def run(experiment: Experiment, state: dict, start: int, stop: int, desc: str):
    """Steps ``start`` to ``stop - 1``; returns the state and the loss of every step."""
    losses = []
    for step_index in tqdm(range(start, stop), desc=f"{desc:>26}", unit="step"):
        state, loss = experiment.step(state, jnp.asarray(step_index, jnp.int32))
        losses.append(loss)
    return state, np.asarray(jax.device_get(losses))


def save(path: Path, state: dict, step: int) -> None:
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, {"state": state, "step": step}, force=True)
        checkpointer.wait_until_finished()


def restore(path: Path, like: dict) -> tuple[dict, int]:
    """The saved state and step, restored into the tree, shapes and dtypes of ``like``."""
    target = {"state": like, "step": 0}
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    with ocp.StandardCheckpointer() as checkpointer:
        restored = checkpointer.restore(path, abstract)
    return restored["state"], int(restored["step"])


def max_abs_difference(a, b) -> float:
    """Largest |a - b| over all leaves, computed in float64; 0.0 when all leaves are equal."""
    differences = [
        0.0
        if np.array_equal(x, y)
        else float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    ]
    return max(differences)


def interrupt_and_resume(name: str, experiment: Experiment, key: jax.Array, directory: Path):
    """Run with a checkpoint half-way, then resume from it in a fresh state and finish again."""
    init_key, fresh_key = jax.random.split(key)
    checkpoint_step = experiment.num_steps // 2
    path = (directory / name / f"step_{checkpoint_step}").resolve()

    state, first_half = run(experiment, experiment.init(init_key), 0, checkpoint_step, name)
    save(path, state, checkpoint_step)
    uninterrupted, second_half = run(
        experiment, state, checkpoint_step, experiment.num_steps, f"{name} (on)"
    )

    restored, start = restore(path, experiment.init(fresh_key))
    resumed, resumed_losses = run(
        experiment, restored, start, experiment.num_steps, f"{name} (resumed)"
    )
    uninterrupted_losses = np.concatenate([first_half, second_half])
    difference = max_abs_difference(
        (resumed, resumed_losses), (uninterrupted, uninterrupted_losses[start:])
    )
    return {
        "checkpoint_step": start,
        "num_steps": experiment.num_steps,
        "uninterrupted_loss": experiment.final_loss(uninterrupted),
        "resumed_loss": experiment.final_loss(resumed),
        "max_abs_difference": difference,
        "losses": {"uninterrupted": uninterrupted_losses, "resumed": resumed_losses},
    }


def print_table(results: dict) -> None:
    print("\n| run | steps run | final loss | max abs diff to uninterrupted |")
    print("|---|---|---|---|")
    for name, result in results.items():
        steps_resumed = result["num_steps"] - result["checkpoint_step"]
        print(
            f"| {name} uninterrupted | {result['num_steps']} | "
            f"{result['uninterrupted_loss']:.6f} | 0 |"
        )
        print(
            f"| {name} resumed | {steps_resumed} | {result['resumed_loss']:.6f} | "
            f"{result['max_abs_difference']:g} |"
        )


def plot(results: dict, path: Path) -> None:
    """Loss against the step: the resumed run starts at the checkpoint and follows the original."""
    figure, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4))
    labels = {"coolmomentum": "minibatch loss", "metropolis": "loss of the best chain"}
    scales = {"coolmomentum": "log", "metropolis": "linear"}
    for axis, (name, result) in zip(axes, results.items(), strict=True):
        losses = result["losses"]
        start = result["checkpoint_step"]
        axis.plot(losses["uninterrupted"], lw=3, alpha=0.5, label="uninterrupted")
        resumed_steps = np.arange(start, start + len(losses["resumed"]))
        axis.plot(resumed_steps, losses["resumed"], "k--", lw=1, label="resumed")
        axis.axvline(start, color="gray", ls=":", label="checkpoint")
        axis.set(xlabel="step", ylabel=labels[name], yscale=scales[name], title=name)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle("8x8 digits, Flax NNX MLP: resumed from an orbax checkpoint")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--anneal-steps", type=int, default=2000)
    parser.add_argument("--chains", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/checkpoint_resume"))
    parser.add_argument("--quick", action="store_true", help="2 epochs and 200 annealing steps")
    args = parser.parse_args(argv)
    epochs, anneal_steps = (2, 200) if args.quick else (args.epochs, args.anneal_steps)
    if min(epochs, anneal_steps, args.chains) < 1:
        parser.error("--epochs, --anneal-steps and --chains must be >= 1")

    data_key, shuffle_key, anneal_key, run_key = jax.random.split(jax.random.key(args.seed), 4)
    data = training_set(data_key)
    experiments = {
        "coolmomentum": coolmomentum_experiment(data, shuffle_key, epochs),
        "metropolis": metropolis_experiment(data, anneal_key, anneal_steps, args.chains),
    }
    checkpoints = args.out / "checkpoints"
    results = {
        name: interrupt_and_resume(name, experiment, run_key, checkpoints)
        for name, experiment in experiments.items()
    }

    print_table(results)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "checkpoint_resume.png")
    summary = {
        name: {key: value for key, value in result.items() if key != "losses"}
        for name, result in results.items()
    }
    (args.out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"plot, results and checkpoints written to {args.out}/")
    return summary


if __name__ == "__main__":
    main()
