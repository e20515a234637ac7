"""A literal NumPy float64 transcription of the authors' CoolMomentum loop (the spec's rule).

It is checked against the golden trajectories in test_coolmomentum_parity.py, then used as the
reference for the settings the golden files do not cover (total_steps, the later cooling laws).
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).parent / "data" / "golden"

# name: (lr, rho_0, alpha, weight_decay), from the golden README.
GOLDEN_CASES = {
    "a_quadratic": (0.01, 0.99, 0.999, 0.0),
    "c_rosenbrock": (1e-4, 0.9, 0.999, 0.0),
    "e_quadratic_beta1": (0.01, 0.99, 1.0, 0.0),
    "f_quadratic_clamp": (0.01, 0.9, 0.98, 0.0),
}


@dataclasses.dataclass(frozen=True)
class Golden:
    name: str
    lr: float
    rho_0: float
    alpha: float
    weight_decay: float
    params: np.ndarray  # (steps + 1, n)
    grads: np.ndarray  # (steps, n)
    velocity: np.ndarray  # (steps, n)
    rho: np.ndarray  # (steps,)
    temperature: np.ndarray  # (steps,)


def load_golden(name: str) -> Golden:
    data = np.load(GOLDEN_DIR / f"{name}.npz")
    (param_key,) = [k for k in data.files if k.startswith("param__")]
    suffix = param_key.removeprefix("param__")
    lr, rho_0, alpha, weight_decay = GOLDEN_CASES[name]
    return Golden(
        name=name,
        lr=lr,
        rho_0=rho_0,
        alpha=alpha,
        weight_decay=weight_decay,
        params=data[param_key],
        grads=data[f"grad__{suffix}"],
        velocity=data[f"buffer__{suffix}"],
        rho=data["rho"],
        temperature=data["temperature"],
    )


def exponential_rho(rho_0: float, alpha: float) -> Callable[[int], float]:
    def rho(t: int) -> float:
        cooled = alpha**t
        return max(0.0, 1.0 - (1.0 - rho_0) / cooled) if cooled > 0.0 else 0.0

    return rho


def friction_rho(rho_0: float, total_steps: int) -> Callable[[int], float]:
    c = (1.0 - rho_0) / (1.0 + rho_0)
    b = c ** (1.0 / total_steps)

    def rho(t: int) -> float:
        if t >= total_steps or b**t == 0.0:
            return 0.0
        return (1.0 - c / b**t) / (1.0 + c / b**t)

    return rho


def linear_rho(rho_0: float, total_steps: int) -> Callable[[int], float]:
    def rho(t: int) -> float:
        u = t / total_steps
        return max(0.0, rho_0 * (1.0 - u) / abs(1.0 - rho_0 * u))

    return rho


def replay(theta_0, grads, lr, rho_of_t, weight_decay=0.0):
    """The authors' update loop on recorded gradients: params, velocity, rho and temperature."""
    theta = np.array(theta_0, dtype=np.float64)
    v = np.zeros_like(theta)
    params, velocities, rhos, temperatures = [theta.copy()], [], [], []
    for t, g in enumerate(grads):
        rho = rho_of_t(t)
        eta = lr * (1.0 + rho) / 2.0
        g = g + weight_decay * theta if weight_decay else g
        v = rho * v - eta * g
        theta = theta + v
        params.append(theta.copy())
        velocities.append(v.copy())
        rhos.append(rho)
        temperatures.append(np.mean(v**2))
    return np.array(params), np.array(velocities), np.array(rhos), np.array(temperatures)
