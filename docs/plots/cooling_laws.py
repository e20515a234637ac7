"""Figures of CoolMomentum's cooling laws, for the CoolMomentum guide.

Writes two figures, each drawn from annealax's own schedules:

- ``cooling_laws.png``: the momentum coefficient rho_t of the exponential, linear and friction
  laws with the same rho_0 and the same number of updates S, on a linear scale and as 1 - rho_t on
  a log scale;
- ``cooling_rate.png``: the exponential law for several planned numbers of updates S, that is for
  several cooling rates alpha = (1 - rho_0)^(1/S), and for the default cooling rate.

Run from the repository root:

    python docs/plots/cooling_laws.py             # into docs/images/
    python docs/plots/cooling_laws.py OUT_DIR     # into OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax.numpy as jnp
import matplotlib
import numpy as np
import optax

import annealax

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OUTPUTS = ("cooling_laws.png", "cooling_rate.png")
DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "images"
DPI = 100
MOMENTUM = 0.99
TOTAL_STEPS = 1000
COOLING_LAWS = ("exponential", "linear", "friction")
TOTAL_STEPS_SWEEP = (250, 500, 1000, 2000)
DEFAULT_COOLING_RATE = 0.99997


def rho(schedule: optax.Schedule, steps: np.ndarray) -> np.ndarray:
    """The schedule's rho_t at every update count in ``steps``, as a NumPy array."""
    return np.asarray(schedule(jnp.asarray(steps, dtype=jnp.int32)))


def rho_panels(figsize: tuple[float, float]):
    """A figure with rho_t on the left and 1 - rho_t on a log scale on the right."""
    figure, (linear_axis, log_axis) = plt.subplots(1, 2, figsize=figsize)
    linear_axis.set(xlabel="update t", ylabel=r"$\rho_t$", ylim=(-0.02, 1.0))
    log_axis.set(xlabel="update t", ylabel=r"$1 - \rho_t$ (1 once cooled)", yscale="log")
    return figure, (linear_axis, log_axis)


def plot_rho(axes, steps: np.ndarray, rho_t: np.ndarray, **style) -> None:
    """rho_t on the linear axis and 1 - rho_t, which is 1 once cooled, on the log axis."""
    linear_axis, log_axis = axes
    linear_axis.plot(steps, rho_t, **style)
    log_axis.plot(steps, 1.0 - rho_t, **style)


def finish(figure, axes, title: str, path: Path) -> None:
    """Grids, a legend below the panels and a title; save at the docs' resolution and close."""
    for axis in axes:
        axis.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), frameon=False)
    figure.suptitle(title)
    legend_rows = -(-len(labels) // 3)
    figure.tight_layout(rect=(0.0, 0.06 * legend_rows, 1.0, 1.0))
    figure.savefig(path, dpi=DPI, metadata={"Software": None}, pil_kwargs={"optimize": True})
    plt.close(figure)


def plot_laws(path: Path) -> None:
    """The three laws with the same rho_0 and the same number of updates."""
    steps = np.arange(TOTAL_STEPS + 1)
    figure, axes = rho_panels((10, 4.2))
    for cooling in COOLING_LAWS:
        schedule = annealax.momentum_schedule(MOMENTUM, total_steps=TOTAL_STEPS, cooling=cooling)
        plot_rho(axes, steps, rho(schedule, steps), label=cooling)
    title = rf"Cooling laws: $\rho_0 = {MOMENTUM}$, $\rho_t = 0$ from $t = S = {TOTAL_STEPS}$"
    finish(figure, axes, title, path)


def plot_cooling_rates(path: Path) -> None:
    """The exponential law for several numbers of updates S, and for the default cooling rate."""
    steps = np.arange(max(TOTAL_STEPS_SWEEP) + 1)
    figure, axes = rho_panels((10, 4.2))
    for total_steps in TOTAL_STEPS_SWEEP:
        schedule = annealax.exponential_cooling(MOMENTUM, total_steps=total_steps)
        alpha = annealax.cooling_rate_for_steps(MOMENTUM, total_steps)
        label = rf"$S = {total_steps}$, $\alpha = {alpha:.5f}$"
        plot_rho(axes, steps, rho(schedule, steps), label=label)
    default = annealax.exponential_cooling(MOMENTUM, DEFAULT_COOLING_RATE)
    label = rf"default $\alpha = {DEFAULT_COOLING_RATE}$ ($S \approx 153{{,}}500$)"
    plot_rho(axes, steps, rho(default, steps), label=label, color="gray", linestyle="--")
    title = rf"Exponential cooling from $\rho_0 = {MOMENTUM}$: the cooling rate"
    finish(figure, axes, title, path)


def main(out_dir: Path = DEFAULT_OUT_DIR) -> list[Path]:
    """Write the figures into ``out_dir``.

    Args:
        out_dir: The folder for the PNG files, created if missing.

    Returns:
        The paths of the files written, one per name in ``OUTPUTS``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in OUTPUTS]
    plot_laws(paths[0])
    plot_cooling_rates(paths[1])
    return paths


if __name__ == "__main__":
    for written in main(*map(Path, sys.argv[1:2])):
        print(f"wrote {written}")
