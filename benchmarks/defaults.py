"""Why `annealax.anneal` has the defaults it has: each default against its alternatives.

Every variant changes one setting of the configuration that benchmarks/quality.py runs
(`anneal`'s defaults, 64 chains, ``polish=annealax.polish(30, every=500)``) and minimises the
tuned suite (sphere, Rosenbrock, Rastrigin, Ackley, Griewank) from the same starting points with
the same budget of evaluations, 45,000 per dimension: about what the defaults use on a 2-core CPU
in the time `scipy.optimize.dual_annealing` takes. The budget is in evaluations, not seconds, so
the table does not depend on the machine's load. The table gives the median best value over the
seeds and, per variant, how many (function, dimension, seed) runs reached the tie tolerance of
quality.py (1e-6 of the function's typical magnitude).

    python benchmarks/defaults.py            # 10 and 30 dimensions, 2 seeds; writes the docs
    python benchmarks/defaults.py --quick    # 10 dimensions, 1 seed, 2 variants; prints only
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from machine import describe
from test_functions import TUNED, make_problem
from tqdm import tqdm

import annealax

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
MARKERS = ("<!-- defaults:start -->", "<!-- defaults:end -->")
EVALUATIONS_PER_DIMENSION = 45_000
POLISH = annealax.polish(30, every=500)
BASE = dict(num_chains=64, polish=POLISH)

VARIANTS = {
    "defaults": {},
    "no jumps (jump_probability=0)": dict(jump_probability=0.0),
    "dense Gaussian moves": dict(proposal="gaussian"),
    "dense Cauchy moves": dict(proposal="cauchy"),
    "fixed step size (no adaptation)": dict(target_acceptance=None),
    "256 chains": dict(num_chains=256),
    "polish at the end only": dict(polish=annealax.polish(100)),
    "no polish": dict(polish=None),
}


def best_value(name: str, dim: int, seed: int, settings: dict) -> float:
    problem = make_problem(name, dim)
    settings = {**BASE, **settings}
    num_steps = max(1, EVALUATIONS_PER_DIMENSION * dim // settings["num_chains"] - 1)
    result = annealax.anneal(
        problem.jax_fn,
        jnp.asarray(problem.start(seed), jnp.float32),
        key=jax.random.key(seed),
        num_steps=num_steps,
        bounds=(problem.lower, problem.upper),
        **settings,
    )
    return float(result.best_value)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dims", type=int, nargs="+", default=None)
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--doc", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    dims = args.dims or ((10,) if args.quick else (10, 30))
    seeds = args.seeds or (1 if args.quick else 2)
    variants = dict(list(VARIANTS.items())[:2]) if args.quick else VARIANTS
    cells = [(v, n, d, s) for v in variants for d in dims for n in TUNED for s in range(seeds)]
    results: dict[tuple[str, str, int], list[float]] = {}
    for variant, name, dim, seed in tqdm(cells, desc="defaults", unit="run"):
        value = best_value(name, dim, seed, variants[variant])
        results.setdefault((variant, name, dim), []).append(value)

    header = ["variant", *(f"{name} {dim}-d" for dim in dims for name in TUNED), "at minimum"]
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {describe('jax')}; "
        f"{EVALUATIONS_PER_DIMENSION:,} evaluations per dimension, median of {seeds} seed"
        f"{'s' * (seeds > 1)}; the last column counts the runs within the tie tolerance.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for variant in variants:
        cells_text, reached, total = [], 0, 0
        for dim in dims:
            for name in TUNED:
                values = results[(variant, name, dim)]
                tolerance = make_problem(name, dim).tolerance
                reached += sum(value <= tolerance for value in values)
                total += len(values)
                cells_text.append(f"{np.median(values):.2g}")
        lines.append(f"| {variant} | " + " | ".join(cells_text) + f" | {reached}/{total} |")
    markdown = "\n".join(lines)
    print("\n" + markdown)
    if not args.no_write and not args.quick:
        text = args.doc.read_text()
        start, end = text.index(MARKERS[0]), text.index(MARKERS[1])
        args.doc.write_text(text[: start + len(MARKERS[0])] + "\n" + markdown + "\n" + text[end:])
        print(f"\nwritten into {args.doc}")
    return markdown


if __name__ == "__main__":
    main()
