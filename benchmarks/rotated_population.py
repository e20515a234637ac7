"""The size of the population on the multimodal rotated functions, where CMA-ES wins.

On the rotated Rastrigin, Weierstrass and Schaffer F7 functions of `rotated.py` (f15-f17),
IPOP-CMA-ES wins (and at D = 10 reaches their minima) by restarting with populations twice
as large each time. This benchmark asks whether a larger population of chains does the same for
`rotated.py`'s "covariance, draws" configuration (`annealax.covariance_move` with a share of
the moving chains drawing from the held half's Gaussian, cooling to 1e-16 T0, a long polish):
the same budget of 2·10^4·D evaluations, polish included, spread over more chains and
therefore fewer steps, with several shares of draws. Each cell is one run on instance 1 from
`rotated.py`'s start, in float64; the table gives ``f - f_opt`` at the end.

    python benchmarks/rotated_population.py             # writes docs/benchmarks.md
    python benchmarks/rotated_population.py --dims 10 --functions 17 --chains 64 128 \\
        --draws 0.2 --no-write                          # a quick look
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import shlex
import sys

import bbob
import jax
from docs_section import DOCS, write_section
from machine import describe
from rotated import EVALUATIONS_PER_DIMENSION, annealax_within, starting_point

MULTIMODAL = (15, 16, 17)
INSTANCE = 1


def sweep(functions, dims, chains, draws) -> dict[tuple, float]:
    """``f - f_opt`` at the end of each run, by (function, dimension, chains, draws)."""
    values = {}
    for dimension, function in itertools.product(dims, functions):
        instance = bbob.make(function, INSTANCE, dimension)
        budget = EVALUATIONS_PER_DIMENSION * dimension
        for num_chains, share in itertools.product(chains, draws):
            run = annealax_within(
                instance, starting_point(dimension, INSTANCE), budget, "draws", num_chains, share
            )
            values[function, dimension, num_chains, share] = run.value
            print(
                f"f{function} D={dimension} chains={num_chains} draws={share}: "
                f"{run.value:.3g} ({run.seconds:.1f} s)",
                flush=True,
            )
    return values


def table(values, functions, dims, chains, draws) -> str:
    """One row per (function, dimension, chains), one column per share of draws."""
    lines = [
        "| function | D | chains | " + " | ".join(f"draws {share}" for share in draws) + " |",
        "|---|---|---|" + "---|" * len(draws),
    ]
    for dimension, function, num_chains in itertools.product(dims, functions, chains):
        cells = " | ".join(
            f"{values[function, dimension, num_chains, share]:.3g}" for share in draws
        )
        name = bbob.NAMES[function]
        lines.append(f"| f{function} {name} | {dimension} | {num_chains} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--functions", type=int, nargs="+", default=list(MULTIMODAL))
    parser.add_argument("--chains", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--draws", type=float, nargs="+", default=[0.2, 0.5, 0.8])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    values = sweep(args.functions, args.dims, args.chains, args.draws)
    markdown = table(values, args.functions, args.dims, args.chains, args.draws)
    print(markdown)
    if args.no_write:
        return
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "benchmarks/rotated_population.py", *given])
    stamp = (
        f"Measured on {describe('jax')}, {datetime.date.today():%Y-%m-%d}, with "
        f"`{command}`: instance {INSTANCE}, "
        f"{EVALUATIONS_PER_DIMENSION:,}·D evaluations, f - f_opt at the end."
    )
    write_section(DOCS, "rotated-population", f"{stamp}\n\n{markdown}")


if __name__ == "__main__":
    main()
