"""Gradient-free training of small classifiers: annealax against evolution strategies and Adam.

Two classifiers on data that ships with scikit-learn: the digits MLP of the examples (64-32-10,
2,410 parameters, 1,438 training and 359 test digits) and an MLP 30-16-2 (530 parameters) on
the standardised breast-cancer data (455 training and 114 test cases). Every method gets the
same budget of example forward passes, counted as the budget of batch evaluations times the
batch size 64:

* annealax ``anneal`` on the full training loss (each evaluation is one forward pass of
  every training example), a run for each of 1/4, 1/2 and 1 of the budget, since its cooling
  schedule spans its run;
* evosax's OpenES, PGPE, SNES and Sep-CMA-ES, populations of 128 evaluated on a new batch of
  64 (drawn with replacement) at every generation, their initial spread ``std_init`` the RMS
  of the initial weights (their default 1.0 fails on networks);
* `metropolis` on random batches of 256, with the minibatch Barker test or with the
  Metropolis test on the same batch (two forward passes per example), per-leaf moves and 4
  chains, cooled by `auto_temperature`, a run per fraction of the budget;
* ``optax.adam(1e-3)`` on batches of 64 (a forward pass per example; its backward passes are
  not counted).

It reports test accuracy and training loss at 1/4, 1/2 and 1 of the budget, and wall time,
and plots test accuracy against forward passes (docs/images/benchmarks/networks.png).

    python benchmarks/networks.py                 # both problems, 3 seeds
    python benchmarks/networks.py --seeds 1 --scale 0.05 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import datetime
import functools
import itertools
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from docs_section import DOCS, write_section
from evosax.algorithms import PGPE, SNES, Open_ES, Sep_CMA_ES
from flax import nnx
from jax.flatten_util import ravel_pytree
from machine import describe
from paired import relative_gap
from sklearn.datasets import load_breast_cancer

import annealax
from annealax._annealing.anneal import DEFAULT_PROPOSAL

matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from _digits import MLP, split_digits

BATCH = 64
POPULATION = 128
FRACTIONS = (0.25, 0.5, 1.0)
PLOT = Path(__file__).parent.parent / "docs" / "images" / "benchmarks" / "networks.png"


class Problem(NamedTuple):
    """A classifier, its data and its budget of batch evaluations."""

    name: str
    graphdef: Any
    params: Any
    train: tuple[jax.Array, jax.Array]
    test: tuple[jax.Array, jax.Array]
    batch_evaluations: int


class BreastCancerMLP(nnx.Module):
    """30 features, 16 hidden ReLU units, 2 logits."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(30, 16, rngs=rngs)
        self.logits = nnx.Linear(16, 2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.logits(nnx.relu(self.hidden(x)))


def digits_problem(seed: int, scale: float) -> Problem:
    data_key, init_key = jax.random.split(jax.random.key(seed))
    train, test = split_digits(data_key)
    graphdef, params = nnx.split(MLP(32, rngs=nnx.Rngs(init_key)))
    return Problem("digits", graphdef, params, train, test, round(1_280_000 * scale))


def breast_cancer_problem(seed: int, scale: float) -> Problem:
    data_key, init_key = jax.random.split(jax.random.key(seed))
    features, labels = load_breast_cancer(return_X_y=True)
    order = np.asarray(jax.random.permutation(data_key, len(labels)))
    num_test = round(0.2 * len(labels))
    test_index, train_index = order[:num_test], order[num_test:]
    mean, std = features[train_index].mean(0), features[train_index].std(0)
    x = jnp.asarray((features - mean) / std, jnp.float32)
    y = jnp.asarray(labels, jnp.int32)
    graphdef, params = nnx.split(BreastCancerMLP(rngs=nnx.Rngs(init_key)))
    train, test = (x[train_index], y[train_index]), (x[test_index], y[test_index])
    return Problem("breast cancer", graphdef, params, train, test, round(320_000 * scale))


PROBLEMS = {"digits": digits_problem, "breast-cancer": breast_cancer_problem}


def losses(problem: Problem, params, data) -> jax.Array:
    """The per-example cross-entropy losses."""
    return _losses(problem.graphdef, params, data)


def _losses(graphdef, params, data) -> jax.Array:
    images, labels = data
    logits = nnx.merge(graphdef, params)(images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def figures(problem: Problem, params) -> tuple[jax.Array, jax.Array]:
    """The training loss and the test accuracy."""
    return _figures(problem.graphdef, params, problem.train, problem.test)


@functools.partial(jax.jit, static_argnums=0)
def _figures(graphdef, params, train, test) -> tuple[jax.Array, jax.Array]:
    train_loss = jnp.mean(_losses(graphdef, params, train))
    images, labels = test
    logits = nnx.merge(graphdef, params)(images)
    return train_loss, jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def weight_scale(params) -> float:
    """The RMS of the initial weights that are not zero (the biases start at 0)."""
    flat, _ = ravel_pytree(params)
    flat = np.asarray(flat)
    return float(np.sqrt(np.mean(flat[flat != 0] ** 2)))


def batch(key: jax.Array, num_examples: int) -> jax.Array:
    """The indices of a batch, drawn uniformly with replacement (a permutation per step would
    cost more than the step)."""
    return jax.random.randint(key, (BATCH,), 0, num_examples)


class Run(NamedTuple):
    """A method's figures at the checkpoints: forward passes, test accuracy, train loss."""

    passes: list[int]
    accuracy: list[float]
    train_loss: list[float]
    wall_time_s: float


def run_in_chunks(problem, step, state, key, num_steps, passes_per_step, params_of) -> Run:
    """``num_steps`` of ``step(state, batch)`` in 16 scanned chunks; figures after each chunk.

    The wall time counts the chunks, compiled beforehand, and not the figures.
    """
    num_chunks = min(16, num_steps)
    ends = np.linspace(0, num_steps, num_chunks + 1, dtype=int)
    num_examples = len(problem.train[1])

    def chunk(state, start, length):
        def body(state, offset):
            return step(state, batch(jax.random.fold_in(key, start + offset), num_examples)), None

        return jax.lax.scan(body, state, jnp.arange(length))[0]

    compiled = {}
    for length in set(np.diff(ends).tolist()):
        compiled[length] = (
            jax.jit(chunk, static_argnums=2).lower(state, jnp.int32(0), length).compile()
        )
    run = Run([], [], [], 0.0)
    for start, end in itertools.pairwise(ends):
        began = time.perf_counter()
        state = jax.block_until_ready(compiled[end - start](state, jnp.int32(start)))
        run = run._replace(wall_time_s=run.wall_time_s + time.perf_counter() - began)
        train_loss, accuracy = figures(problem, params_of(state))
        run.passes.append(int(end) * passes_per_step)
        run.accuracy.append(float(accuracy))
        run.train_loss.append(float(train_loss))
    return run


def adam(problem: Problem, key: jax.Array) -> Run:
    tx = optax.adam(1e-3)
    images, labels = problem.train

    def step(state, index):
        params, opt_state = state
        grads = jax.grad(lambda p: jnp.mean(losses(problem, p, (images[index], labels[index]))))(
            params
        )
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    state = (problem.params, tx.init(problem.params))
    return run_in_chunks(
        problem, step, state, key, problem.batch_evaluations, BATCH, lambda s: s[0]
    )


def evolution_strategy(make: Callable, problem: Problem, key: jax.Array) -> Run:
    flat, unravel = ravel_pytree(problem.params)
    strategy, params = make(flat, weight_scale(problem.params))
    images, labels = problem.train
    init_key, run_key = jax.random.split(key)

    def fitness(member, index):
        return jnp.mean(losses(problem, unravel(member), (images[index], labels[index])))

    def step(carry, index):
        state, step_key = carry
        step_key, ask_key, tell_key = jax.random.split(step_key, 3)
        population, state = strategy.ask(ask_key, state, params)
        values = jax.vmap(fitness, in_axes=(0, None))(population, index)
        state, _ = strategy.tell(tell_key, population, values, state, params)
        return state, step_key

    state = (strategy.init(init_key, flat, params), run_key)
    num_generations = problem.batch_evaluations // POPULATION
    return run_in_chunks(
        problem, step, state, key, num_generations, POPULATION * BATCH,
        lambda s: unravel(s[0].mean),
    )  # fmt: skip


def open_es(flat, scale):
    strategy = Open_ES(
        POPULATION, flat, optimizer=optax.adam(5e-3), std_schedule=optax.constant_schedule(scale)
    )
    return strategy, strategy.default_params


def pgpe(flat, scale):
    strategy = PGPE(POPULATION, flat, optimizer=optax.adam(5e-3))
    return strategy, strategy.default_params.replace(std_init=scale)


def snes(flat, scale):
    strategy = SNES(POPULATION, flat)
    return strategy, strategy.default_params.replace(std_init=scale)


def sep_cma_es(flat, scale):
    strategy = Sep_CMA_ES(POPULATION, flat)
    return strategy, strategy.default_params.replace(std_init=scale)


def anneal_steps(problem: Problem, fraction: float, num_chains: int) -> int:
    """The steps of ``num_chains`` chains on the full training loss (one evaluation of the
    starting point included) that fit in ``fraction`` of the budget of forward passes."""
    passes = round(fraction * problem.batch_evaluations) * BATCH
    return max(1, passes // (len(problem.train[1]) * num_chains) - 1)


def annealer(settings: dict, num_chains: int) -> Callable[[Problem, jax.Array], Run]:
    """``anneal`` on the full training loss, one run for each fraction of the budget."""

    def run(problem: Problem, key: jax.Array) -> Run:
        num_train = len(problem.train[1])

        def loss(params):
            return jnp.mean(losses(problem, params, problem.train))

        result = Run([], [], [], 0.0)
        for fraction in FRACTIONS:
            num_steps = anneal_steps(problem, fraction, num_chains)
            call = functools.partial(
                annealax.anneal, loss, problem.params, num_steps=num_steps,
                num_chains=num_chains, **settings,
            )  # fmt: skip
            jax.block_until_ready(call(key=jax.random.fold_in(key, 1)).best_value)
            began = time.perf_counter()
            outcome = jax.block_until_ready(call(key=key))
            result = result._replace(wall_time_s=time.perf_counter() - began)
            train_loss, accuracy = figures(problem, outcome.best_params)
            result.passes.append(int(outcome.num_evaluations) * num_train)
            result.accuracy.append(float(accuracy))
            result.train_loss.append(float(train_loss))
        return result

    return run


def minibatch_annealer(test: str, batch_size: int, num_chains: int) -> Callable:
    """`metropolis` on random batches, with the minibatch Barker test or the Metropolis test
    on the same batch for the current and the proposed weights (two forward passes per
    example), cooled by `auto_temperature` over its run; one run per fraction of the budget."""

    def run(problem: Problem, key: jax.Array) -> Run:
        images, labels = problem.train
        num_train = len(labels)
        barker = test == "barker"
        result = Run([], [], [], 0.0)
        for fraction in FRACTIONS:
            passes = round(fraction * problem.batch_evaluations) * BATCH
            num_steps = passes // (2 * batch_size * num_chains)
            tx = annealax.metropolis(
                num_chains,
                key=key,
                temperature=annealax.auto_temperature(num_steps=num_steps),
                proposal=annealax.random_walk(per_leaf=True),
                minibatch=annealax.minibatch_barker(num_train) if barker else True,
            )

            def body(state, step_key, tx=tx):
                index = jax.random.choice(step_key, num_train, (batch_size,), replace=False)

                def batch_losses(params):
                    per_example = losses(problem, params, (images[index], labels[index]))
                    return per_example if barker else jnp.mean(per_example)

                return tx.update(None, state, problem.params, value_fn=batch_losses)[1], None

            keys = jax.random.split(jax.random.fold_in(key, 7), num_steps)
            scan = jax.jit(lambda state, keys, body=body: jax.lax.scan(body, state, keys)[0])
            compiled = scan.lower(tx.init(problem.params), keys).compile()
            began = time.perf_counter()
            state = jax.block_until_ready(compiled(tx.init(problem.params), keys))
            result = result._replace(wall_time_s=time.perf_counter() - began)
            take_best = functools.partial(jnp.take, indices=jnp.argmin(state.values), axis=0)
            best = jax.tree.map(take_best, state.chains)
            train_loss, accuracy = figures(problem, best)
            result.passes.append(num_steps * 2 * batch_size * num_chains)
            result.accuracy.append(float(accuracy))
            result.train_loss.append(float(train_loss))
        return result

    return run


METHODS = {
    "Adam (gradients)": adam,
    "OpenES": functools.partial(evolution_strategy, open_es),
    "PGPE": functools.partial(evolution_strategy, pgpe),
    "SNES": functools.partial(evolution_strategy, snes),
    "Sep-CMA-ES": functools.partial(evolution_strategy, sep_cma_es),
    "anneal, defaults (1 chain)": annealer({}, 1),
    "anneal, defaults, 4 chains": annealer({}, 4),
    "anneal, dense random_walk(per_leaf=True), 4 chains": annealer(
        {"proposal": annealax.random_walk(per_leaf=True)}, 4
    ),
    "anneal, the moves for vectors, 64 chains": annealer({"proposal": DEFAULT_PROPOSAL}, 64),
    "metropolis, batches of 256, minibatch_barker, 4 chains": minibatch_annealer("barker", 256, 4),
    "metropolis, batches of 256, minibatch=True, 4 chains": minibatch_annealer(
        "same batch", 256, 4
    ),
}


def at_fraction(run: Run, fraction: float, total: int) -> tuple[float, float]:
    """Accuracy and training loss at the last checkpoint within ``fraction`` of ``total``."""
    within = [i for i, passes in enumerate(run.passes) if passes <= fraction * total * 1.001]
    index = within[-1] if within else 0
    return run.accuracy[index], run.train_loss[index]


def mean_std(values: list[float]) -> str:
    """Mean ± sample std; a NaN (a strategy that diverged) shows as nan."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def table(name: str, runs: dict[str, list[Run]], total: int) -> str:
    lines = [
        f"**{name}**, {total:,} example forward passes ({total // BATCH:,} batches of 64), "
        f"{len(next(iter(runs.values())))} seed(s): test accuracy (mean ± std over seeds) at a "
        "quarter, a half and all of the budget, training loss and wall time at the end.",
        "",
        "| method | accuracy at 1/4 | at 1/2 | at 1 | train loss | wall time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for method, method_runs in runs.items():
        cells = []
        for fraction in FRACTIONS:
            cells.append(mean_std([at_fraction(r, fraction, total)[0] for r in method_runs]))
        loss = mean_std([r.train_loss[-1] for r in method_runs])
        wall = mean_std([r.wall_time_s for r in method_runs])
        lines.append(f"| {method} | {' | '.join(cells)} | {loss} | {wall} |")
    return "\n".join(lines) + gap_to_peers(runs, total)


STRATEGIES = ("OpenES", "PGPE", "SNES", "Sep-CMA-ES")
DEFAULTS = "anneal, defaults (1 chain)"
ADAM = "Adam (gradients)"


def gap_to_peers(runs: dict[str, list[Run]], total: int) -> str:
    """The gap of anneal's defaults, with all of the budget, to the best strategy (by mean) and
    to Adam: the mean of the paired differences over seeds, relative to the peer's mean, with
    its standard error; empty unless the runs hold the defaults and a peer."""
    if DEFAULTS not in runs:
        return ""

    def final(method: str) -> np.ndarray:
        return np.array([at_fraction(r, 1.0, total)[0] for r in runs[method]])

    ours = final(DEFAULTS)
    strategies = [m for m in STRATEGIES if m in runs]
    peers = [max(strategies, key=lambda m: np.mean(final(m)))] if strategies else []
    peers += [ADAM] if ADAM in runs else []
    parts = []
    for peer in peers:
        theirs = final(peer)
        gap, error = relative_gap(ours, theirs)
        role = " (the best strategy)" if peer in STRATEGIES else ""
        parts.append(
            f"{peer}{role} {np.mean(theirs):.4f}: a gap of {100 * gap:.2f}% ± {100 * error:.2f}%"
        )
    if not parts:
        return ""
    return (
        f"\n\nWith all of the budget, `anneal`'s defaults reach {np.mean(ours):.4f} against "
        + "; ".join(parts)
        + " (the mean over seeds of the paired differences, relative to the peer's mean, ± its "
        "standard error; a positive gap is the peer ahead)."
    )


def plot(results: dict[str, dict[str, list[Run]]], path: Path) -> None:
    figure, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for axis, (name, runs) in zip(axes[0], results.items(), strict=True):
        for method, method_runs in runs.items():
            first = method_runs[0]
            accuracy = np.mean([r.accuracy for r in method_runs], axis=0)
            axis.plot(first.passes, accuracy, marker=".", label=method)
        axis.set(
            xlabel="example forward passes", ylabel="test accuracy", xscale="log",
            title=name, ylim=(0.5, 1.0),
        )  # fmt: skip
        axis.grid(alpha=0.3, which="both")
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="a fraction of the budget")
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument(
        "--section", default="networks", choices=("networks", "networks-goal"),
        help="the docs section to write; networks-goal writes no plot",
    )  # fmt: skip
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    results = {}
    sections = []
    for problem_name in args.problems:
        runs: dict[str, list[Run]] = {method: [] for method in args.methods}
        for seed in range(args.seeds):
            problem = PROBLEMS[problem_name](seed, args.scale)
            for method in args.methods:
                run = METHODS[method](problem, jax.random.key(1000 + seed))
                runs[method].append(run)
                print(
                    f"{problem.name} seed {seed} {method}: accuracy {run.accuracy[-1]:.4f}, "
                    f"loss {run.train_loss[-1]:.4f}, {run.wall_time_s:.1f} s",
                    flush=True,
                )
        results[problem.name] = runs
        sections.append(table(problem.name, runs, problem.batch_evaluations * BATCH))
    markdown = "\n\n".join(sections)
    print(markdown)
    if args.no_write:
        return
    methods = "" if args.methods == list(METHODS) else " --methods " + shlex.join(args.methods)
    if args.problems != list(PROBLEMS):
        methods = " --problems " + shlex.join(args.problems) + methods
    section = "" if args.section == "networks" else f" --section {args.section}"
    header = (
        f"Measured {datetime.date.today()} on {describe('jax', 'optax', 'flax')}, with "
        f"`python benchmarks/networks.py --seeds {args.seeds} --scale {args.scale}{methods}"
        f"{section}`.\n\n"
    )
    image = ""
    if args.section == "networks":
        plot(results, PLOT)
        image = "\n\n![Test accuracy against forward passes](images/benchmarks/networks.png)"
    write_section(DOCS, args.section, header + markdown + image, heading="## Training networks")


if __name__ == "__main__":
    main()
