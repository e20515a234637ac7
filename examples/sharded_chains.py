"""Chains split over every device with a `jax.sharding.Mesh`: bit-identical to one device.

Anneals the 16-dimensional Rastrigin function with `annealax.anneal`, once with the chains split
over all devices (`mesh=`, a mesh with one axis "chains") and once on one device, and compares
the two results leaf by leaf. It prints the chains each device holds, a table of both runs (best
value, difference, wall times) and writes a plot of the best value against the step.

The results are bit-identical as long as XLA computes each chain's loss to the same bits however
many chains a device holds. A sum inside the loss can break this: XLA:CPU rounds the sum of this
Rastrigin function differently for some numbers of rows (256 chains, 32 per device, for example);
the script then names the fields that differ (the chains' losses, by a few units in the last place).

On a CPU without XLA_FLAGS, the script asks XLA for 8 simulated devices, which share the CPU's
cores: this shows the sharding, not a speed-up. On GPUs or TPUs the mesh spans the real devices.

    python examples/sharded_chains.py            # 2048 chains x 3000 steps
    python examples/sharded_chains.py --quick    # 128 chains x 300 steps

On a TPU pod slice, or another multi-host system, run the same command on every host with
``--multi-host``: it calls `jax.distributed.initialize()` before anything else and builds the mesh
over the devices of all hosts. Where the processes are not detected (outside Cloud TPU, Slurm,
Open MPI, ...), also give ``--coordinator-address``, ``--num-processes`` and ``--process-id``.
"""

from __future__ import annotations

import os
import sys

# Before JAX starts: 8 simulated CPU devices, unless the user chose otherwise. A process in which
# JAX is already imported (such as a test session) keeps the devices it has.
if (
    "jax" not in sys.modules
    and "XLA_FLAGS" not in os.environ
    and os.environ.get("JAX_PLATFORMS", "") in ("", "cpu")
):
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import argparse
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import Mesh

import annealax

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DIMENSION = 16
BOUNDS = (-5.12, 5.12)


def rastrigin(x: jax.Array) -> jax.Array:
    return 10.0 * x.size + jnp.sum(jnp.square(x) - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def chains_mesh() -> Mesh:
    """A one-axis mesh over every device of every process."""
    return Mesh(np.array(jax.devices()), ("chains",))


def anneal_settings(num_chains: int, num_steps: int, seed: int) -> dict:
    """Keyword arguments of `anneal`: one schedule object, so that a second call reuses the run."""
    return {
        "key": jax.random.key(seed),
        "num_steps": num_steps,
        "num_chains": num_chains,
        "temperature": optax.exponential_decay(100.0, num_steps, 1e-4),
        "step_size": optax.exponential_decay(0.5, num_steps, 0.1),
        "bounds": BOUNDS,
        "progress": True,
    }


def timed_anneal(settings: dict, mesh: Mesh | None) -> dict:
    """Run twice: the first call compiles, the second reuses the compiled run."""
    init_params = jnp.full(DIMENSION, 3.0, jnp.float32)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        result = jax.block_until_ready(
            annealax.anneal(rastrigin, init_params, mesh=mesh, **settings)
        )
        times.append(time.perf_counter() - start)
    return {"result": result, "first_call_s": times[0], "second_call_s": times[1]}


def gather(tree):
    """The full value of every leaf on this host, including the chains held by other hosts."""
    return multihost_utils.process_allgather(tree, tiled=True)


def max_abs_difference(a, b) -> float:
    """Largest |a - b| over the floating leaves; equal values (infinities too) count as 0."""
    differences = [
        np.max(np.where(x == y, 0.0, np.abs(x - y)), initial=0.0)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
        if np.issubdtype(x.dtype, np.floating)
    ]
    return float(max(differences))


def differing_fields(a, b) -> list[str]:
    """The paths of the leaves whose values or dtypes differ between two results."""
    return [
        jax.tree_util.keystr(path)
        for (path, x), y in zip(
            jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True
        )
        if x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=True)
    ]


def shard_layout(chains: jax.Array) -> list[dict]:
    """Which chains each device of this host holds."""
    layout = []
    for shard in sorted(chains.addressable_shards, key=lambda shard: shard.device.id):
        rows = shard.index[0]
        layout.append(
            {
                "device": str(shard.device),
                "first_chain": rows.start or 0,
                "last_chain": (rows.stop or chains.shape[0]) - 1,
                "shape": list(shard.data.shape),
            }
        )
    return layout


def print_report(summary: dict) -> None:
    print("\nchains held by the devices of this host (chain axis split over the mesh):")
    for shard in summary["shards"]:
        print(
            f"  {shard['device']}: chains {shard['first_chain']}..{shard['last_chain']}, "
            f"shard shape {tuple(shard['shape'])}"
        )
    differing = summary["differing_fields"]
    print(f"\nbit-identical: {'no, ' + ', '.join(differing) + ' differ' if differing else 'yes'}")
    header = (
        "| run | devices | chains per device | best value | max abs diff to single-device "
        "| first call (s) | second call (s) |"
    )
    print(header)
    print("|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|")
    for name, run in summary["runs"].items():
        difference = summary["max_abs_difference"] if name == "sharded" else 0.0
        print(
            f"| {name} | {run['devices']} | {run['chains_per_device']} | "
            f"{run['best_value']:.6f} | {difference:g} | "
            f"{run['first_call_s']:.2f} | {run['second_call_s']:.2f} |"
        )


def plot(traces: dict, path: Path) -> None:
    """Best value against the step for both runs: the curves coincide."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    styles = {"single-device": {"lw": 3, "alpha": 0.5}, "sharded": {"ls": "--", "color": "k"}}
    for name, best_values in traces.items():
        steps = np.arange(1, len(best_values) + 1)
        axis.plot(steps, best_values, label=name, **styles[name])
    axis.set(xlabel="step", ylabel="best value so far", yscale="log")
    axis.set_title(f"{DIMENSION}-d Rastrigin: sharded and single-device runs coincide")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=2048, help="rounded up to the devices")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/sharded_chains"))
    parser.add_argument("--quick", action="store_true", help="128 chains x 300 steps")
    parser.add_argument(
        "--multi-host", action="store_true", help="call jax.distributed.initialize() first"
    )
    parser.add_argument(
        "--coordinator-address", help="host:port of process 0, where not detected (multi-host)"
    )
    parser.add_argument("--num-processes", type=int, help="where not detected (multi-host)")
    parser.add_argument("--process-id", type=int, help="where not detected (multi-host)")
    args = parser.parse_args(argv)
    if args.quick:
        args.chains, args.steps = 128, 300
    if args.chains < 1 or args.steps < 1:
        parser.error(f"--chains and --steps must be >= 1, got {args.chains} and {args.steps}")
    return args


def summarise(runs: dict, num_devices: int, num_chains: int, num_steps: int) -> dict:
    """Compare the runs on this host (gathering the chains of the other hosts)."""
    single = jax.device_get(runs["single-device"].pop("result"))
    sharded_result = runs["sharded"].pop("result")
    sharded = gather(sharded_result)
    for name, devices, result in (("single-device", 1, single), ("sharded", num_devices, sharded)):
        runs[name].update(
            devices=devices,
            chains_per_device=num_chains // devices,
            best_value=float(result.best_value),
        )
    differing = differing_fields(sharded, single)
    return {
        "num_devices": num_devices,
        "num_processes": jax.process_count(),
        "platform": jax.devices()[0].platform,
        "num_chains": num_chains,
        "num_steps": num_steps,
        "bit_identical": not differing,
        "differing_fields": differing,
        "max_abs_difference": max_abs_difference(sharded, single),
        "shards": shard_layout(sharded_result.state.chains),
        "runs": runs,
        "traces": {"single-device": single.trace.best_value, "sharded": sharded.trace.best_value},
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_arguments(argv)
    if args.multi_host:  # before any other JAX call
        jax.distributed.initialize(args.coordinator_address, args.num_processes, args.process_id)

    mesh = chains_mesh()
    num_devices = mesh.devices.size
    num_chains = math.ceil(args.chains / num_devices) * num_devices
    settings = anneal_settings(num_chains, args.steps, args.seed)
    runs = {"single-device": timed_anneal(settings, None), "sharded": timed_anneal(settings, mesh)}
    summary = summarise(runs, num_devices, num_chains, args.steps)
    traces = summary.pop("traces")
    if jax.process_index() == 0:
        print(
            f"\n{jax.process_count()} process(es), {num_devices} {summary['platform']} devices, "
            f"{num_chains} chains x {args.steps} steps, {DIMENSION}-d Rastrigin"
        )
        print_report(summary)
        args.out.mkdir(parents=True, exist_ok=True)
        plot(traces, args.out / "sharded_chains.png")
        (args.out / "results.json").write_text(json.dumps(summary, indent=2))
        print(f"plot and results written to {args.out}/")
    return summary


if __name__ == "__main__":
    main()
