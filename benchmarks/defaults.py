"""Why `annealax.anneal` has the defaults it has: each default against its alternatives.

Every variant changes one setting of the configuration that benchmarks/quality.py runs
(`anneal`'s defaults, 64 chains, ``polish=annealax.polish(30, every=500)``) and minimises the
tuned suite (sphere, Rosenbrock, Rastrigin, Ackley, Griewank), and the two held-out functions
whose misses in quality.py changed defaults (Schwefel: jumps of Cauchy-distributed length and
box-wide jumps; Alpine N.1: cooling to 1e-8 T0 instead of 1e-4), from the same starting points
with the same budget of evaluations, 45,000 per dimension: about what the defaults use on a
2-core CPU in the time `scipy.optimize.dual_annealing` takes. The budget is in evaluations, not
seconds, so the tables do not depend on the machine's load. A table gives the median best value
over the seeds and, per variant, how many (function, dimension, seed) runs reached the tie
tolerance of quality.py (1e-6 of the function's typical magnitude).

A second table compares the kinds of jump on Schwefel's function in 100 dimensions, 5 seeds,
at a smaller budget (25,000 evaluations per dimension), where their differences show. A third
runs the moves for rotated problems of benchmarks/rotated.py (the covariance move with draws,
and its mixture with the default move, each with that benchmark's cooling and polish) on the
same suite as the first, beside the defaults: what they would cost on separable functions. A
longer polish than the defaults' pays for its extra evaluations with fewer steps.

    python benchmarks/defaults.py            # 10 and 30 dimensions, 2 seeds; writes the docs
    python benchmarks/defaults.py --tables moves  # the third table only
    python benchmarks/defaults.py --quick    # 10 dimensions, 1 seed, 2 variants; prints only
"""

from __future__ import annotations

import argparse
import datetime
import functools
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from docs_section import DOCS, write_section
from machine import describe
from rotated import POLISH_EVALUATIONS_PER_ITERATION, annealax_settings
from test_functions import TUNED, make_problem
from tqdm import tqdm

import annealax

EVALUATIONS_PER_DIMENSION = 45_000
POLISH = annealax.polish(30, every=500)
BASE = dict(num_chains=64, polish=POLISH)

FUNCTIONS = (*TUNED, "schwefel", "alpine")
"""The tuned suite, and the two held-out functions whose misses changed defaults."""
JUMP_STUDY = dict(functions=("schwefel",), dims=(100,), seeds=5, evaluations_per_dimension=25_000)


def cooled_to(ratio: float) -> Callable[[int], dict]:
    """Settings that cool geometrically to ``ratio`` T0 over the run instead of to 1e-8 T0."""
    return lambda num_steps: dict(
        temperature=annealax.auto_temperature(
            cooling=annealax.geometric_temperature(1.0, ratio, num_steps)
        )
    )


ONE_COORDINATE = annealax.random_walk(count=1)
"""The default move without its jumps."""

VARIANTS: dict[str, dict | Callable[[int], dict]] = {
    "defaults": {},
    "no jumps (jump_probability=0)": dict(proposal=ONE_COORDINATE),
    "no box-wide jumps (box_jump_share=0)": dict(
        proposal=annealax.jumps(ONE_COORDINATE, box_share=0.0)
    ),
    "every jump box-wide (box_jump_share=1)": dict(
        proposal=annealax.jumps(ONE_COORDINATE, box_share=1.0)
    ),
    "cooling to 1e-4 T0": cooled_to(1e-4),
    "dense Gaussian moves": dict(proposal=annealax.jumps("gaussian")),
    "dense Cauchy moves": dict(proposal=annealax.jumps("cauchy")),
    "fixed step size (no adaptation)": dict(adaptation=None),
    "256 chains": dict(num_chains=256),
    "polish at the end only": dict(polish=annealax.polish(100)),
    "no polish": dict(polish=None),
}

MOVE_VARIANTS: dict[str, dict | Callable[[int], dict]] = {
    "defaults": {},
    "covariance move with draws (rotated.py's configuration)": functools.partial(
        annealax_settings, "draws"
    ),
    "mixture: the default move at 8 steps in 10, else the covariance move with draws": (
        functools.partial(annealax_settings, "mixture")
    ),
}
"""The moves of benchmarks/rotated.py, with its cooling and polish, on the separable suite."""

TABLES = ("defaults", "jumps", "moves")
"""The tables of the run, each a section of the docs of that name."""

JUMP_VARIANTS: dict[str, dict | Callable[[int], dict]] = {
    "defaults (a quarter of the jumps box-wide)": {},
    "every jump of Cauchy length (box_jump_share=0)": dict(
        proposal=annealax.jumps(ONE_COORDINATE, box_share=0.0)
    ),
    "every jump box-wide (box_jump_share=1)": dict(
        proposal=annealax.jumps(ONE_COORDINATE, box_share=1.0)
    ),
    "no jumps (jump_probability=0)": dict(proposal=ONE_COORDINATE),
}


def best_value(
    name: str,
    dim: int,
    seed: int,
    variant: dict | Callable[[int], dict],
    evaluations_per_dimension: int = EVALUATIONS_PER_DIMENSION,
) -> float:
    problem = make_problem(name, dim)
    fixed = variant if isinstance(variant, dict) else {}
    num_chains = fixed.get("num_chains", BASE["num_chains"])
    num_steps = max(1, evaluations_per_dimension * dim // num_chains - 1)
    polish = (variant if isinstance(variant, dict) else variant(1)).get("polish", POLISH)
    if polish is not None and polish.every and polish.steps > POLISH.steps:
        extra = polish.num_chains * polish.steps - POLISH.num_chains * POLISH.steps
        per_step = num_chains + POLISH_EVALUATIONS_PER_ITERATION * extra / polish.every
        num_steps = max(1, int(evaluations_per_dimension * dim / per_step) - 1)
    settings = {**BASE, **(variant if isinstance(variant, dict) else variant(num_steps))}
    result = annealax.anneal(
        problem.jax_fn,
        jnp.asarray(problem.start(seed), jnp.float32),
        key=jax.random.key(seed),
        num_steps=num_steps,
        bounds=(problem.lower, problem.upper),
        **settings,
    )
    return float(result.best_value)


def ablation(
    variants: dict[str, dict | Callable[[int], dict]],
    functions: tuple[str, ...],
    dims: tuple[int, ...],
    seeds: int,
    evaluations_per_dimension: int = EVALUATIONS_PER_DIMENSION,
) -> str:
    """Every variant on every (function, dimension, seed); the table as markdown."""
    cells = [(v, n, d, s) for v in variants for d in dims for n in functions for s in range(seeds)]
    results: dict[tuple[str, str, int], list[float]] = {}
    for variant, name, dim, seed in tqdm(cells, desc="defaults", unit="run"):
        if (variant, name, dim) not in results:
            jax.clear_caches()  # hundreds of compiled runs would exhaust the process's memory maps
        value = best_value(name, dim, seed, variants[variant], evaluations_per_dimension)
        results.setdefault((variant, name, dim), []).append(value)

    header = ["variant", *(f"{name} {dim}-d" for dim in dims for name in functions), "at minimum"]
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {describe('jax')}; "
        f"{evaluations_per_dimension:,} evaluations per dimension, median of {seeds} seed"
        f"{'s' * (seeds > 1)}; the last column counts the runs within the tie tolerance.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for variant in variants:
        cells_text, reached, total = [], 0, 0
        for dim in dims:
            for name in functions:
                values = results[(variant, name, dim)]
                tolerance = make_problem(name, dim).tolerance
                reached += sum(value <= tolerance for value in values)
                total += len(values)
                cells_text.append(f"{np.median(values):.2g}")
        lines.append(f"| {variant} | " + " | ".join(cells_text) + f" | {reached}/{total} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dims", type=int, nargs="+", default=None)
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--doc", type=Path, default=DOCS)
    parser.add_argument("--tables", nargs="+", choices=TABLES, default=list(TABLES))
    args = parser.parse_args(argv)
    dims = tuple(args.dims or ((10,) if args.quick else (10, 30)))
    seeds = args.seeds or (1 if args.quick else 2)
    suite = dict(functions=FUNCTIONS, dims=dims, seeds=seeds)
    studies = {
        "defaults": (VARIANTS, suite),
        "jumps": (
            JUMP_VARIANTS,
            dict(JUMP_STUDY, dims=(30,), seeds=1) if args.quick else JUMP_STUDY,
        ),
        "moves": (MOVE_VARIANTS, suite),
    }
    tables = {}
    for name in args.tables:
        variants, study = studies[name]
        variants = dict(list(variants.items())[:2]) if args.quick else variants
        tables[name] = ablation(variants, **study)
        print("\n" + tables[name])
        if not args.no_write and not args.quick:
            write_section(args.doc, name, tables[name])
            print(f"\nwritten into {args.doc}")
    return tables


if __name__ == "__main__":
    main()
