"""A grid of annealing experiments in one compiled call: `annealax.anneal` under `jax.vmap`.

Anneals the 10-dimensional Rastrigin function (global minimum 0 at the origin, a local minimum at
every integer point) from x = (3, ..., 3), for every seed x initial temperature x step size of a
grid, with geometric cooling to 1e-4 of the initial temperature and fixed step sizes (no
adaptation, dense Gaussian moves: the settings the grid is about). The whole grid is one
`jax.jit`-compiled call of `annealax.anneal` mapped three times with `jax.vmap`. The same grid is
then run with the Optax transformation, `optax.inject_hyperparams(annealax.metropolis)`, whose
temperature and step size live in the optimizer state and are batched like any other array: its
results are bit-identical.

The script prints the median best value over the seeds for each initial temperature and step
size, and writes a heat map of it.

    python examples/sweep.py            # 5 seeds x 7 temperatures x 5 step sizes, 4000 steps
    python examples/sweep.py --quick    # 3 seeds x 4 temperatures x 3 step sizes, 500 steps
"""

from __future__ import annotations

import argparse
import dataclasses
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
from tqdm import tqdm

import annealax

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BOUNDS = (-5.12, 5.12)
FINAL_TEMPERATURE_RATIO = 1e-4


@dataclasses.dataclass(frozen=True)
class Sweep:
    """The settings shared by every run of the grid, and the grid's axes."""

    dimension: int
    num_chains: int
    num_steps: int
    num_seeds: int
    initial_temperatures: tuple[float, ...]
    step_sizes: tuple[float, ...]


FULL = Sweep(
    dimension=10,
    num_chains=64,
    num_steps=4000,
    num_seeds=5,
    initial_temperatures=(1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
    step_sizes=(0.03, 0.1, 0.3, 1.0, 3.0),
)
QUICK = Sweep(
    dimension=10,
    num_chains=32,
    num_steps=500,
    num_seeds=3,
    initial_temperatures=(1.0, 10.0, 100.0, 1000.0),
    step_sizes=(0.1, 0.3, 1.0),
)


def rastrigin(x: jax.Array) -> jax.Array:
    return 10.0 * x.size + jnp.sum(jnp.square(x) - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def starting_point(sweep: Sweep) -> jax.Array:
    return jnp.full(sweep.dimension, 3.0, jnp.float32)


def cooling(sweep: Sweep, initial_temperature: jax.Array) -> optax.Schedule:
    return optax.exponential_decay(initial_temperature, sweep.num_steps, FINAL_TEMPERATURE_RATIO)


def anneal_best_value(sweep: Sweep, key, initial_temperature, step_size) -> jax.Array:
    """One run of `annealax.anneal`; its arguments may be traced by `jax.vmap`."""
    result = annealax.anneal(
        rastrigin,
        starting_point(sweep),
        key=key,
        num_steps=sweep.num_steps,
        num_chains=sweep.num_chains,
        temperature=cooling(sweep, initial_temperature),
        step_size=step_size,
        proposal="gaussian",
        bounds=BOUNDS,
        adaptation=None,
    )
    return result.best_value


def injected_best_value(sweep: Sweep, key, initial_temperature, step_size) -> jax.Array:
    """The same run with the transformation, its temperature set in the state before each step.

    `num_chains` must be static (it sets the shapes). The key only initialises the chains, so it
    is static too, and the transformation is built, with this run's key, inside the mapped
    function. The numeric hyperparameters (temperature, step size) are arrays of the state.
    """
    tx = optax.inject_hyperparams(annealax.metropolis, static_args=("num_chains", "key"))(
        sweep.num_chains,
        key=key,
        temperature=initial_temperature,
        step_size=step_size,
        bounds=BOUNDS,
        adaptation=None,
    )
    temperature = cooling(sweep, initial_temperature)

    def train_step(carry, step):
        params, state = carry
        state.hyperparams["temperature"] = temperature(step)
        updates, state = tx.update(None, state, params, value_fn=rastrigin)
        return (optax.apply_updates(params, updates), state), None

    params = starting_point(sweep)
    (params, state), _ = jax.lax.scan(
        train_step, (params, tx.init(params)), jnp.arange(sweep.num_steps)
    )
    return optax.tree.get(state, "best_value")


def over_grid(run_one: Callable) -> Callable:
    """Map ``run_one(key, initial_temperature, step_size)`` over keys x temperatures x steps."""
    over_steps = jax.vmap(run_one, in_axes=(None, None, 0))
    over_temperatures = jax.vmap(over_steps, in_axes=(None, 0, None))
    return jax.jit(jax.vmap(over_temperatures, in_axes=(0, None, None)))


def run_grid(run_one: Callable, sweep: Sweep, key: jax.Array) -> dict:
    """Compile and run the whole grid as one call; the values have shape (seeds, T0, steps)."""
    arguments = (
        jax.random.split(key, sweep.num_seeds),
        jnp.asarray(sweep.initial_temperatures, jnp.float32),
        jnp.asarray(sweep.step_sizes, jnp.float32),
    )
    start = time.perf_counter()
    compiled = over_grid(functools.partial(run_one, sweep)).lower(*arguments).compile()
    compile_time = time.perf_counter() - start
    start = time.perf_counter()
    values = np.asarray(jax.block_until_ready(compiled(*arguments)))
    return {"values": values, "compile_s": compile_time, "run_s": time.perf_counter() - start}


def print_table(sweep: Sweep, median: np.ndarray, lowest: np.ndarray, difference: np.ndarray):
    step_columns = [f"sigma={step_size:g}" for step_size in sweep.step_sizes]
    header = ["T0", *step_columns, "lowest", "max abs diff injected"]
    print(
        f"\nmedian best value over {sweep.num_seeds} seeds, {sweep.dimension}-d Rastrigin "
        f"(start value {float(rastrigin(starting_point(sweep))):.0f}), "
        f"{sweep.num_chains} chains x {sweep.num_steps} steps per run"
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("-" * (len(cell) + 2) for cell in header) + "|")
    for i, temperature in enumerate(sweep.initial_temperatures):
        cells = [f"{value:.2f}" for value in median[i]]
        cells += [f"{lowest[i]:.2f}", f"{difference[i]:g}"]
        print(f"| T0={temperature:g} | " + " | ".join(cells) + " |")


def plot(sweep: Sweep, median: np.ndarray, path: Path) -> None:
    """Heat map of the median best value over initial temperature x step size."""
    figure, axis = plt.subplots(figsize=(1.3 * len(sweep.step_sizes) + 2.5, 5))
    image = axis.imshow(median, cmap="viridis_r", aspect="auto", origin="lower")
    for (i, j), value in np.ndenumerate(median):
        color = "black" if image.norm(value) < 0.5 else "white"  # dark text on light cells
        axis.text(j, i, f"{value:.1f}", ha="center", va="center", color=color, fontsize=9)
    axis.set_xticks(range(len(sweep.step_sizes)), [f"{s:g}" for s in sweep.step_sizes])
    axis.set_yticks(
        range(len(sweep.initial_temperatures)), [f"{t:g}" for t in sweep.initial_temperatures]
    )
    axis.set(xlabel="step size", ylabel="initial temperature $T_0$")
    figure.colorbar(image, label=f"median best value over {sweep.num_seeds} seeds")
    axis.set_title(
        f"{sweep.dimension}-d Rastrigin, {sweep.num_chains} chains x {sweep.num_steps} steps"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/sweep"))
    parser.add_argument("--quick", action="store_true", help="a small grid, for a smoke test")
    args = parser.parse_args(argv)
    sweep = QUICK if args.quick else FULL
    key = jax.random.key(args.seed)

    runs = {"anneal": anneal_best_value, "inject_hyperparams": injected_best_value}
    grids = {}
    with tqdm(total=len(runs), desc="grids", unit="grid") as bar:
        for name, run_one in runs.items():
            bar.set_postfix(grid=name)
            grids[name] = run_grid(run_one, sweep, key)
            bar.update()
    values = grids["anneal"]["values"]
    median = np.median(values, axis=0)
    lowest = values.min(axis=(0, 2))
    difference = np.abs(values - grids["inject_hyperparams"]["values"]).max(axis=(0, 2))

    num_runs = values.size
    for name, grid in grids.items():
        print(
            f"{name}: {num_runs} runs in one call, compile {grid['compile_s']:.1f} s, "
            f"run {grid['run_s']:.2f} s"
        )
    print_table(sweep, median, lowest, difference)

    args.out.mkdir(parents=True, exist_ok=True)
    plot(sweep, median, args.out / "sweep.png")
    summary = {
        "settings": dataclasses.asdict(sweep),
        "best_values": values.tolist(),
        "median_best_values": median.tolist(),
        "max_abs_difference_injected": float(difference.max()),
        "wall_time_s": {
            name: {"compile": grid["compile_s"], "run": grid["run_s"]}
            for name, grid in grids.items()
        },
    }
    (args.out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"plot and results written to {args.out}/")
    return summary


if __name__ == "__main__":
    main()
