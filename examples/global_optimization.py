"""Minimise standard test functions with `annealax.anneal` and `scipy.optimize.dual_annealing`.

Sphere, Rosenbrock, Rastrigin, Ackley and Griewank (the formulas of `benchmarks/test_functions.py`)
in ``--dim`` dimensions (10 by default), on their usual boxes, Rosenbrock on [-5, 10]. Both
optimizers start at the same random point of the box. `annealax.anneal` runs with its self-tuning
defaults (64 chains, one coordinate per move, the temperature measured from the first moves and
cooled geometrically, step sizes adapted) for 10,000 steps, with the box as bounds and an L-BFGS
polish of its 4 best chains every 500 steps and at the end. `scipy.optimize.dual_annealing` runs
with its defaults (which include a local search by L-BFGS-B) and a fixed seed. The script prints
a table (best value, wall time, evaluations of each) and plots the best value found against the
time. annealax computes in float32, scipy in float64; annealax's compilation is timed apart.

    python examples/global_optimization.py            # 5 functions, under a minute on a laptop
    python examples/global_optimization.py --dim 30   # the same in 30 dimensions
    python examples/global_optimization.py --quick    # 3 functions in 5 dimensions, about 10 s
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from scipy.optimize import dual_annealing
from tqdm import tqdm

import annealax

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# The test functions of the benchmarks, each a formula ``formula(x, xp)`` of the array module
# (numpy for scipy, jax.numpy for annealax) and its box.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from test_functions import FUNCTIONS, TUNED, TestFunction

# Rosenbrock's box: [-5, 10] in this example and its figures; the benchmarks search the smaller
# [-5, 5] of the COCO/BBOB suite (`--rosenbrock-box -5 5`).
ROSENBROCK_BOX = (-5.0, 10.0)
QUICK_FUNCTIONS = ("sphere", "rastrigin", "ackley")


POLISH = annealax.polish(30, every=500)


@dataclasses.dataclass(frozen=True)
class Budget:
    num_chains: int
    num_steps: int
    scipy_maxiter: int


def run_annealax(function: TestFunction, x0: jax.Array, key: jax.Array, budget: Budget) -> dict:
    """`annealax.anneal` from ``x0``, compiled ahead of time so that the run is timed alone."""

    def run(x0, key):
        return annealax.anneal(
            lambda x: function.formula(x, jnp),
            x0,
            key=key,
            num_steps=budget.num_steps,
            num_chains=budget.num_chains,
            bounds=(function.lower, function.upper),
            polish=POLISH,
        )

    start = time.perf_counter()
    compiled = jax.jit(run).lower(x0, key).compile()
    compile_time = time.perf_counter() - start
    start = time.perf_counter()
    result = jax.block_until_ready(compiled(x0, key))
    run_time = time.perf_counter() - start
    steps = np.arange(1, budget.num_steps + 1)
    return {
        "best_value": float(result.best_value),
        "wall_time_s": run_time,
        "compile_time_s": compile_time,
        "evaluations": int(result.num_evaluations),
        # One compiled call: its steps are assumed to take equal times.
        "times": steps * run_time / budget.num_steps,
        "best_values": np.asarray(result.trace.best_value),
    }


def run_scipy(function: TestFunction, x0: np.ndarray, seed: int, budget: Budget) -> dict:
    """`dual_annealing` from ``x0``, recording the time and value of every evaluation."""
    times, values = [], []
    start = time.perf_counter()

    def recorded(x):
        value = function.formula(x, np)
        times.append(time.perf_counter() - start)
        values.append(value)
        return value

    result = dual_annealing(
        recorded,
        [(function.lower, function.upper)] * len(x0),
        maxiter=budget.scipy_maxiter,
        rng=np.random.default_rng(seed),
        x0=x0,
    )
    wall_time = time.perf_counter() - start
    return {
        "best_value": float(result.fun),
        "wall_time_s": wall_time,
        "evaluations": int(result.nfev),
        "times": np.asarray(times),
        "best_values": np.minimum.accumulate(values),
    }


def compare(function: TestFunction, dim: int, key: jax.Array, seed: int, budget: Budget) -> dict:
    start_key, anneal_key = jax.random.split(key)
    x0 = jax.random.uniform(start_key, (dim,), minval=function.lower, maxval=function.upper)
    return {
        "start_value": float(function.formula(np.asarray(x0, np.float64), np)),
        "annealax": run_annealax(function, x0, anneal_key, budget),
        "scipy": run_scipy(function, np.asarray(x0, np.float64), seed, budget),
    }


def scientific(value: float) -> str:
    """``1.234e05`` rather than ``1.234e+05``: a plain number in the table."""
    return f"{value:.3e}".replace("e+", "e")


def print_table(results: dict) -> None:
    columns = (
        "start value",
        "annealax best",
        "scipy best",
        "annealax time (s)",
        "annealax compile (s)",
        "scipy time (s)",
        "annealax evaluations",
        "scipy evaluations",
    )
    print("| function   | " + " | ".join(columns) + " |")
    print("|" + "|".join("-" * (len(c) + 2) for c in ("function  ", *columns)) + "|")
    for name, result in results.items():
        ours, theirs = result["annealax"], result["scipy"]
        cells = (
            scientific(result["start_value"]),
            scientific(ours["best_value"]),
            scientific(theirs["best_value"]),
            f"{ours['wall_time_s']:.2f}",
            f"{ours['compile_time_s']:.2f}",
            f"{theirs['wall_time_s']:.2f}",
            str(ours["evaluations"]),
            str(theirs["evaluations"]),
        )
        row = " | ".join(
            cell.rjust(len(column)) for cell, column in zip(cells, columns, strict=True)
        )
        print(f"| {name:<10} | {row} |")


FLOOR = 1e-15  # the lowest value drawn on the log scale


def plot(results: dict, dim: int, path: Path) -> None:
    """Best value so far against the time, one panel per function."""
    num_columns = min(3, len(results))
    num_rows = -(-len(results) // num_columns)
    figure, axes = plt.subplots(
        num_rows, num_columns, figsize=(4.5 * num_columns, 3.6 * num_rows), squeeze=False
    )
    for axis, (name, result) in zip(axes.flat, results.items(), strict=False):
        for label, run in (
            ("annealax.anneal", result["annealax"]),
            ("dual_annealing", result["scipy"]),
        ):
            axis.plot(run["times"], np.maximum(run["best_values"], FLOOR), label=label)
        axis.set(title=f"{name}, {dim} dimensions", xscale="log", yscale="log")
        axis.set(
            xlabel="time (s), compilation excluded", ylabel=f"best value so far (floor {FLOOR:g})"
        )
        axis.grid(alpha=0.3, which="both")
        axis.legend()
    for axis in axes.flat[len(results) :]:
        axis.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--functions", nargs="+", choices=TUNED, default=None)
    parser.add_argument(
        "--rosenbrock-box",
        type=float,
        nargs=2,
        default=ROSENBROCK_BOX,
        metavar=("LOWER", "UPPER"),
        help="the bounds of Rosenbrock in every coordinate (default: -5 10)",
    )
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/global_optimization"))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sphere, Rastrigin and Ackley in 5 dimensions; 64 chains, 1,000 steps; "
        "dual_annealing with 100 iterations",
    )
    args = parser.parse_args(argv)
    if args.quick:
        dim, budget = 5, Budget(num_chains=64, num_steps=1000, scipy_maxiter=100)
        names = args.functions or QUICK_FUNCTIONS
    else:
        dim, budget = args.dim, Budget(args.chains, args.steps, scipy_maxiter=1000)
        names = args.functions or TUNED
    if min(dim, budget.num_chains, budget.num_steps) < 1:
        parser.error("--dim, --chains and --steps must be >= 1")
    lower, upper = args.rosenbrock_box
    if not lower < upper:
        parser.error(f"--rosenbrock-box must have LOWER < UPPER, got {lower:g} {upper:g}")
    functions = {name: FUNCTIONS[name] for name in TUNED}
    functions["rosenbrock"] = dataclasses.replace(functions["rosenbrock"], lower=lower, upper=upper)

    keys = jax.random.split(jax.random.key(args.seed), len(names))
    results = {}
    with tqdm(names, desc="functions", unit="function") as bar:
        for name, key in zip(bar, keys, strict=True):
            bar.set_postfix(function=name)
            results[name] = compare(functions[name], dim, key, args.seed, budget)

    print(
        f"\n{dim} dimensions, seed {args.seed}; annealax: {budget.num_chains} chains x "
        f"{budget.num_steps} steps; dual_annealing: maxiter {budget.scipy_maxiter}"
    )
    print_table(results)

    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, dim, args.out / "global_optimization.png")
    summary = {
        name: {
            "start_value": result["start_value"],
            **{
                method: {k: v for k, v in result[method].items() if not isinstance(v, np.ndarray)}
                for method in ("annealax", "scipy")
            },
        }
        for name, result in results.items()
    }
    (args.out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"plot and results written to {args.out}/")
    return summary


if __name__ == "__main__":
    main()
