"""Figure of the Metropolis annealer's temperature schedules, for the Metropolis guide.

Writes ``temperature_schedules.png``: the temperature T_t of annealax's geometric, linear,
logarithmic and restarting schedules over the same run, all from the same initial temperature,
on a linear scale and on a log scale. Every curve is drawn from annealax's own schedules.

Run from the repository root:

    python docs/plots/temperature_schedules.py             # into docs/images/
    python docs/plots/temperature_schedules.py OUT_DIR     # into OUT_DIR
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

OUTPUTS = ("temperature_schedules.png",)
DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "images"
DPI = 100
NUM_STEPS = 1000
INITIAL_TEMPERATURE = 1.0
FINAL_TEMPERATURE = 1e-4
LINEAR_FINAL_TEMPERATURE = 1e-3  # above 0, so that the curve shows on the log scale
NUM_CYCLES = 4
REHEAT = 0.5


def schedules() -> dict[str, optax.Schedule]:
    """The four schedules, labelled with their settings."""
    period = NUM_STEPS // NUM_CYCLES
    cycle = annealax.geometric_temperature(INITIAL_TEMPERATURE, FINAL_TEMPERATURE, period)
    return {
        f"geometric to {FINAL_TEMPERATURE:g}": annealax.geometric_temperature(
            INITIAL_TEMPERATURE, FINAL_TEMPERATURE, NUM_STEPS
        ),
        f"linear to {LINEAR_FINAL_TEMPERATURE:g}": annealax.linear_temperature(
            INITIAL_TEMPERATURE, LINEAR_FINAL_TEMPERATURE, NUM_STEPS
        ),
        "logarithmic": annealax.logarithmic_temperature(INITIAL_TEMPERATURE),
        f"restarting: geometric cycles of {period} steps, reheat {REHEAT:g}": (
            annealax.restarting_temperature(cycle, period=period, reheat=REHEAT)
        ),
    }


def temperatures(schedule: optax.Schedule, steps: np.ndarray) -> np.ndarray:
    """The schedule's T_t at every step count in ``steps``, as a NumPy array."""
    return np.asarray(schedule(jnp.asarray(steps, dtype=jnp.int32)))


def plot_schedules(path: Path) -> None:
    """T_t of every schedule, on a linear scale (left) and a log scale (right)."""
    steps = np.arange(NUM_STEPS)  # the step counts of a run of NUM_STEPS steps
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    linear_axis, log_axis = axes
    linear_axis.set(xlabel="step t", ylabel=r"$T_t$")
    log_axis.set(xlabel="step t", ylabel=r"$T_t$ (log scale)", yscale="log")
    for label, schedule in schedules().items():
        t_t = temperatures(schedule, steps)
        linear_axis.plot(steps, t_t, label=label)
        log_axis.plot(steps, t_t, label=label)
    for axis in axes:
        axis.grid(alpha=0.3)
    handles, labels = linear_axis.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    figure.suptitle(rf"Temperature schedules from $T_0 = {INITIAL_TEMPERATURE:g}$")
    figure.tight_layout(rect=(0.0, 0.12, 1.0, 1.0))
    figure.savefig(path, dpi=DPI, metadata={"Software": None}, pil_kwargs={"optimize": True})
    plt.close(figure)


def main(out_dir: Path = DEFAULT_OUT_DIR) -> list[Path]:
    """Write the figure into ``out_dir``.

    Args:
        out_dir: The folder for the PNG file, created if missing.

    Returns:
        The paths of the files written, one per name in ``OUTPUTS``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in OUTPUTS]
    plot_schedules(paths[0])
    return paths


if __name__ == "__main__":
    for written in main(*map(Path, sys.argv[1:2])):
        print(f"wrote {written}")
