"""annealax on rotated, ill-conditioned BBOB functions against IPOP-CMA-ES and dual_annealing.

The suite (benchmarks/bbob.py, checked against COCO's ``cocoex``): the rotated Rosenbrock,
ellipsoid, discus, bent cigar, different powers, Rastrigin, Weierstrass and Schaffer F7
functions of BBOB (f9-f12, f14-f17), instances 1 to 3, in 10 and 30 dimensions, all in float64.
Every method starts from the same point, uniform in [-4, 4]^D, and gets the same budget of
2·10^4·D evaluations:

- ``CMA-ES``: IPOP-CMA-ES of Hansen's `cma` package (``restarts=9, incpopsize=2``, step size
  2, unbounded as in COCO's reference runs), each population evaluated in one call;
- ``dual_annealing``: `scipy.optimize.dual_annealing` with its defaults (local search included)
  and ``maxfun`` the budget, in the box [-5, 5]^D;
- ``annealax``: the README's call, `annealax.anneal` with its defaults, 64 chains, the box as
  ``bounds`` and ``polish=annealax.polish(30, every=500)``;
- ``annealax, covariance move``: the same call with ``proposal=annealax.covariance_move()``,
  a geometric cooling to 1e-16 T0 and a longer polish (100 L-BFGS iterations with a memory of
  30, every 500 steps): one setting for the whole suite;
- ``annealax, covariance move, CMA-ES's time``: that configuration given the wall-clock time
  CMA-ES took (compilation apart), from its measured time per step;
- ``annealax, covariance move with draws``: the covariance configuration with
  ``covariance_move(independent=0.2)``, a fifth of the moving chains drawing from the held
  half's Gaussian;
- ``annealax, mixture``: the covariance configuration whose move is, at each step, the
  default move of `anneal` (one coordinate, or a jump) with probability 0.8 and the covariance
  move with draws otherwise (`annealax.mixture`);
- ``annealax, large population``: the configuration with draws on more chains, the power of
  two at or above 16·D (256 at D = 10, 512 at D = 30), half of the moving chains drawing
  (``covariance_move(independent=0.5)``), as `rotated_population.py` measured on the
  multimodal functions.

Evaluations past the budget (the rest of CMA-ES's last population, dual_annealing's last local
search) do not count. The polish's gradients count as one evaluation each, with the loss (they
come from automatic differentiation; CMA-ES uses none, and dual_annealing's local search pays
D + 1 evaluations for a finite-difference gradient).

A cell is a (function, dimension); a method wins or ties CMA-ES in a cell when its median
over the instances of ``f - f_opt`` is at or below CMA-ES's, both are below 1e-8, or they are
within 1%. The ECDF plot, the BBOB convention, gives the fraction of (run, target) pairs
reached against evaluations per dimension, for 51 targets 10^2 ... 10^-8.

    python benchmarks/rotated.py                       # writes docs/benchmarks.md
    python benchmarks/rotated.py --dims 10 --instances 1 --functions 10 --no-write  # smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import time
import warnings
from collections.abc import Callable

import bbob
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from docs_section import DOCS, write_section
from machine import describe
from scipy.optimize import dual_annealing

import annealax
from annealax._annealing.anneal import DEFAULT_PROPOSAL

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PLOTS = DOCS.parent / "images" / "benchmarks"
EVALUATIONS_PER_DIMENSION = 20_000
NUM_CHAINS = 64
CMA_RESTARTS = 9
POLISH = annealax.polish(30, every=500)
COVARIANCE_COOLING = 1e-16
COVARIANCE_POLISH = annealax.polish(100, every=500, optimizer=optax.lbfgs(memory_size=30))
DRAWS = 0.2
CHAINS_PER_COORDINATE = 16
POPULATION_DRAWS = 0.5
COORDINATE_SHARE = 0.8
POLISH_EVALUATIONS_PER_ITERATION = 3
TARGETS = 10.0 ** np.linspace(2, -8, 51)
SOLVED = 1e-8
SECTION = """
## Rotated, ill-conditioned functions: annealax against CMA-ES

`benchmarks/rotated.py` minimises eight rotated BBOB functions (f9-f12, f14-f17; written in JAX
and checked against COCO's `cocoex` on random points by `tests/test_bbob.py`) at 2·10⁴·D
evaluations, from the same random start for every method, in float64. A cell's figure is the
median over the instances of f - f_opt. "CMA-ES" is IPOP-CMA-ES of the `cma` package;
"annealax" is the README's call (`anneal`'s defaults, 64 chains, the box as bounds, a polish
every 500 steps); "covariance" replaces its move by `annealax.covariance_move()`, cools to
1e-16 T0 and polishes longer (100 L-BFGS iterations with a memory of 30); "covariance, CMA's
time" gives that configuration CMA-ES's wall-clock time; "covariance, draws" is the covariance
configuration with `covariance_move(independent=0.2)`; "mixture" is the covariance
configuration whose move is `anneal`'s default move (one coordinate, or a jump) at 8 steps in
10 and the covariance move with draws at the others (`annealax.mixture`); "large population"
is the configuration with draws on the power of two at or above 16·D chains, half of the moving
chains drawing. annealax's runs take as many steps as keep their evaluations, polish included,
within the budget.
"""


@dataclasses.dataclass
class Run:
    """One method's run on one instance: its best value above f_opt, and its history."""

    value: float
    seconds: float
    evaluations: int
    history: np.ndarray  # (evaluations, best value above f_opt) after each batch
    compile_seconds: float = math.nan

    def reached(self, budget: float) -> np.ndarray:
        """Which of `TARGETS` were reached within ``budget`` evaluations."""
        within = self.history[self.history[:, 0] <= budget, 1]
        best = within.min() if within.size else np.inf
        return best <= TARGETS


class Recorder:
    """A float64 function of one point or of a batch, logging every evaluation's best.

    Evaluations past ``budget`` are answered but do not count towards the best value.
    """

    def __init__(self, instance: bbob.Instance, budget: int):
        self.batch = jax.jit(jax.vmap(instance.value))
        self.f_opt = instance.f_opt
        self.budget = budget
        self.count, self.best, self.log = 0, np.inf, []

    def compile(self, dimension: int, batch_sizes) -> None:
        """Compile the batched loss for these batch sizes, before any timing."""
        for size in batch_sizes:
            self.batch(jnp.zeros((size, dimension))).block_until_ready()

    def many(self, points) -> list[float]:
        values = np.asarray(self.batch(jnp.asarray(np.asarray(points, np.float64))))
        within = values[: max(0, self.budget - self.count)]
        self.count += len(values)
        if within.size:
            self.best = min(self.best, float(within.min()) - self.f_opt)
        self.log.append((min(self.count, self.budget), self.best))
        return [float(v) for v in values]

    def one(self, point) -> float:
        return self.many([point])[0]

    def history(self) -> np.ndarray:
        return np.asarray(self.log, float).reshape(-1, 2)


def run_cma(instance: bbob.Instance, x0: np.ndarray, budget: int) -> Run:
    import cma

    recorder = Recorder(instance, budget)
    # IPOP doubles the default population at each restart: every size compiled before timing.
    population = 4 + int(3 * math.log(instance.dimension))
    recorder.compile(instance.dimension, [population * 2**k for k in range(CMA_RESTARTS + 1)])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cma.fmin(
            None,
            x0,
            2.0,
            restarts=CMA_RESTARTS,
            incpopsize=2,
            parallel_objective=recorder.many,
            options=dict(maxfevals=budget, verbose=-9, seed=instance.instance),
        )
    return Run(recorder.best, time.perf_counter() - start, recorder.count, recorder.history())


def run_dual_annealing(instance: bbob.Instance, x0: np.ndarray, budget: int) -> Run:
    recorder = Recorder(instance, budget)
    recorder.compile(instance.dimension, [1])
    start = time.perf_counter()
    bounds = [bbob.BOX] * instance.dimension
    dual_annealing(recorder.one, bounds, x0=x0, maxfun=budget, seed=instance.instance)
    return Run(recorder.best, time.perf_counter() - start, recorder.count, recorder.history())


def annealax_settings(configuration: str, num_steps: int, draws: float = DRAWS) -> dict:
    """The README's call, or a covariance configuration (each one for the whole suite).

    ``draws`` is the share of the moving chains that draw from the held half's Gaussian.
    """
    if configuration == "annealax":
        return dict(polish=POLISH)
    cooling = annealax.geometric_temperature(1.0, COVARIANCE_COOLING, num_steps)
    independent = draws if configuration in ("draws", "mixture") else 0.0
    proposal = annealax.covariance_move(independent=independent)
    if configuration == "mixture":
        proposal = annealax.mixture(
            DEFAULT_PROPOSAL, proposal, probabilities=(COORDINATE_SHARE, 1 - COORDINATE_SHARE)
        )
    return dict(
        proposal=proposal,
        temperature=annealax.auto_temperature(cooling=cooling),
        polish=COVARIANCE_POLISH,
    )


def run_annealax(
    instance: bbob.Instance,
    x0: np.ndarray,
    num_steps: int,
    configuration: str,
    num_chains: int = NUM_CHAINS,
    draws: float = DRAWS,
) -> Run:
    settings = annealax_settings(configuration, num_steps, draws)

    def run(x0, key):
        return annealax.anneal(
            instance.value,
            x0,
            key=key,
            num_steps=num_steps,
            num_chains=num_chains,
            bounds=bbob.BOX,
            **settings,
        )

    start = time.perf_counter()
    compiled = jax.jit(run).lower(jnp.asarray(x0), jax.random.key(0)).compile()
    compiled_at = time.perf_counter()
    # The compiled run is called with another key than the one it was compiled with.
    result = jax.block_until_ready(compiled(jnp.asarray(x0), jax.random.key(instance.instance)))
    seconds = time.perf_counter() - compiled_at
    evaluations = int(result.num_evaluations)
    best = np.asarray(result.trace.best_value) - instance.f_opt
    per_step = evaluations / num_steps  # the polish's evaluations spread over the steps
    history = np.stack([per_step * np.arange(1, num_steps + 1), best], axis=1)
    value = float(result.best_value) - instance.f_opt
    history[-1, 1] = value
    return Run(value, seconds, evaluations, history, compiled_at - start)


def annealax_within(
    instance: bbob.Instance,
    x0: np.ndarray,
    budget: int,
    configuration: str,
    num_chains: int = NUM_CHAINS,
    draws: float = DRAWS,
) -> Run:
    """`run_annealax` with as many steps as keep its evaluations, polish included, in budget."""
    polish = annealax_settings(configuration, 1)["polish"]
    # At most about 3 evaluations per L-BFGS iteration (the value, the gradient, line search).
    polish_per_step = POLISH_EVALUATIONS_PER_ITERATION * polish.num_chains * polish.steps
    num_steps = int(budget / (num_chains + polish_per_step / polish.every))
    run = run_annealax(instance, x0, num_steps, configuration, num_chains, draws)
    while run.evaluations > budget:
        num_steps = int(num_steps * budget / run.evaluations)
        run = run_annealax(instance, x0, num_steps, configuration, num_chains, draws)
    return run


METHODS: dict[str, Callable] = {
    "CMA-ES": lambda inst, x0, budget: run_cma(inst, x0, budget),
    "dual_annealing": lambda inst, x0, budget: run_dual_annealing(inst, x0, budget),
    "annealax": lambda inst, x0, budget: annealax_within(inst, x0, budget, "annealax"),
    "covariance": lambda inst, x0, budget: annealax_within(inst, x0, budget, "covariance"),
    "covariance, draws": lambda inst, x0, budget: annealax_within(inst, x0, budget, "draws"),
    "mixture": lambda inst, x0, budget: annealax_within(inst, x0, budget, "mixture"),
    "large population": lambda inst, x0, budget: annealax_within(
        inst, x0, budget, "draws", population_chains(inst.dimension), POPULATION_DRAWS
    ),
}
PEERS = ("CMA-ES", "dual_annealing")
EQUAL_TIME = "covariance, CMA's time"


def population_chains(dimension: int) -> int:
    """The chains of the large population: the power of two at or above 16 per coordinate."""
    return 2 ** math.ceil(math.log2(CHAINS_PER_COORDINATE * dimension))


def wins_or_ties(value: float, reference: float) -> bool:
    return (
        value <= reference
        or (value < SOLVED and reference < SOLVED)
        or (abs(value - reference) <= 0.01 * abs(reference))
    )


def starting_point(dimension: int, instance: int) -> np.ndarray:
    """The random start of every method on an instance, uniform in [-4, 4]^D."""
    return np.random.default_rng(1000 * dimension + instance).uniform(-4, 4, dimension)


def run_suite(functions, dims, instances) -> dict:
    runs: dict[tuple, Run] = {}
    for dimension in dims:
        budget = EVALUATIONS_PER_DIMENSION * dimension
        for function in functions:
            for index in instances:
                instance = bbob.make(function, index, dimension)
                x0 = starting_point(dimension, index)
                for name, method in METHODS.items():
                    runs[name, function, dimension, index] = method(instance, x0, budget)
                cma_seconds = runs["CMA-ES", function, dimension, index].seconds
                covariance = runs["covariance", function, dimension, index]
                per_step = covariance.seconds / len(covariance.history)
                steps = max(1, int(cma_seconds / per_step))
                runs[EQUAL_TIME, function, dimension, index] = run_annealax(
                    instance, x0, steps, "covariance"
                )
                line = ", ".join(
                    f"{name} {runs[name, function, dimension, index].value:.3g}"
                    for name in [*METHODS, EQUAL_TIME]
                )
                print(f"f{function} D={dimension} i{index}: {line}", flush=True)
    return runs


def median(runs, name, function, dimension, instances) -> float:
    return float(np.median([runs[name, function, dimension, i].value for i in instances]))


def tables(runs, functions, dims, instances) -> str:
    names = [*METHODS, EQUAL_TIME]
    lines = []
    for dimension in dims:
        lines += [
            f"\n### {dimension} dimensions ({EVALUATIONS_PER_DIMENSION * dimension:,} evaluations)",
            "",
            "| function | " + " | ".join(names) + " | CMA-ES s | covariance s (compile) |",
            "|---|" + "---|" * (len(names) + 2),
        ]
        for function in functions:
            cells = [f"{median(runs, n, function, dimension, instances):.3g}" for n in names]
            cma_s = np.median([runs["CMA-ES", function, dimension, i].seconds for i in instances])
            cov = [runs["covariance", function, dimension, i] for i in instances]
            cov_s = np.median([r.seconds for r in cov])
            compile_s = np.median([r.compile_seconds for r in cov])
            lines.append(
                f"| f{function} {bbob.NAMES[function]} | "
                + " | ".join(cells)
                + f" | {cma_s:.1f} | {cov_s:.1f} ({compile_s:.1f}) |"
            )
    lines += ["", "Cells won or tied against CMA-ES (and against dual_annealing):", ""]
    for name in [name for name in names if name not in PEERS]:
        counts = {}
        for peer in PEERS:
            counts[peer] = sum(
                wins_or_ties(
                    median(runs, name, f, d, instances), median(runs, peer, f, d, instances)
                )
                for f in functions
                for d in dims
            )
        cells = len(functions) * len(dims)
        lines.append(
            f"- {name}: {counts['CMA-ES']} of {cells} against CMA-ES, "
            f"{counts['dual_annealing']} of {cells} against dual_annealing"
        )
    return "\n".join(lines)


def plot(runs, functions, dims, instances, section: str):
    budget_per_dim = np.logspace(1, math.log10(EVALUATIONS_PER_DIMENSION), 60)
    figure, axes = plt.subplots(1, len(dims), figsize=(5 * len(dims), 4), squeeze=False)
    for axis, dimension in zip(axes[0], dims, strict=True):
        for name in METHODS:
            fractions = [
                np.mean(
                    [
                        runs[name, f, dimension, i].reached(b * dimension)
                        for f in functions
                        for i in instances
                    ]
                )
                for b in budget_per_dim
            ]
            axis.step(budget_per_dim, fractions, where="post", label=name)
        axis.set(xscale="log", xlabel="evaluations / D", ylim=(0, 1), title=f"D = {dimension}")
        axis.set_ylabel("fraction of (run, target) pairs")
    axes[0][0].legend()
    figure.tight_layout()
    path = PLOTS / f"{section}_ecdf.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--functions", type=int, nargs="+", default=list(bbob.SUITE))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--section", default="rotated", help="the docs section to write (one per set of dims)"
    )
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    runs = {}
    for done, dimension in enumerate(args.dims, start=1):
        runs |= run_suite(args.functions, [dimension], args.instances)
        # Written after each dimension, so that a long run leaves what it measured.
        write = None if args.no_write else args.section
        report(runs, args.functions, args.dims[:done], args.instances, write=write)


def report(runs, functions, dims, instances, *, write: str | None) -> None:
    markdown = tables(runs, functions, dims, instances)
    print(markdown, flush=True)
    if not write:
        return
    path = plot(runs, functions, dims, instances, write)
    stamp = f"Measured on {describe('cma', 'scipy')}, {datetime.date.today():%Y-%m-%d}."
    image = f"![ECDF of the rotated suite]({path.relative_to(DOCS.parent)})"
    heading = SECTION.rstrip("\n") if write == "rotated" else ""
    write_section(DOCS, write, f"{stamp}\n{markdown}\n\n{image}", heading=heading)


if __name__ == "__main__":
    main()
