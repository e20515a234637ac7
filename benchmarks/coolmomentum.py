"""Time of one CoolMomentum step against optax's and PyTorch's SGD with momentum.

One step is the update and its application to the parameters (what PyTorch's ``optimizer.step()``
does), jitted with the parameters and the optimizer state donated. The parameter trees have the
shapes of ResNet-20 (CIFAR-10, about 0.27M parameters) and ResNet-50 (ImageNet, about 25.6M).
Contenders run in alternation, round by round; the table gives the median time per step and the
median over rounds of the ratio to optax's SGD with momentum measured in the same round.

    python benchmarks/coolmomentum.py            # prints the table
    python benchmarks/coolmomentum.py --write    # also writes it into docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from machine import describe

import annealax

LEARNING_RATE, MOMENTUM = 0.01, 0.9
TEMPERATURE_EVERY = 100
DOCS = Path(__file__).parent.parent / "docs" / "benchmarks.md"
MARKERS = ("<!-- coolmomentum:start -->", "<!-- coolmomentum:end -->")


def resnet20_shapes() -> dict[str, tuple[int, ...]]:
    """ResNet-20 for CIFAR-10 (identity shortcuts): 3x3 convolutions, batch norms, a classifier."""
    shapes = {"conv0": (3, 3, 3, 16), "bn0_scale": (16,), "bn0_bias": (16,)}
    in_channels = 16
    for stage, channels in enumerate((16, 32, 64)):
        for block in range(3):
            for conv in range(2):
                name = f"stage{stage}_block{block}_conv{conv}"
                shapes[name] = (3, 3, in_channels, channels)
                shapes[f"{name}_bn_scale"] = shapes[f"{name}_bn_bias"] = (channels,)
                in_channels = channels
    shapes["dense_kernel"], shapes["dense_bias"] = (64, 10), (10,)
    return shapes


def resnet50_shapes() -> dict[str, tuple[int, ...]]:
    """ResNet-50 for ImageNet: bottleneck blocks [3, 4, 6, 3] with projection shortcuts."""
    shapes = {"conv0": (7, 7, 3, 64), "bn0_scale": (64,), "bn0_bias": (64,)}
    in_channels = 64
    for stage, (width, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3), strict=True)):
        for block in range(blocks):
            prefix = f"stage{stage}_block{block}"
            convs = [(1, 1, in_channels, width), (3, 3, width, width), (1, 1, width, 4 * width)]
            if block == 0:
                convs.append((1, 1, in_channels, 4 * width))
            for index, shape in enumerate(convs):
                shapes[f"{prefix}_conv{index}"] = shape
                shapes[f"{prefix}_conv{index}_bn_scale"] = (shape[-1],)
                shapes[f"{prefix}_conv{index}_bn_bias"] = (shape[-1],)
            in_channels = 4 * width
    shapes["dense_kernel"], shapes["dense_bias"] = (2048, 1000), (1000,)
    return shapes


def jax_step(tx: optax.GradientTransformation, shapes: dict) -> Callable[[int], None]:
    """Returns ``run(num_steps)`` that advances jitted, donated optax steps and waits for them."""
    key_params, key_grads = jax.random.split(jax.random.key(0))
    params = _random_tree(key_params, shapes)
    grads = _random_tree(key_grads, shapes)
    state = tx.init(params)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    carry = [params, state]

    def run(num_steps: int) -> None:
        for _ in range(num_steps):
            carry[0], carry[1] = step(carry[0], carry[1], grads)
        jax.block_until_ready(carry)

    run(2)  # compile and warm up
    return run


def torch_step(shapes: dict) -> Callable[[int], None]:
    import torch

    generator = torch.Generator().manual_seed(0)
    params = [
        torch.randn(shape, generator=generator, requires_grad=True) for shape in shapes.values()
    ]
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator)
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE, momentum=MOMENTUM, foreach=True)

    def run(num_steps: int) -> None:
        for _ in range(num_steps):
            optimizer.step()

    run(2)
    return run


def contenders(shapes: dict, with_torch: bool) -> dict[str, Callable[[int], None]]:
    runs = {
        "optax.sgd(momentum)": jax_step(optax.sgd(LEARNING_RATE, momentum=MOMENTUM), shapes),
        "annealax.coolmomentum": jax_step(
            annealax.coolmomentum(LEARNING_RATE, 0.99, total_steps=1_000_000), shapes
        ),
        f"coolmomentum(temperature_every={TEMPERATURE_EVERY})": jax_step(
            annealax.coolmomentum(
                LEARNING_RATE, 0.99, total_steps=1_000_000, temperature_every=TEMPERATURE_EVERY
            ),
            shapes,
        ),
        "coolmomentum without temperature": jax_step(
            optax.chain(
                annealax.scale_by_coolmomentum(0.99, total_steps=1_000_000),
                optax.scale_by_learning_rate(LEARNING_RATE),
            ),
            shapes,
        ),
    }
    if with_torch:
        runs["torch.optim.SGD(foreach)"] = torch_step(shapes)
    return runs


def measure(runs: dict, rounds: int, steps: int) -> dict[str, tuple[float, float]]:
    """Median time per step (s) and median ratio to the first contender, rounds alternated."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_index in range(rounds):
        names = list(runs) if round_index % 2 == 0 else list(reversed(runs))
        for name in names:
            start = time.perf_counter()
            runs[name](steps)
            times[name].append((time.perf_counter() - start) / steps)
    baseline = times[next(iter(runs))]
    return {
        name: (
            statistics.median(values),
            statistics.median(v / b for v, b in zip(values, baseline, strict=True)),
        )
        for name, values in times.items()
    }


def _random_tree(key: jax.Array, shapes: dict) -> dict:
    keys = jax.random.split(key, len(shapes))
    return {
        name: jax.random.normal(k, shape, jnp.float32)
        for k, (name, shape) in zip(keys, shapes.items(), strict=True)
    }


def machine() -> str:
    description = describe("jax", "optax", "torch")
    try:
        import torch

        description += f" ({torch.get_num_threads()} torch threads)"
    except ImportError:
        pass
    return description


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--write", action="store_true", help="write the table into the docs")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)

    lines = [
        f"Measured {datetime.date.today().isoformat()} on {machine()}.",
        "",
        "| parameters | optimizer | time per step | ratio to optax.sgd(momentum) |",
        "|---|---|---|---|",
    ]
    for label, shapes, steps in (
        ("ResNet-20", resnet20_shapes(), 200),
        ("ResNet-50", resnet50_shapes(), 5),
    ):
        size = sum(int(np.prod(shape)) for shape in shapes.values())
        results = measure(contenders(shapes, not args.no_torch), args.rounds, steps)
        for name, (seconds, ratio) in results.items():
            lines.append(
                f"| {label} ({size / 1e6:.2f}M) | {name} | {seconds * 1e3:.3f} ms | {ratio:.3f} |"
            )
        print("\n".join(lines[-len(results) :]), flush=True)
    table = "\n".join(lines)
    print("\n" + table)
    if args.write:
        text = DOCS.read_text()
        start, end = text.index(MARKERS[0]), text.index(MARKERS[1])
        DOCS.write_text(text[: start + len(MARKERS[0])] + "\n" + table + "\n" + text[end:])
    return table


if __name__ == "__main__":
    main()
