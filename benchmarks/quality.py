"""Best values of annealax's annealer against scipy's dual_annealing, evosax and blackjax.

The suite (benchmarks/test_functions.py): sphere, Rosenbrock, Rastrigin, Ackley and Griewank in
10, 30 and 100 dimensions, 5 seeds each, and eight functions held out from the choice of
annealax's defaults (Levy, Schwefel, Styblinski-Tang, Alpine N.1, Salomon, the expanded Schaffer
F6, Xin-She Yang N.2 and Happy Cat), 2 seeds each; a seed fixes a starting point, uniform in the
box, that every method starts from. For every (function, dimension, seed):

- ``dual_annealing``: `scipy.optimize.dual_annealing` with its defaults (and its local search),
  in float64, timed, with its evaluations and every new best value logged;
- ``annealax, equal time``: `annealax.anneal` (float32) with as many steps as fit in the time
  dual_annealing took, from a measured time per step; compilation is timed apart;
- ``annealax, equal evaluations``: `annealax.anneal` with dual_annealing's number of evaluations;
- ``evosax``: evosax's `SimulatedAnnealing` and ``blackjax``: blackjax's random-walk Metropolis
  over vmapped chains, both with dual_annealing's number of evaluations and a geometric cooling
  of their own (see `BASELINE_TEMPERATURE` and `BASELINE_STEP`), reflected into the box.

Only `run_annealax` knows annealax's settings. The tables give medians over the seeds, the
wins/ties/losses of annealax at equal time against dual_annealing (a tie: within 1e-6 of the
function's typical magnitude), and the evaluations each method needed to reach a target; a plot
shows the best value against the time. Expect tens of minutes for the whole suite.

    python benchmarks/quality.py             # prints and writes into docs/benchmarks.md
    python benchmarks/quality.py --quick --no-write   # a smoke run, under a minute
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import blackjax
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from docs_section import DOCS, write_section
from machine import describe
from scipy.optimize import dual_annealing
from test_functions import FUNCTIONS, HELD_OUT, Problem, make_problem
from tqdm import tqdm

import annealax

try:
    from evosax.algorithms import SimulatedAnnealing
except Exception as error:  # not installed, or broken with this JAX
    SimulatedAnnealing, EVOSAX_ERROR = None, error
else:
    EVOSAX_ERROR = None

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PLOTS = DOCS.parent / "images" / "benchmarks"
SECTION = """
## Quality: annealax against dual_annealing

`benchmarks/quality.py` minimises sphere, Rosenbrock, Rastrigin, Ackley and Griewank in 10, 30
and 100 dimensions from 5 random starting points each (the same point for every method), and
eight functions on which annealax's defaults were not tuned ("held out": Levy, Schwefel,
Styblinski-Tang, Alpine N.1, Salomon, the expanded Schaffer F6, Xin-She Yang N.2 and Happy Cat)
from 2 starting points each. It runs `scipy.optimize.dual_annealing` (its defaults, local search
included), `annealax.anneal` given the wall-clock time that dual_annealing took and, separately,
its number of evaluations, and evosax's simulated annealing and blackjax's random-walk
Metropolis under a geometric cooling, at dual_annealing's number of evaluations. Run it with
`pip install ".[bench]"` and `python benchmarks/quality.py` (about an hour on 2 cores).
"""

QUICK_FUNCTIONS = ("sphere", "rastrigin")
DEFAULT_DIMS = (10, 30, 100)
PLOT_DIM = 30  # the dimension plotted, where it is run
TIME_SLACK = 1.1  # annealax at equal time: within 1/1.1 and 1.1 of dual_annealing's time
CALIBRATION_STEPS = 200

# The baselines' cooling (not annealax's): geometric, over the run, of the temperature from
# 0.1 to 1e-7 of the function's typical magnitude and of the proposal scale from 0.1 to 1e-5 of
# the box width. evosax's simulated annealing moves one point to the best of each generation, so
# a small population gives it more moves; the Metropolis chains are few enough for hundreds of
# steps at dual_annealing's evaluations.
BASELINE_TEMPERATURE = (0.1, 1e-7)
BASELINE_STEP = (0.1, 1e-5)
EVOSAX_POPULATION = 32
BLACKJAX_CHAINS = 64

METHODS = {
    "scipy": "dual_annealing",
    "annealax_time": "annealax, equal time",
    "annealax_evals": "annealax, equal evaluations",
    "evosax": "evosax SA",
    "blackjax": "blackjax RWM",
}


@dataclasses.dataclass(frozen=True)
class Trace:
    """The best value so far against the time and the evaluations."""

    seconds: np.ndarray
    evaluations: np.ndarray
    best: np.ndarray

    def evaluations_to(self, target: float) -> float:
        reached = np.flatnonzero(self.best <= target)
        return float(self.evaluations[reached[0]]) if reached.size else math.inf


@dataclasses.dataclass(frozen=True)
class Run:
    """One method on one problem and seed; ``seconds`` excludes compilation."""

    best: float
    evaluations: int
    seconds: float
    trace: Trace
    compile_seconds: float = math.nan


@dataclasses.dataclass(frozen=True)
class Cell:
    problem: Problem
    seed: int
    runs: dict[str, Run]


def step_trace(
    best_by_step: np.ndarray, seconds: float, evaluations: float, initial_evaluations: int = 0
) -> Trace:
    """A per-step best-value trace, its steps taken to be equally long and equally costly."""
    steps = np.arange(1, len(best_by_step) + 1)
    fraction = steps / len(best_by_step)
    return Trace(
        seconds=seconds * fraction,
        evaluations=initial_evaluations + (evaluations - initial_evaluations) * fraction,
        best=np.asarray(best_by_step, np.float64),
    )


def compile_and_run(fn: Callable, *args) -> tuple[object, float, float]:
    """``fn(*args)`` compiled ahead of time; returns its output, compile and run seconds."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compiled_at = time.perf_counter()
    output = jax.block_until_ready(compiled(*args))
    return output, compiled_at - start, time.perf_counter() - compiled_at


# ---------------------------------------------------------------------------------------------
# annealax: the one place that knows its settings.

ANNEALAX_CHAINS = 64
ANNEALAX_POLISH = annealax.polish(30, every=500)  # L-BFGS on the 4 best chains every 500 steps


@dataclasses.dataclass(frozen=True)
class AnnealaxRun:
    best_value: float
    num_steps: int
    evaluations: int
    run_seconds: float
    compile_seconds: float
    best_by_step: np.ndarray | None = None


def annealax_steps_for(evaluations: int) -> int:
    """About the number of steps that costs ``evaluations`` evaluations; the polish takes
    about 1% of them."""
    return max(1, int(0.985 * (evaluations // ANNEALAX_CHAINS - 1)))


def run_annealax(
    problem: Problem, x0: np.ndarray, seed: int, num_steps: int, *, trace: bool = False
) -> AnnealaxRun:
    """`annealax.anneal` from ``x0`` with its defaults (self-tuned temperature and step sizes,
    one coordinate per move), the box as ``bounds``, and a local polish every 500 steps."""

    def run(x0, key):
        return annealax.anneal(
            problem.jax_fn,
            x0,
            key=key,
            num_steps=num_steps,
            num_chains=ANNEALAX_CHAINS,
            bounds=(problem.lower, problem.upper),
            polish=ANNEALAX_POLISH,
        )

    result, compile_seconds, run_seconds = compile_and_run(
        run, jnp.asarray(x0, jnp.float32), jax.random.key(seed)
    )
    return AnnealaxRun(
        best_value=float(result.best_value),
        num_steps=num_steps,
        evaluations=int(result.num_evaluations),
        run_seconds=run_seconds,
        compile_seconds=compile_seconds,
        best_by_step=np.asarray(result.trace.best_value) if trace else None,
    )


def annealax_at_equal_evaluations(
    problem: Problem, x0: np.ndarray, seed: int, evaluations: int
) -> AnnealaxRun:
    """The steps whose evaluations, the polish's included, come closest to ``evaluations``."""
    num_steps = annealax_steps_for(evaluations)
    run = run_annealax(problem, x0, seed, num_steps, trace=True)
    if run.evaluations <= evaluations:
        return run
    shrunk = max(1, int(num_steps * evaluations / run.evaluations))
    return run_annealax(problem, x0, seed, shrunk, trace=True)


# ---------------------------------------------------------------------------------------------


def annealax_record(run: AnnealaxRun) -> Run:
    return Run(
        best=run.best_value,
        evaluations=run.evaluations,
        seconds=run.run_seconds,
        trace=step_trace(run.best_by_step, run.run_seconds, run.evaluations),
        compile_seconds=run.compile_seconds,
    )


def annealax_at_equal_time(
    problem: Problem, x0: np.ndarray, seed: int, seconds: float, seconds_per_step: float
) -> AnnealaxRun:
    """As many steps as fit in ``seconds``. A run off by more than the slack either way is
    rescaled and rerun once; a longer rerun that overruns is dropped for the first run."""
    num_steps = max(1, int(seconds / seconds_per_step))
    run = run_annealax(problem, x0, seed, num_steps, trace=True)
    ratio = run.run_seconds / seconds
    rescaled_steps = max(1, int(0.97 * num_steps / ratio))
    if 1 / TIME_SLACK <= ratio <= TIME_SLACK or rescaled_steps == num_steps:
        return run
    rerun = run_annealax(problem, x0, seed, rescaled_steps, trace=True)
    if ratio < 1 and rerun.run_seconds > TIME_SLACK * seconds:
        return run
    return rerun


def run_scipy(problem: Problem, x0: np.ndarray, seed: int) -> Run:
    """`dual_annealing` with its defaults, logging (time, evaluations, best) at each new best."""
    log: list[tuple[float, int, float]] = []
    count, best = 0, math.inf

    def logged(x):
        nonlocal count, best
        value = problem.numpy_fn(x)
        count += 1
        if value < best:
            best = value
            log.append((time.perf_counter() - start, count, value))
        return value

    start = time.perf_counter()
    result = dual_annealing(
        logged,
        [(problem.lower, problem.upper)] * problem.dim,
        rng=np.random.default_rng(seed),
        x0=x0,
    )
    seconds = time.perf_counter() - start
    log.append((seconds, count, best))  # the trace runs to the end of the run
    times, evaluations, values = (np.asarray(column) for column in zip(*log, strict=True))
    trace = Trace(seconds=times, evaluations=evaluations, best=values)
    return Run(best=float(result.fun), evaluations=int(result.nfev), seconds=seconds, trace=trace)


def baseline_schedules(problem: Problem, num_steps: int) -> tuple[optax.Schedule, optax.Schedule]:
    """The baselines' temperature and proposal scale, geometric over ``num_steps``."""
    (t_start, t_end), (s_start, s_end) = BASELINE_TEMPERATURE, BASELINE_STEP
    temperature = optax.exponential_decay(t_start * problem.typical, num_steps, t_end / t_start)
    step = optax.exponential_decay(s_start * problem.width, num_steps, s_end / s_start)
    return temperature, step


def reflect(x: jax.Array, problem: Problem) -> jax.Array:
    """Fold ``x`` into the box by reflection at its walls (a symmetric move stays symmetric)."""
    distance = jnp.mod(x - problem.lower, 2 * problem.width)
    return problem.lower + (problem.width - jnp.abs(distance - problem.width))


def run_evosax(problem: Problem, x0: np.ndarray, seed: int, evaluations: int) -> Run:
    """evosax's `SimulatedAnnealing`, ``evaluations // EVOSAX_POPULATION`` generations."""
    generations = max(1, evaluations // EVOSAX_POPULATION)
    temperature, step = baseline_schedules(problem, generations)
    strategy = SimulatedAnnealing(
        EVOSAX_POPULATION, jnp.zeros(problem.dim, jnp.float32), std_schedule=step
    )
    t_start, t_end = (float(temperature(0)), float(temperature(generations)))
    params = strategy.default_params.replace(
        temperature_init=t_start,
        temperature_limit=t_end,
        temperature_decay=(t_end / t_start) ** (1 / generations),
        boltzmann_constant=1.0,
    )

    def run(x0, key):
        init_key, key = jax.random.split(key)
        state = strategy.init(init_key, x0, params)

        def generation(state, key):
            ask_key, tell_key = jax.random.split(key)
            population, state = strategy.ask(ask_key, state, params)
            population = reflect(population, problem)
            fitness = jax.vmap(problem.jax_fn)(population)
            state, _ = strategy.tell(tell_key, population, fitness, state, params)
            return state, state.best_fitness

        return jax.lax.scan(generation, state, jax.random.split(key, generations))[1]

    best_by_step, compile_seconds, seconds = compile_and_run(
        run, jnp.asarray(x0, jnp.float32), jax.random.key(seed)
    )
    used = EVOSAX_POPULATION * generations
    return Run(
        best=float(best_by_step[-1]),
        evaluations=used,
        seconds=seconds,
        trace=step_trace(np.asarray(best_by_step), seconds, used),
        compile_seconds=compile_seconds,
    )


def run_blackjax(problem: Problem, x0: np.ndarray, seed: int, evaluations: int) -> Run:
    """blackjax's `rmh` with a normal move reflected into the box, on vmapped chains; the
    log density ``-f / T`` with a geometric cooling of ``T`` in a `lax.scan`."""
    num_steps = max(1, evaluations // BLACKJAX_CHAINS - 1)  # one evaluation each at the start
    temperature, step = baseline_schedules(problem, num_steps)
    steps = jnp.arange(num_steps)
    temperatures, scales = temperature(steps), step(steps)

    def run(x0, key):
        positions = jnp.broadcast_to(x0, (BLACKJAX_CHAINS, problem.dim))
        energies = jax.vmap(problem.jax_fn)(positions)

        def metropolis_step(carry, inputs):
            positions, energies, best = carry
            key, temperature, scale = inputs
            move = blackjax.mcmc.random_walk.normal(scale)
            kernel = blackjax.rmh(
                lambda x: -problem.jax_fn(x) / temperature,
                lambda key, x: reflect(x + move(key, x), problem),
            )
            # The stored log densities are those of the previous temperature: recompute them.
            states = blackjax.mcmc.random_walk.RWState(positions, -energies / temperature)
            keys = jax.random.split(key, BLACKJAX_CHAINS)
            states, _ = jax.vmap(kernel.step)(keys, states)
            energies = -states.logdensity * temperature
            best = jnp.minimum(best, energies.min())
            return (states.position, energies, best), best

        carry = (positions, energies, energies.min())
        inputs = (jax.random.split(key, num_steps), temperatures, scales)
        return jax.lax.scan(metropolis_step, carry, inputs)[1]

    best_by_step, compile_seconds, seconds = compile_and_run(
        run, jnp.asarray(x0, jnp.float32), jax.random.key(seed)
    )
    used = BLACKJAX_CHAINS * (num_steps + 1)
    return Run(
        best=float(best_by_step[-1]),
        evaluations=used,
        seconds=seconds,
        trace=step_trace(np.asarray(best_by_step), seconds, used, BLACKJAX_CHAINS),
        compile_seconds=compile_seconds,
    )


def run_cell(problem: Problem, seed: int, seconds_per_step: dict[tuple[str, int], float]) -> Cell:
    """Every method on one problem and seed. ``seconds_per_step`` caches annealax's time per
    step for each (function, dimension), refined by each run at equal time."""
    x0 = problem.start(seed)
    scipy = run_scipy(problem, x0, seed)
    cache_key = (problem.name, problem.dim)
    if cache_key not in seconds_per_step:
        calibration = run_annealax(problem, x0, seed, CALIBRATION_STEPS)
        seconds_per_step[cache_key] = calibration.run_seconds / CALIBRATION_STEPS
    at_time = annealax_at_equal_time(problem, x0, seed, scipy.seconds, seconds_per_step[cache_key])
    seconds_per_step[cache_key] = at_time.run_seconds / at_time.num_steps
    at_evals = annealax_at_equal_evaluations(problem, x0, seed, scipy.evaluations)
    runs = {
        "scipy": scipy,
        "annealax_time": annealax_record(at_time),
        "annealax_evals": annealax_record(at_evals),
        "blackjax": run_blackjax(problem, x0, seed, scipy.evaluations),
    }
    if SimulatedAnnealing is not None:
        runs["evosax"] = run_evosax(problem, x0, seed, scipy.evaluations)
    return Cell(problem, seed, runs)


# ---------------------------------------------------------------------------------------------
# Reporting.


def scientific(value: float) -> str:
    return f"{value:.3e}".replace("e+", "e")


def win_tie_loss(cells: Sequence[Cell]) -> str:
    """annealax at equal time against dual_annealing, seed by seed."""
    wins = ties = losses = 0
    for cell in cells:
        ours, theirs = cell.runs["annealax_time"].best, cell.runs["scipy"].best
        if abs(ours - theirs) <= cell.problem.tolerance:
            ties += 1
        elif ours < theirs:
            wins += 1
        else:
            losses += 1
    return f"{wins}/{ties}/{losses}"


def target_of(cells: Sequence[Cell]) -> float:
    """The value to reach: dual_annealing's median best, or the tie tolerance if lower."""
    median = float(np.median([cell.runs["scipy"].best for cell in cells]))
    return max(median, cells[0].problem.tolerance)


def evaluations_cell(cells: Sequence[Cell], method: str, target: float) -> str:
    counts = [cell.runs[method].trace.evaluations_to(target) for cell in cells]
    reached = sum(math.isfinite(count) for count in counts)
    median = float(np.median(counts))
    shown = f"{median:,.0f}" if math.isfinite(median) else "not reached"
    return f"{shown} ({reached}/{len(cells)})"


def cost_cell(cells: Sequence[Cell], method: str) -> str:
    seconds = np.median([cell.runs[method].seconds for cell in cells])
    evaluations = np.median([cell.runs[method].evaluations for cell in cells])
    text = f"{seconds:.2f} s, {evaluations:,.0f}"
    compile_seconds = np.median([cell.runs[method].compile_seconds for cell in cells])
    return text if math.isnan(compile_seconds) else f"{text} (+{compile_seconds:.1f} s compile)"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def dimension_tables(cells: Sequence[Cell], dim: int, methods: Sequence[str]) -> list[str]:
    by_function: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.problem.dim == dim:
            by_function.setdefault(cell.problem.name, []).append(cell)
    labels = [METHODS[method] for method in methods]
    best_rows, evaluation_rows, cost_rows = [], [], []
    for name, group in by_function.items():
        if name in HELD_OUT:
            name = f"{name} (held out, {len(group)} seed{'s' * (len(group) > 1)})"
        medians = [scientific(np.median([c.runs[m].best for c in group])) for m in methods]
        tolerance = scientific(group[0].problem.tolerance)
        best_rows.append([name, tolerance, *medians, win_tie_loss(group)])
        target = target_of(group)
        evaluations = [evaluations_cell(group, method, target) for method in methods]
        evaluation_rows.append([name, scientific(target), *evaluations])
        cost_rows.append([name, *(cost_cell(group, method) for method in methods)])
    seeds = len(next(iter(by_function.values())))
    return [
        "",
        f"### {dim} dimensions",
        "",
        f"Median best value over {seeds} seed{'s' * (seeds > 1)}; W/T/L: wins, ties and "
        "losses of annealax at equal time against dual_annealing (a tie: within the tolerance, "
        "1e-6 of the median |f| at random points of the box).",
        "",
        *table(["function", "tolerance", *labels, "W/T/L"], best_rows),
        "",
        "Evaluations to reach the target, dual_annealing's median best (or the tolerance if "
        "that is larger): the median over seeds (a seed that never reaches it counts as "
        "infinite), and how many seeds reached it.",
        "",
        *table(["function", "target", *labels], evaluation_rows),
        "",
        "Median wall time (compilation excluded) and evaluations:",
        "",
        *table(["function", *labels], cost_rows),
    ]


def settings_lines(methods: Sequence[str]) -> list[str]:
    (t_start, t_end), (s_start, s_end) = BASELINE_TEMPERATURE, BASELINE_STEP
    lines = [
        "",
        "- dual_annealing: float64, defaults (local search included), `rng=default_rng(seed)`.",
        f"- annealax: `annealax.anneal`, float32, its defaults, {ANNEALAX_CHAINS} chains and"
        " `polish=annealax.polish(30, every=500)` (see `run_annealax` in the script); a gradient"
        " evaluation of the polish counts as one evaluation; at equal time its steps are chosen"
        " from a measured time per step so that the run takes dual_annealing's time; a run off"
        f" by more than {TIME_SLACK - 1:.0%} is rescaled and rerun once.",
    ]
    cooling = (
        f"temperature {t_start:g} to {t_end:g} of the typical |f| and proposal scale "
        f"{s_start:g} to {s_end:g} of the box width, both geometric, reflected into the box"
    )
    if "evosax" in methods:
        lines.append(
            f"- evosax SA: `SimulatedAnnealing`, population {EVOSAX_POPULATION}, "
            f"Boltzmann constant 1, {cooling}."
        )
    lines.append(
        f"- blackjax RWM: `blackjax.rmh` with a normal move, {BLACKJAX_CHAINS} vmapped chains, "
        f"{cooling}."
    )
    return lines


def plot(cells: Sequence[Cell], dim: int, seed: int, path: Path) -> bool:
    """Best value against time, dual_annealing and annealax at equal time, one panel per
    function; False if no cell has this dimension and seed."""
    chosen = [cell for cell in cells if cell.problem.dim == dim and cell.seed == seed]
    if not chosen:
        return False
    columns = min(3, len(chosen))
    rows = -(-len(chosen) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False)
    for axis, cell in zip(axes.flat, chosen, strict=False):
        floor = cell.problem.tolerance
        for method in ("scipy", "annealax_time"):
            trace = cell.runs[method].trace
            values = np.maximum(trace.best, floor)
            axis.plot(trace.seconds, values, drawstyle="steps-post", label=METHODS[method])
        axis.axhline(floor, color="grey", linestyle="--", linewidth=1, label="tie tolerance")
        axis.set(title=f"{cell.problem.name}, {dim} dimensions", xscale="log", yscale="log")
        axis.set(xlabel="time (s)", ylabel="best value so far")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize="small")
    for axis in axes.flat[len(chosen) :]:
        axis.set_visible(False)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def plot_lines(path: Path, doc: Path, dim: int, seed: int) -> list[str]:
    link = Path(os.path.relpath(path, doc.parent)).as_posix()
    return [
        "",
        f"![Best value against time, {dim} dimensions, seed {seed}]({link})",
        "",
        f"Best value so far against the wall time, {dim} dimensions, seed {seed}, compilation "
        "excluded. dual_annealing: each new best, logged as it is found. annealax at equal time: "
        "the trace of `best_value` by step, mapped to time by the measured time per step (run "
        "time / steps). Values below the tie tolerance (dashed) are drawn at it.",
    ]


def versions() -> str:
    names = ("jax", "numpy", "scipy", "blackjax", "optax")
    found = [f"evosax {importlib.metadata.version('evosax')}"] if SimulatedAnnealing else []
    return ", ".join([describe(*names), *found])


def report(cells: Sequence[Cell], dims: Sequence[int], methods: Sequence[str]) -> list[str]:
    lines = [f"Measured {datetime.date.today().isoformat()} on {versions()}."]
    lines += settings_lines(methods)
    for dim in dims:
        lines += dimension_tables(cells, dim, methods)
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10-D, 1 seed, sphere and Rastrigin")
    parser.add_argument("--dims", type=int, nargs="+", default=None)
    parser.add_argument("--functions", nargs="+", choices=tuple(FUNCTIONS), default=None)
    parser.add_argument("--seeds", type=int, default=None, help="the seeds are 0, 1, ..., N-1")
    parser.add_argument(
        "--held-out-seeds", type=int, default=2, help="at most this many for held-out functions"
    )
    parser.add_argument("--no-write", action="store_true", help="print only: no docs, no plots")
    parser.add_argument("--doc", type=Path, default=DOCS, help="the markdown file to write into")
    parser.add_argument("--out", type=Path, default=PLOTS, help="the folder of the plots")
    args = parser.parse_args(argv)
    args.dims = args.dims or ((10,) if args.quick else DEFAULT_DIMS)
    args.functions = args.functions or (QUICK_FUNCTIONS if args.quick else tuple(FUNCTIONS))
    args.seeds = args.seeds or (1 if args.quick else 5)
    if min(*args.dims, args.seeds) < 1:
        parser.error("--dims and --seeds must be >= 1")
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    methods = [m for m in METHODS if m != "evosax" or SimulatedAnnealing is not None]
    if SimulatedAnnealing is None:
        print(f"evosax skipped, its import failed: {EVOSAX_ERROR!r}", file=sys.stderr)
    grid = [
        (name, dim, seed)
        for dim in args.dims
        for name in args.functions
        for seed in range(min(args.seeds, args.held_out_seeds) if name in HELD_OUT else args.seeds)
    ]
    cells, seconds_per_step = [], {}
    with tqdm(grid, desc="quality", unit="cell") as bar:
        for name, dim, seed in bar:
            bar.set_postfix(function=name, dim=dim, seed=seed)
            cells.append(run_cell(make_problem(name, dim), seed, seconds_per_step))
    lines = report(cells, args.dims, methods)
    if not args.no_write:
        plot_dim = PLOT_DIM if PLOT_DIM in args.dims else args.dims[0]
        path = args.out / f"quality-{plot_dim}d.png"
        if plot(cells, plot_dim, 0, path):
            lines += plot_lines(path, args.doc, plot_dim, 0)
    markdown = "\n".join(lines)
    print("\n" + markdown)
    if not args.no_write:
        write_section(args.doc, "quality", markdown, heading=SECTION)
        print(f"\nwritten into {args.doc} and {args.out}/")
    return markdown


if __name__ == "__main__":
    main()
