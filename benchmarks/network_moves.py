"""Which moves train a network: `anneal`'s per-leaf random walk, and population moves.

On the digits MLP of `networks.py` (2,410 parameters) and its budget of example forward
passes, `anneal` minimises the full training loss with ``random_walk(per_leaf=True,
fraction=f)`` for several fractions ``f`` of the weights moved at each step (1 = dense moves)
and numbers of chains, and with the differential-evolution move over the chains, alone and
mixed with the network default, with its other defaults. Each setting runs twice per seed:
with a quarter of the budget and with all of it (its cooling spans its run). It reports the
test accuracy of the best chain, mean ± std over the seeds.

    python benchmarks/network_moves.py                 # 3 seeds, written to the docs
    python benchmarks/network_moves.py --seeds 1 --scale 0.05 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import datetime

import jax
import jax.numpy as jnp
from docs_section import DOCS, write_section
from machine import describe
from networks import BATCH, anneal_steps, digits_problem, figures, losses, mean_std

import annealax
from annealax._annealing.anneal import NETWORK_PROPOSAL

SETTINGS = (
    # (fraction of the weights moved, number of chains)
    (1.0, 4),
    (0.1, 4),
    (0.02, 4),
    (0.1, 2),
    (0.1, 1),
    (0.1, 16),
)
WITH_DIFFERENTIAL_EVOLUTION = annealax.mixture(
    NETWORK_PROPOSAL, annealax.differential_evolution(), probabilities=(0.8, 0.2)
)
WITH_DIFFERENTIAL_EVOLUTION_NAME = "the network default 0.8, `differential_evolution()` 0.2"
POPULATION_SETTINGS = (
    # (the move, its description, number of chains)
    (annealax.differential_evolution(), "`differential_evolution()`", 8),
    (WITH_DIFFERENTIAL_EVOLUTION, WITH_DIFFERENTIAL_EVOLUTION_NAME, 4),
    (WITH_DIFFERENTIAL_EVOLUTION, WITH_DIFFERENTIAL_EVOLUTION_NAME, 8),
)
FRACTIONS_OF_BUDGET = (0.25, 1.0)


def per_leaf_walk(fraction: float):
    """``random_walk(per_leaf=True)`` moving ``fraction`` of the weights (1: all of them)."""
    return annealax.random_walk(per_leaf=True, fraction=None if fraction == 1 else fraction)


def anneal_accuracy(problem, proposal, num_chains: int, budget: float, key) -> float:
    """The test accuracy of `anneal`'s best chain after ``budget`` of the forward passes."""
    result = annealax.anneal(
        lambda params: jnp.mean(losses(problem, params, problem.train)),
        problem.params,
        key=key,
        num_steps=anneal_steps(problem, budget, num_chains),
        num_chains=num_chains,
        proposal=proposal,
    )
    return float(figures(problem, result.best_params)[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="a fraction of the budget")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    runs = [(per_leaf_walk(fraction), chains) for fraction, chains in SETTINGS]
    runs += [(move, chains) for move, _, chains in POPULATION_SETTINGS]
    accuracies = {(run, budget): [] for run in range(len(runs)) for budget in FRACTIONS_OF_BUDGET}
    for seed in range(args.seeds):
        problem = digits_problem(seed, args.scale)
        for run, (proposal, chains) in enumerate(runs):
            for budget in FRACTIONS_OF_BUDGET:
                key = jax.random.key(1000 + seed)
                accuracy = anneal_accuracy(problem, proposal, chains, budget, key)
                accuracies[run, budget].append(accuracy)
                print(f"seed {seed} run {run} budget {budget}: {accuracy:.4f}", flush=True)
    total = problem.batch_evaluations * BATCH
    lines = [
        f"Measured {datetime.date.today()} on {describe('jax', 'flax')}, with "
        f"`python benchmarks/network_moves.py --seeds {args.seeds} --scale {args.scale}`.",
        "",
        f"**digits**, `anneal` with `random_walk(per_leaf=True, fraction=f)`: test accuracy "
        f"(mean ± std over {args.seeds} seed(s)) with a quarter and all of {total:,} example "
        "forward passes.",
        "",
        "| fraction moved f | chains | accuracy at 1/4 | at 1 |",
        "|---|---|---|---|",
    ]
    for run, (fraction, chains) in enumerate(SETTINGS):
        cells = [mean_std(accuracies[run, budget]) for budget in FRACTIONS_OF_BUDGET]
        fraction = "1 (dense)" if fraction == 1 else f"{fraction:g}"
        lines.append(f"| {fraction} | {chains} | {' | '.join(cells)} |")
    lines += [
        "",
        "Population moves over the chains, on their own and mixed with the network default "
        "(`random_walk(per_leaf=True, fraction=0.1)`), at the same budgets:",
        "",
        "| move | chains | accuracy at 1/4 | at 1 |",
        "|---|---|---|---|",
    ]
    for run, (_, description, chains) in enumerate(POPULATION_SETTINGS, start=len(SETTINGS)):
        cells = [mean_std(accuracies[run, budget]) for budget in FRACTIONS_OF_BUDGET]
        lines.append(f"| {description} | {chains} | {' | '.join(cells)} |")
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_write:
        write_section(DOCS, "network-moves", markdown, heading="### Which moves train a network")


if __name__ == "__main__":
    main()
