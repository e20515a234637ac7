"""Functions of the BBOB suite (COCO's ``bbob``), written in JAX from their definitions.

Each instance is built as COCO builds it: the optimum ``x_opt``, the offset ``f_opt`` and the
rotations R and Q come from the BBOB 2009 random generator (a Park-Miller generator with a
shuffle table, Box-Muller for the Gaussians, Gram-Schmidt for the rotations), seeded by the
function and the instance, so that an instance here is COCO's instance with the same numbers:
``tests/test_bbob.py`` evaluates both on random points when ``cocoex`` is installed. The
transforms follow the COCO documentation (Hansen, Finck, Ros and Auger, "Real-parameter
black-box optimization benchmarking 2009: noiseless functions definitions", INRIA RR-6829):

- $T_\\mathrm{osz}$, the oscillation of every coordinate,
- $T_\\mathrm{asy}^\\beta$, the asymmetric transform of the positive coordinates,
- $\\Lambda^\\alpha$, the diagonal with condition $\\alpha$,
- $f_\\mathrm{pen}$, the quadratic penalty outside $[-5, 5]^D$.

The suite (`SUITE`) takes functions that are rotated and ill-conditioned: the rotated
Rosenbrock (f9), ellipsoid (f10), discus (f11), bent cigar (f12), different powers (f14),
Rastrigin (f15), Weierstrass (f16) and Schaffer's F7 (f17). Each function computes in its
input's dtype; ``value - f_opt`` is the quantity the benchmark reports (0 at the optimum).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

ROTATION_SEED_OFFSET = 1_000_000


def uniform(count: int, seed: int) -> np.ndarray:
    """``count`` uniform numbers in (0, 1] of the BBOB 2009 generator."""
    seed = max(abs(seed), 1)

    def advance(value: int) -> int:
        tmp = value // 127773
        value = 16807 * (value - tmp * 127773) - 2836 * tmp
        return value + 2147483647 if value < 0 else value

    table = [0] * 32
    for i in range(39, -1, -1):
        seed = advance(seed)
        if i < 32:
            table[i] = seed
    current = table[0]
    out = np.empty(count)
    for i in range(count):
        seed = advance(seed)
        slot = current // 67108865
        current = table[slot]
        table[slot] = seed
        out[i] = current / 2.147483647e9 or 1e-99
    return out


def gaussian(count: int, seed: int) -> np.ndarray:
    """``count`` standard normal numbers of the BBOB 2009 generator (Box-Muller)."""
    u = uniform(2 * count, seed)
    g = np.sqrt(-2.0 * np.log(u[:count])) * np.cos(2.0 * math.pi * u[count:])
    return np.where(g == 0.0, 1e-99, g)


def rotation(seed: int, dimension: int) -> np.ndarray:
    """A random orthogonal matrix: Gram-Schmidt on the columns of a Gaussian matrix."""
    b = gaussian(dimension * dimension, seed).reshape(dimension, dimension).T.copy()
    for i in range(dimension):
        for j in range(i):
            b[:, i] -= (b[:, i] @ b[:, j]) * b[:, j]
        b[:, i] /= math.sqrt(b[:, i] @ b[:, i])
    return b


def optimum(seed: int, dimension: int) -> np.ndarray:
    """``x_opt``: uniform on a grid of step 8e-4 in [-4, 4)."""
    x = 8.0 * np.floor(1e4 * uniform(dimension, seed)) / 1e4 - 4.0
    return np.where(x == 0.0, -1e-5, x)


def offset(function: int, instance: int) -> float:
    """``f_opt``: a random value in [-1000, 1000], rounded to 0.01."""
    seed = {4: 3, 18: 17}.get(function, function) + 10000 * instance
    ratio = gaussian(1, seed)[0] / gaussian(1, seed + 1)[0]
    return float(min(1000.0, max(-1000.0, np.floor(100.0 * 100.0 * ratio + 0.5) / 100.0)))


def conditioning(alpha: float, dimension: int) -> np.ndarray:
    """The diagonal of $\\Lambda^\\alpha$: $\\alpha^{(i-1)/(2(D-1))}$."""
    return alpha ** (0.5 * np.arange(dimension) / max(dimension - 1, 1))


def oscillate(x):
    """$T_\\mathrm{osz}$, coordinate by coordinate."""
    safe = jnp.where(x == 0, 1.0, jnp.abs(x))
    log = jnp.where(x == 0, 0.0, jnp.log(safe))
    c1 = jnp.where(x > 0, 10.0, 5.5)
    c2 = jnp.where(x > 0, 7.9, 3.1)
    return jnp.sign(x) * jnp.exp(log + 0.049 * (jnp.sin(c1 * log) + jnp.sin(c2 * log)))


def asymmetric(x, beta: float):
    """$T_\\mathrm{asy}^\\beta$: $x_i^{1 + \\beta \\frac{i-1}{D-1} \\sqrt{x_i}}$ where $x_i > 0$."""
    share = jnp.arange(x.shape[0], dtype=x.dtype) / max(x.shape[0] - 1, 1)
    positive = jnp.where(x > 0, x, 1.0)
    return jnp.where(x > 0, positive ** (1.0 + beta * share * jnp.sqrt(positive)), x)


def penalty(x):
    """$f_\\mathrm{pen}$: $\\sum_i \\max(0, |x_i| - 5)^2$."""
    return jnp.sum(jnp.maximum(0.0, jnp.abs(x) - 5.0) ** 2)


def powers(dimension: int, dtype, top: float) -> jnp.ndarray:
    return jnp.asarray(top ** (np.arange(dimension) / max(dimension - 1, 1)), dtype)


@dataclasses.dataclass(frozen=True)
class Instance:
    """A BBOB instance: ``value(x)`` in JAX (minimum ``f_opt`` at ``x_opt``) and its numbers."""

    function: int
    instance: int
    dimension: int
    value: Callable
    f_opt: float

    @property
    def name(self) -> str:
        return f"f{self.function}"


OPTIMUM_SEED_OFFSET = {12: ROTATION_SEED_OFFSET}
"""Functions whose optimum COCO draws with the rotation's seed."""


def _constants(function: int, instance: int, dimension: int) -> dict:
    seed = function + 10000 * instance
    return dict(
        x_opt=optimum(seed + OPTIMUM_SEED_OFFSET.get(function, 0), dimension),
        f_opt=offset(function, instance),
        R=rotation(seed + ROTATION_SEED_OFFSET, dimension),
        Q=rotation(seed, dimension),
    )


def rosenbrock_rotated(c, d):
    factor = max(1.0, math.sqrt(d) / 8.0)
    matrix = factor * c["Q"]

    def f(x):
        z = jnp.asarray(matrix, x.dtype) @ x + 0.5
        return jnp.sum(100.0 * (z[:-1] ** 2 - z[1:]) ** 2 + (z[:-1] - 1.0) ** 2)

    return f


def ellipsoid(c, d):
    def f(x):
        z = oscillate(_rotated(c, x))
        return jnp.sum(powers(d, x.dtype, 1e6) * z**2)

    return f


def discus(c, d):
    def f(x):
        z = oscillate(_rotated(c, x))
        return 1e6 * z[0] ** 2 + jnp.sum(z[1:] ** 2)

    return f


def bent_cigar(c, d):
    def f(x):
        r = jnp.asarray(c["R"], x.dtype)
        z = r @ asymmetric(_rotated(c, x), 0.5)
        return z[0] ** 2 + 1e6 * jnp.sum(z[1:] ** 2)

    return f


def different_powers(c, d):
    def f(x):
        z = _rotated(c, x)
        exponents = 2.0 + 4.0 * jnp.arange(d, dtype=x.dtype) / max(d - 1, 1)
        return jnp.sqrt(jnp.sum(jnp.abs(z) ** exponents))

    return f


def _middle(c, d, alpha):
    """$R \\Lambda^\\alpha Q$, the matrix between the transforms of f15 and f16."""
    return c["R"] @ np.diag(conditioning(alpha, d)) @ c["Q"]


def rastrigin_rotated(c, d):
    middle = _middle(c, d, 10.0)

    def f(x):
        z = asymmetric(oscillate(_rotated(c, x)), 0.2)
        z = jnp.asarray(middle, x.dtype) @ z
        return 10.0 * (d - jnp.sum(jnp.cos(2.0 * math.pi * z))) + jnp.sum(z**2)

    return f


WEIERSTRASS_TERMS = 12


def weierstrass(c, d):
    middle = _middle(c, d, 0.01)
    k = np.arange(WEIERSTRASS_TERMS)
    f0 = float(np.sum(0.5**k * np.cos(math.pi * 3.0**k)))

    def f(x):
        z = jnp.asarray(middle, x.dtype) @ oscillate(_rotated(c, x))
        scale = jnp.asarray(0.5**k, x.dtype)
        frequency = jnp.asarray(3.0**k, x.dtype)
        terms = scale[None, :] * jnp.cos(2.0 * math.pi * frequency[None, :] * (z[:, None] + 0.5))
        return 10.0 * (jnp.sum(terms) / d - f0) ** 3 + 10.0 / d * penalty(x)

    return f


def schaffer_f7(c, d):
    diagonal = conditioning(10.0, d)[:, None] * c["Q"]

    def f(x):
        z = jnp.asarray(diagonal, x.dtype) @ asymmetric(_rotated(c, x), 0.5)
        s = jnp.sqrt(z[:-1] ** 2 + z[1:] ** 2)
        inner = jnp.sqrt(s) + jnp.sqrt(s) * jnp.sin(50.0 * s**0.2) ** 2
        return (jnp.sum(inner) / (d - 1)) ** 2 + 10.0 * penalty(x)

    return f


def _rotated(c, x):
    """$R (x - x_\\mathrm{opt})$."""
    return jnp.asarray(c["R"], x.dtype) @ (x - jnp.asarray(c["x_opt"], x.dtype))


BUILDERS = {
    9: rosenbrock_rotated,
    10: ellipsoid,
    11: discus,
    12: bent_cigar,
    14: different_powers,
    15: rastrigin_rotated,
    16: weierstrass,
    17: schaffer_f7,
}
SUITE = tuple(BUILDERS)
NAMES = {
    9: "Rosenbrock (rotated)",
    10: "ellipsoid",
    11: "discus",
    12: "bent cigar",
    14: "different powers",
    15: "Rastrigin (rotated)",
    16: "Weierstrass",
    17: "Schaffer F7",
}
BOX = (-5.0, 5.0)


def make(function: int, instance: int, dimension: int) -> Instance:
    """BBOB function ``function`` (one of `SUITE`), instance ``instance``, in ``dimension``."""
    if function not in BUILDERS:
        raise ValueError(f"`function` must be one of {SUITE}, got {function!r}")
    constants = _constants(function, instance, dimension)
    inner = BUILDERS[function](constants, dimension)
    f_opt = constants["f_opt"]

    def value(x):
        return inner(x) + jnp.asarray(f_opt, x.dtype)

    return Instance(function, instance, dimension, value, f_opt)
