"""Which moves train a network: `anneal`'s per-leaf random walk by fraction moved and chains.

On the digits MLP of `networks.py` (2,410 parameters) and its budget of example forward
passes, `anneal` minimises the full training loss with ``random_walk(per_leaf=True,
fraction=f)`` for several fractions ``f`` of the weights moved at each step (1 = dense moves)
and numbers of chains, and its other defaults. Each setting runs twice per seed: with a
quarter of the budget and with all of it (its cooling spans its run). It reports the test
accuracy of the best chain, mean ± std over the seeds.

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

SETTINGS = (
    # (fraction of the weights moved, number of chains)
    (1.0, 4),
    (0.1, 4),
    (0.02, 4),
    (0.1, 2),
    (0.1, 1),
    (0.1, 16),
)
FRACTIONS_OF_BUDGET = (0.25, 1.0)


def anneal_accuracy(problem, fraction: float, num_chains: int, budget: float, key) -> float:
    """The test accuracy of `anneal`'s best chain after ``budget`` of the forward passes."""
    result = annealax.anneal(
        lambda params: jnp.mean(losses(problem, params, problem.train)),
        problem.params,
        key=key,
        num_steps=anneal_steps(problem, budget, num_chains),
        num_chains=num_chains,
        proposal=annealax.random_walk(per_leaf=True, fraction=None if fraction == 1 else fraction),
    )
    return float(figures(problem, result.best_params)[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="a fraction of the budget")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    accuracies = {(setting, budget): [] for setting in SETTINGS for budget in FRACTIONS_OF_BUDGET}
    for seed in range(args.seeds):
        problem = digits_problem(seed, args.scale)
        for setting in SETTINGS:
            for budget in FRACTIONS_OF_BUDGET:
                accuracy = anneal_accuracy(problem, *setting, budget, jax.random.key(1000 + seed))
                accuracies[setting, budget].append(accuracy)
                print(f"seed {seed} {setting} budget {budget}: {accuracy:.4f}", flush=True)
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
    for setting in SETTINGS:
        cells = [mean_std(accuracies[setting, budget]) for budget in FRACTIONS_OF_BUDGET]
        fraction = "1 (dense)" if setting[0] == 1 else f"{setting[0]:g}"
        lines.append(f"| {fraction} | {setting[1]} | {' | '.join(cells)} |")
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_write:
        write_section(DOCS, "network-moves", markdown, heading="### Which moves train a network")


if __name__ == "__main__":
    main()
