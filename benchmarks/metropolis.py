"""Chain-steps per second of annealax's Metropolis annealer against its peers.

Problems: a 100-dimensional Rastrigin function and the cross-entropy of a small Flax MLP
(64-32-10, 2,410 parameters) on 128 of scikit-learn's digits; 1024 chains. Contenders:

- ``anneal``: `annealax.anneal` (cooling schedule, best tracking, acceptance rates, step-size
  adaptation, trace), with dense Gaussian moves like the others;
- ``transformation``: a jitted `lax.scan` over `annealax.metropolis`'s update;
- ``limit``: the bare algorithm: per-chain keys, one Gaussian draw, one vmapped loss evaluation,
  one uniform draw and one select per chain-step, with no schedule or bookkeeping;
- ``blackjax``: blackjax's normal random-walk Metropolis, vmapped over the same chains;
- ``numpy``: a NumPy loop, one chain at a time, as the plain recipe is usually written.

Rounds alternate the contenders; the tables give the median chain-steps per second and the
median over rounds of each contender's ratio to ``limit`` in the same round. Further tables:
the key implementations, and the time per step against the number of chains and the dimension.

    python benchmarks/metropolis.py            # prints the tables
    python benchmarks/metropolis.py --write    # also writes them into docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from docs_section import DOCS, write_section
from flax import nnx
from machine import describe

import annealax

# The digits and the MLP of the examples (examples/_digits.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from _digits import MLP, digits

NUM_CHAINS, STEP_SIZE, TEMPERATURE = 1024, 0.05, 1.0
# `anneal` with the moves of the other contenders (dense Gaussian, no jumps); its step-size
# adaptation stays on, as part of its bookkeeping.
SAME_MOVES = dict(proposal="gaussian")


def rastrigin(x):
    return 10.0 * x.size + jnp.sum(jnp.square(x) - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def rastrigin_numpy(x):
    return 10.0 * x.size + np.sum(x * x - 10.0 * np.cos(2.0 * np.pi * x))


def mlp_problem():
    """The loss of a Flax MLP on a fixed batch, in JAX and in NumPy, and its parameters."""
    images, labels = digits()
    images, labels = images[:128], labels[:128]
    graphdef, params = nnx.split(MLP(32, activation=jnp.tanh, rngs=nnx.Rngs(0)))

    def loss(params):
        logits = nnx.merge(graphdef, params)(images)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    flat_params, unravel = jax.flatten_util.ravel_pytree(params)
    images_np, labels_np = np.asarray(images), np.asarray(labels)

    def loss_numpy(flat):
        tree = unravel(flat)
        weights = {
            f"{layer}_{name}": np.asarray(tree[layer][name][...])
            for layer in ("hidden", "logits")
            for name in ("kernel", "bias")
        }
        hidden = np.tanh(images_np @ weights["hidden_kernel"] + weights["hidden_bias"])
        logits = hidden @ weights["logits_kernel"] + weights["logits_bias"]
        logits = logits - logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return -log_probs[np.arange(len(labels_np)), labels_np].mean()

    return loss, loss_numpy, params, flat_params


def anneal_run(loss, init, num_steps, impl="threefry2x32"):
    schedule = optax.exponential_decay(TEMPERATURE, num_steps, 1e-3)
    key = jax.random.key(0, impl=impl)

    def run():
        result = annealax.anneal(
            loss,
            init,
            key=key,
            num_steps=num_steps,
            num_chains=NUM_CHAINS,
            temperature=schedule,
            step_size=STEP_SIZE,
            **SAME_MOVES,
        )
        jax.block_until_ready(result.best_value)

    return run


def transformation_run(loss, init, num_steps):
    tx = annealax.metropolis(
        NUM_CHAINS,
        key=0,
        temperature=optax.exponential_decay(TEMPERATURE, num_steps, 1e-3),
        step_size=STEP_SIZE,
    )

    @jax.jit
    def run_steps(params, state):
        def body(carry, _):
            params, state = carry
            updates, state = tx.update(None, state, params, value_fn=loss)
            return (optax.apply_updates(params, updates), state), None

        return jax.lax.scan(body, (params, state), length=num_steps)[0]

    def run():
        jax.block_until_ready(run_steps(init, tx.init(init)))

    return run


def limit_run(loss, init, num_steps):
    """The bare multi-chain Metropolis step, as the lower bound of what any annealer costs."""

    @jax.jit
    def run_steps(init, key):
        chains = jax.tree.map(lambda x: jnp.broadcast_to(x, (NUM_CHAINS, *x.shape)), init)
        keys = jax.random.split(key, NUM_CHAINS)
        energies = jax.vmap(loss)(chains)

        def chain_step(key, chain, energy):
            key, proposal_key, accept_key = jax.random.split(key, 3)
            leaves, treedef = jax.tree.flatten(chain)
            noise_keys = jax.random.split(proposal_key, len(leaves))
            proposal = treedef.unflatten(
                [
                    x + STEP_SIZE * jax.random.normal(k, x.shape, x.dtype)
                    for k, x in zip(noise_keys, leaves, strict=True)
                ]
            )
            proposal_energy = loss(proposal)
            log_u = jnp.log(jax.random.uniform(accept_key))
            accept = log_u * TEMPERATURE < energy - proposal_energy
            chain = jax.tree.map(lambda p, c: jnp.where(accept, p, c), proposal, chain)
            return key, chain, jnp.where(accept, proposal_energy, energy)

        def body(carry, _):
            return jax.vmap(chain_step)(*carry), None

        return jax.lax.scan(body, (keys, chains, energies), length=num_steps)[0]

    def run():
        jax.block_until_ready(run_steps(init, jax.random.key(0)))

    return run


def blackjax_run(loss, init, num_steps):
    import blackjax

    kernel = blackjax.normal_random_walk(lambda x: -loss(x) / TEMPERATURE, STEP_SIZE)

    @jax.jit
    def run_steps(init, key):
        chains = jax.tree.map(lambda x: jnp.broadcast_to(x, (NUM_CHAINS, *x.shape)), init)
        states = jax.vmap(kernel.init)(chains)

        def body(states, step_key):
            keys = jax.random.split(step_key, NUM_CHAINS)
            return jax.vmap(kernel.step)(keys, states)[0], None

        return jax.lax.scan(body, states, jax.random.split(key, num_steps))[0]

    def run():
        jax.block_until_ready(run_steps(init, jax.random.key(0)))

    return run


def numpy_run(loss_numpy, init_flat, num_steps):
    """One chain at a time, ``num_steps`` steps each, for a few chains (then scaled per chain)."""
    rng = np.random.default_rng(0)
    x0 = np.asarray(init_flat, dtype=np.float32)

    def run():
        x, energy = x0.copy(), loss_numpy(x0)
        for _ in range(num_steps):
            proposal = x + STEP_SIZE * rng.standard_normal(x.shape, dtype=np.float32)
            proposal_energy = loss_numpy(proposal)
            if np.log(rng.random()) * TEMPERATURE < energy - proposal_energy:
                x, energy = proposal, proposal_energy

    return run


def measure(contenders: dict[str, tuple[Callable[[], None], int]], rounds: int) -> dict:
    """Median chain-steps per second, and the medians of the per-round ratios of each
    contender's rate to that of "limit" and of the rate of "anneal" to each contender's."""
    for run, _ in contenders.values():
        run()  # compile and warm up
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for round_index in range(rounds):
        names = list(contenders) if round_index % 2 == 0 else list(reversed(contenders))
        for name in names:
            run, chain_steps = contenders[name]
            start = time.perf_counter()
            run()
            rates[name].append(chain_steps / (time.perf_counter() - start))

    def median_ratio(numerators, denominators):
        return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))

    return {
        name: (
            statistics.median(values),
            median_ratio(values, rates["limit"]),
            median_ratio(rates["anneal"], values) if "anneal" in rates else float("nan"),
        )
        for name, values in rates.items()
    }


def throughput_tables(rounds: int, num_steps: int) -> list[str]:
    mlp_loss, mlp_loss_numpy, mlp_params, mlp_flat = mlp_problem()
    problems = {
        "Rastrigin, d=100": (
            rastrigin,
            rastrigin_numpy,
            jnp.full(100, 2.0),
            np.full(100, 2.0),
            num_steps,
        ),
        "Flax MLP, 2,410 parameters": (
            mlp_loss,
            mlp_loss_numpy,
            mlp_params,
            mlp_flat,
            max(10, num_steps // 4),
        ),
    }
    lines = []
    for label, (loss, loss_numpy, init, init_flat, num_steps) in problems.items():
        numpy_steps = max(20, num_steps // 4)
        contenders = {
            "limit": (limit_run(loss, init, num_steps), NUM_CHAINS * num_steps),
            "anneal": (anneal_run(loss, init, num_steps), NUM_CHAINS * num_steps),
            "transformation": (transformation_run(loss, init, num_steps), NUM_CHAINS * num_steps),
            "blackjax": (blackjax_run(loss, init, num_steps), NUM_CHAINS * num_steps),
            "numpy": (numpy_run(loss_numpy, init_flat, numpy_steps), numpy_steps),
        }
        results = measure(contenders, rounds)
        lines += [
            "",
            f"**{label}**, {NUM_CHAINS} chains, {num_steps} steps a run:",
            "",
            "| contender | chain-steps/s | ratio to limit | annealax anneal / contender |",
            "|---|---|---|---|",
        ]
        for name, (rate, ratio, anneal_ratio) in results.items():
            lines.append(f"| {name} | {rate:,.0f} | {ratio:.3f} | {anneal_ratio:.2f} |")
        print("\n".join(lines[-len(results) - 4 :]), flush=True)
    return lines


def key_table(rounds: int, num_steps: int) -> list[str]:
    init = jnp.full(100, 2.0)
    contenders = {
        impl: (anneal_run(rastrigin, init, num_steps, impl), NUM_CHAINS * num_steps)
        for impl in ("threefry2x32", "rbg", "unsafe_rbg")
    }
    contenders["limit"] = (limit_run(rastrigin, init, num_steps), NUM_CHAINS * num_steps)
    results = measure(contenders, rounds)
    lines = [
        "",
        f"**Key implementations**, `anneal` on Rastrigin d=100, {NUM_CHAINS} chains:",
        "",
        "| key implementation | chain-steps/s | ratio to limit (threefry) |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} | {rate:,.0f} | {ratio:.3f} |" for name, (rate, ratio, _) in results.items()
    ]
    print("\n".join(lines), flush=True)
    return lines


def scaling_table(num_steps: int) -> list[str]:
    def time_per_step(num_chains, dimension):
        init = jnp.full(dimension, 2.0)
        kwargs = dict(
            key=0, num_steps=num_steps, num_chains=num_chains, step_size=STEP_SIZE, **SAME_MOVES
        )
        annealax.anneal(rastrigin, init, **kwargs).best_value.block_until_ready()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            annealax.anneal(rastrigin, init, **kwargs).best_value.block_until_ready()
            times.append((time.perf_counter() - start) / num_steps)
        return statistics.median(times)

    lines = [
        "",
        "**Scaling**, `anneal` on Rastrigin: time per step (all chains):",
        "",
        "| chains | d | time per step | chain-steps/s |",
        "|---|---|---|---|",
    ]
    cases = [(c, 100) for c in (1, 4, 16, 64, 256, 1024, 4096, 16384)]
    cases += [(1024, d) for d in (10, 1000)]
    for num_chains, dimension in cases:
        seconds = time_per_step(num_chains, dimension)
        lines.append(
            f"| {num_chains} | {dimension} | {seconds * 1e3:.3f} ms | {num_chains / seconds:,.0f} |"
        )
        print(lines[-1], flush=True)
    return lines


def machine() -> str:
    return describe("jax", "blackjax", "numpy")


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="write the tables into the docs")
    args = parser.parse_args(argv)
    lines = [f"Measured {datetime.date.today().isoformat()} on {machine()}."]
    lines += throughput_tables(args.rounds, args.steps)
    lines += key_table(args.rounds, args.steps)
    lines += scaling_table(max(10, args.steps // 4))
    table = "\n".join(lines)
    print("\n" + table)
    if args.write:
        write_section(DOCS, "metropolis", table, heading="")
    return table


if __name__ == "__main__":
    main()
