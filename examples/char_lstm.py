"""Train a Flax NNX LSTM character language model with CoolMomentum, SGD and SGD with momentum.

The corpus is the source code of the Python standard library's ``email`` package (its .py files,
sorted by name and concatenated), so it is on every machine that has Python; its first 90% of
characters are the training set and the last 10% the validation set. Every optimizer gets the same
initialisation, the same minibatches of random windows and the same number of steps, all with the
gradient clipped to a global norm of 1. The script prints a table of the training and validation
bits per character (cross-entropy / ln 2; the training figure on windows spread evenly over the
training set, as many as the validation set has) and the wall time, and writes a plot of the
training bits per character against the step: a small analogue of the CoolMomentum paper's Penn
Treebank experiment.

    python examples/char_lstm.py            # 2000 steps: about two minutes on 2 cores
    python examples/char_lstm.py --quick    # 80 steps: about 10 s
"""

from __future__ import annotations

import argparse
import email
import functools
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from flax import nnx
from tqdm import tqdm

import annealax

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FormatStrFormatter, NullFormatter

UNKNOWN = "\N{REPLACEMENT CHARACTER}"
EMBEDDING_FEATURES = 32
HIDDEN_FEATURES = 128
SEQUENCE_LENGTH = 64
VALIDATION_FRACTION = 0.1
GRADIENT_CLIP_NORM = 1.0
LOG_EVERY = 20


class CharLSTM(nnx.Module):
    """An embedding, one LSTM layer and a dense readout to next-character logits."""

    def __init__(self, vocabulary_size: int, *, rngs: nnx.Rngs):
        self.embed = nnx.Embed(vocabulary_size, EMBEDDING_FEATURES, rngs=rngs)
        cell = nnx.OptimizedLSTMCell(EMBEDDING_FEATURES, HIDDEN_FEATURES, rngs=rngs)
        self.lstm = nnx.RNN(cell, rngs=False)
        self.readout = nnx.Linear(HIDDEN_FEATURES, vocabulary_size, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        zeros = jnp.zeros((tokens.shape[0], HIDDEN_FEATURES), jnp.float32)
        hidden = self.lstm(self.embed(tokens), initial_carry=(zeros, zeros))
        return self.readout(hidden)


@functools.partial(jax.jit, static_argnums=1)
def init_params(key: jax.Array, vocabulary_size: int) -> nnx.State:
    """The model's parameters, initialised in one compiled call rather than op by op."""
    return nnx.state(CharLSTM(vocabulary_size, rngs=nnx.Rngs(key)))


def load_corpus() -> str:
    """The ``email`` package's Python source files, sorted by name and concatenated."""
    files = sorted(Path(email.__file__).parent.glob("*.py"))
    return "\n".join(file.read_text(encoding="utf-8") for file in files)


def build_vocabulary(text: str) -> dict[str, int]:
    """Character ids: 0 for characters not seen in ``text``, then its characters in sorted order."""
    return {UNKNOWN: 0} | {char: index for index, char in enumerate(sorted(set(text)), start=1)}


def encode(text: str, vocabulary: dict[str, int]) -> np.ndarray:
    return np.array([vocabulary.get(char, 0) for char in text], dtype=np.int32)


def contiguous_windows(tokens: np.ndarray, count: int | None = None) -> np.ndarray:
    """Windows of ``SEQUENCE_LENGTH + 1`` tokens that overlap by one, so that every token but the
    first is predicted once; ``count`` of them spread evenly over ``tokens``, or all of them."""
    num_windows = (len(tokens) - 1) // SEQUENCE_LENGTH
    chosen = np.arange(num_windows)
    if count is not None:
        chosen = np.linspace(0, num_windows - 1, count).round().astype(int)
    starts = chosen * SEQUENCE_LENGTH
    return tokens[starts[:, None] + np.arange(SEQUENCE_LENGTH + 1)]


def cross_entropy(graphdef, params, windows: jax.Array) -> jax.Array:
    """Mean cross-entropy, in nats, of predicting each window's next characters."""
    logits = nnx.merge(graphdef, params)(windows[:, :-1])
    return optax.softmax_cross_entropy_with_integer_labels(logits, windows[:, 1:]).mean()


@functools.partial(jax.jit, static_argnums=0)
def bits_per_character(graphdef, params, windows: jax.Array) -> jax.Array:
    """Mean cross-entropy, in bits, of predicting each window's next characters."""
    return cross_entropy(graphdef, params, windows) / math.log(2.0)


def make_loss_and_grad(graphdef) -> Callable:
    """The loss and gradient on the windows that start at ``starts`` in ``tokens``.

    Compiled once and shared by every optimizer; each optimizer's update is a separate small
    jitted function, so that the LSTM's backward pass is not compiled once per optimizer.
    """

    @jax.jit
    def loss_and_grad(params, tokens, starts):
        windows = tokens[starts[:, None] + jnp.arange(SEQUENCE_LENGTH + 1)[None, :]]
        return jax.value_and_grad(cross_entropy, argnums=1)(graphdef, params, windows)

    return loss_and_grad


def make_apply_updates(tx: optax.GradientTransformation) -> Callable:
    """The jitted optimizer update of ``tx``, from the gradient to the new parameters."""

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def apply_updates(params, opt_state, grads):
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return apply_updates


def optimizers(num_steps: int) -> dict[str, optax.GradientTransformation]:
    """The contenders, each after the same gradient clipping; learning rates chosen by trying."""
    contenders = {
        "coolmomentum": annealax.coolmomentum(
            learning_rate=1.6, momentum=0.95, total_steps=num_steps
        ),
        "sgd": optax.sgd(learning_rate=8.0),
        "sgd+momentum": optax.sgd(learning_rate=0.8, momentum=0.9),
    }
    return {
        name: optax.chain(optax.clip_by_global_norm(GRADIENT_CLIP_NORM), tx)
        for name, tx in contenders.items()
    }


def train(name, tx, loss_and_grad, params, train_tokens, batch_starts):
    """Train one optimizer on the minibatches ``batch_starts`` (steps x batch).

    Returns the training cross-entropy of every step, in nats, the final parameters and the wall
    time of the training steps, compilation excluded.
    """
    params = jax.tree.map(jnp.copy, params)  # the update donates its inputs
    opt_state = tx.init(params)
    apply_updates = make_apply_updates(tx)
    _, grads = loss_and_grad(params, train_tokens, batch_starts[0])
    apply_updates = apply_updates.lower(params, opt_state, grads).compile()
    losses = []
    start = time.perf_counter()
    with tqdm(total=len(batch_starts), desc=f"{name:>12}", unit="step") as bar:
        for first in range(0, len(batch_starts), LOG_EVERY):
            chunk_losses = []
            for starts in batch_starts[first : first + LOG_EVERY]:
                loss, grads = loss_and_grad(params, train_tokens, starts)
                params, opt_state = apply_updates(params, opt_state, grads)
                chunk_losses.append(loss)
            losses.append(np.asarray(jax.device_get(chunk_losses)))
            bar.update(len(chunk_losses))
            bar.set_postfix(bpc=f"{losses[-1].mean() / math.log(2.0):.3f}")
    wall_time = time.perf_counter() - start
    return np.concatenate(losses), params, wall_time


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot(results: dict, uniform_bpc: float, path: Path) -> None:
    """Training bits per character against the step; a dot marks each final validation figure."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, result in results.items():
        bpc = result["losses"] / math.log(2.0)
        window = max(1, len(bpc) // 40)
        smoothed = moving_average(bpc, window)
        (line,) = axis.plot(np.arange(window - 1, len(bpc)), smoothed, label=name)
        axis.plot(len(bpc) - 1, result["validation_bpc"], "o", color=line.get_color())
    axis.axhline(uniform_bpc, color="grey", linestyle=":", label="uniform guess")
    axis.set(
        xlabel="step",
        ylabel="training bits per character (moving average)",
        yscale="log",
        title="Character LSTM on the email package's source\n(dots: final validation bpc)",
    )
    axis.set_yticks([1.25, 1.5, 2.0, 3.0, 4.0, 6.0])
    axis.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    axis.yaxis.set_minor_formatter(NullFormatter())
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def print_table(summaries: dict) -> None:
    print("| optimizer    | train bpc | validation bpc | wall time (s) |")
    print("|--------------|-----------|----------------|---------------|")
    for name, summary in summaries.items():
        print(
            f"| {name:<12} | {summary['train_bpc']:>9.3f} | {summary['validation_bpc']:>14.3f} "
            f"| {summary['wall_time_s']:>13.2f} |"
        )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/char_lstm"))
    parser.add_argument("--quick", action="store_true", help="80 steps, for a smoke test")
    args = parser.parse_args(argv)
    num_steps = 80 if args.quick else args.steps
    if num_steps < 1 or args.batch_size < 1:
        parser.error(
            f"--steps and --batch-size must be >= 1, got {num_steps} and {args.batch_size}"
        )

    text = load_corpus()
    num_train = round((1.0 - VALIDATION_FRACTION) * len(text))
    vocabulary = build_vocabulary(text[:num_train])
    tokens = encode(text, vocabulary)
    train_tokens, validation_tokens = tokens[:num_train], tokens[num_train:]
    validation_windows = contiguous_windows(validation_tokens)
    # As many training windows as validation windows, so that one compiled evaluation serves both.
    train_windows = contiguous_windows(train_tokens, count=len(validation_windows))
    uniform_bpc = math.log2(len(vocabulary))

    init_key, batch_key = jax.random.split(jax.random.key(args.seed))
    params = init_params(init_key, len(vocabulary))
    graphdef = nnx.graphdef(nnx.eval_shape(lambda: CharLSTM(len(vocabulary), rngs=nnx.Rngs(0))))
    batch_starts = np.asarray(
        jax.random.randint(batch_key, (num_steps, args.batch_size), 0, num_train - SEQUENCE_LENGTH)
    )
    loss_and_grad = make_loss_and_grad(graphdef)

    results = {}
    for name, tx in optimizers(num_steps).items():
        losses, final_params, wall_time = train(
            name, tx, loss_and_grad, params, train_tokens, batch_starts
        )
        results[name] = {
            "train_bpc": float(bits_per_character(graphdef, final_params, train_windows)),
            "validation_bpc": float(bits_per_character(graphdef, final_params, validation_windows)),
            "wall_time_s": wall_time,
            "losses": losses,
        }
    summaries = {
        name: {key: result[key] for key in ("train_bpc", "validation_bpc", "wall_time_s")}
        for name, result in results.items()
    }

    print(
        f"\n{len(text):,} characters of the email package's source ({num_train:,} train, "
        f"{len(text) - num_train:,} validation), vocabulary of {len(vocabulary)} "
        f"(uniform guess: {uniform_bpc:.2f} bits per character)"
    )
    print(f"{num_steps} steps of {args.batch_size} windows of {SEQUENCE_LENGTH} characters")
    print_table(summaries)

    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, uniform_bpc, args.out / "char_lstm.png")
    (args.out / "results.json").write_text(json.dumps(summaries, indent=2))
    print(f"plot and results written to {args.out}/")
    return summaries


if __name__ == "__main__":
    main()
