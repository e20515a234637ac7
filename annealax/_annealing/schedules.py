"""Temperature schedules of the Metropolis annealer, as `optax.Schedule`s of the step count."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

from annealax import _checks


def geometric_temperature(
    init_temperature: float, final_temperature: float, num_steps: int
) -> optax.Schedule:
    r"""Geometric cooling $T_t = T_0 (T_f / T_0)^{t / n}$, then $T_f$ after $n$ steps.

    The classic schedule of Kirkpatrick et al.: the temperature falls by the same factor at
    every step, $T_{t+1} = \alpha T_t$ with $\alpha = (T_f / T_0)^{1/n}$. It is
    `optax.exponential_decay` with its arguments named for annealing.

    Args:
        init_temperature: $T_0 > 0$.
        final_temperature: $T_f > 0$, reached at step ``num_steps``.
        num_steps: $n \ge 1$.

    Returns:
        An `optax.Schedule`.

    Examples:
        >>> import annealax
        >>> schedule = annealax.geometric_temperature(10.0, 0.01, 1000)
        >>> [round(float(schedule(t)), 4) for t in (0, 500, 1000, 2000)]
        [10.0, 0.3162, 0.01, 0.01]
    """
    _check_temperature("init_temperature", init_temperature)
    _check_temperature("final_temperature", final_temperature)
    num_steps = _checks.check_positive_int("num_steps", num_steps)
    return _Geometric(float(init_temperature), float(final_temperature), num_steps)


def linear_temperature(
    init_temperature: float, final_temperature: float, num_steps: int
) -> optax.Schedule:
    r"""Linear cooling $T_t = T_0 + (T_f - T_0)\, t / n$, then $T_f$ after $n$ steps.

    It spends more of the run at high temperature than geometric cooling from the same $T_0$
    to the same $T_f$, and cools fast at the end. It is `optax.linear_schedule`.

    Args:
        init_temperature: $T_0 > 0$.
        final_temperature: $T_f \ge 0$ (0: the last steps accept downhill moves only).
        num_steps: $n \ge 1$.

    Returns:
        An `optax.Schedule`.

    Examples:
        >>> import annealax
        >>> schedule = annealax.linear_temperature(10.0, 0.0, 1000)
        >>> [float(schedule(t)) for t in (0, 500, 1000, 2000)]
        [10.0, 5.0, 0.0, 0.0]
    """
    _check_temperature("init_temperature", init_temperature)
    if not (_checks.is_python_number(final_temperature) and final_temperature >= 0):
        raise ValueError(f"`final_temperature` must be a float >= 0, got {final_temperature!r}")
    num_steps = _checks.check_positive_int("num_steps", num_steps)
    return _Linear(float(init_temperature), float(final_temperature), num_steps)


def logarithmic_temperature(init_temperature: float) -> optax.Schedule:
    r"""Logarithmic cooling $T_t = T_0 / \log(e + t)$.

    The schedule of Geman and Geman, $T_t = c / \log(1 + t)$, shifted so that $T_0$ is the
    temperature at step 0. Cooling this slowly reaches the global minimum with probability 1 as
    $t \to \infty$ when $T_0$ is at least the depth of the deepest local minimum that is not
    global; in a run of finite length it stays hot: after $10^6$ steps it is still $T_0 / 13.8$.

    Args:
        init_temperature: $T_0 > 0$.

    Returns:
        An `optax.Schedule`.

    Examples:
        >>> import annealax
        >>> schedule = annealax.logarithmic_temperature(10.0)
        >>> [round(float(schedule(t)), 3) for t in (0, 100, 10_000)]
        [10.0, 2.159, 1.086]
    """
    _check_temperature("init_temperature", init_temperature)
    return _Logarithmic(float(init_temperature))


def restarting_temperature(
    schedule: optax.Schedule, period: int, reheat: float = 1.0
) -> optax.Schedule:
    r"""Restarts: ``schedule`` run again every ``period`` steps, each time scaled by ``reheat``.

    $T_t = r^{k}\, \text{schedule}(t - k p)$ with $k = \lfloor t / p \rfloor$, period $p$ and
    reheat factor $r$. Each restart heats the chains up so that they can leave the basin the
    previous cycle froze them in; $r < 1$ lowers every peak relative to the last.

    Args:
        schedule: The cooling of one cycle, an `optax.Schedule` (such as
            `geometric_temperature` over ``period`` steps).
        period: The length $p \ge 1$ of a cycle, in steps.
        reheat: $r$, in (0, 1].

    Returns:
        An `optax.Schedule`.

    Examples:
        >>> import annealax
        >>> cycle = annealax.geometric_temperature(1.0, 0.01, 100)
        >>> schedule = annealax.restarting_temperature(cycle, period=100, reheat=0.5)
        >>> [round(float(schedule(t)), 3) for t in (0, 99, 100, 200)]
        [1.0, 0.01, 0.5, 0.25]
    """
    if not callable(schedule):
        raise ValueError(f"`schedule` must be an optax.Schedule, got {schedule!r}")
    period = _checks.check_positive_int("period", period)
    if not (_checks.is_python_number(reheat) and 0 < reheat <= 1):
        raise ValueError(f"`reheat` must be a float in (0, 1], got {reheat!r}")
    return _Restarting(schedule, period, float(reheat))


# The schedules are frozen dataclasses, equal when their settings are: passing an equal schedule
# to `annealax.anneal` again reuses its compiled run.


@dataclasses.dataclass(frozen=True)
class _Geometric:
    init_temperature: float
    final_temperature: float
    num_steps: int

    def __call__(self, count: jax.Array) -> jax.Array:
        return optax.exponential_decay(
            self.init_temperature,
            transition_steps=self.num_steps,
            decay_rate=self.final_temperature / self.init_temperature,
            end_value=self.final_temperature,
        )(count)


@dataclasses.dataclass(frozen=True)
class _Linear:
    init_temperature: float
    final_temperature: float
    num_steps: int

    def __call__(self, count: jax.Array) -> jax.Array:
        return optax.linear_schedule(self.init_temperature, self.final_temperature, self.num_steps)(
            count
        )


@dataclasses.dataclass(frozen=True)
class _Logarithmic:
    init_temperature: float

    def __call__(self, count: jax.Array) -> jax.Array:
        return self.init_temperature / jnp.log(jnp.e + jnp.asarray(count, jnp.float32))


@dataclasses.dataclass(frozen=True)
class _Restarting:
    schedule: optax.Schedule
    period: int
    reheat: float

    def __call__(self, count: jax.Array) -> jax.Array:
        cycle, offset = jnp.divmod(jnp.asarray(count, jnp.int32), self.period)
        return self.reheat ** cycle.astype(jnp.float32) * self.schedule(offset)


def _check_temperature(name: str, value: object) -> None:
    if isinstance(value, bool) or not (_checks.is_python_number(value) and value > 0):
        raise ValueError(f"`{name}` must be a float > 0, got {value!r}")
