r"""The annealer's temperature: a constant, a schedule, or measured from the first step."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from annealax import _checks
from annealax._annealing.schedules import geometric_temperature

INITIAL_UPHILL_ACCEPTANCE = 0.8
"""With `auto_temperature`, the typical uphill move of the first step is accepted this often."""

AUTO_FINAL_TEMPERATURE_RATIO = 1e-8
"""`auto_temperature` without ``cooling`` cools geometrically to this times T0."""


@dataclasses.dataclass(frozen=True)
class AutoTemperature:
    """A temperature measured at the first step and cooled; see `auto_temperature`."""

    cooling: optax.Schedule


def auto_temperature(
    *, num_steps: int | None = None, cooling: optax.Schedule | None = None
) -> AutoTemperature:
    r"""A temperature $T_t = T_0 \cdot \text{cooling}(t)$ with $T_0$ measured at the first step.

    The first step measures $T_0$ from the energy increases of its proposals: the median uphill
    move is accepted with probability 0.8 (see `initial_temperature`). Losses of any scale
    need no hand-picked temperature. `annealax.anneal`'s default, ``temperature="auto"``, is
    ``auto_temperature(num_steps=num_steps)``.

    Args:
        num_steps: The length of the run: ``cooling`` defaults to a geometric fall from 1 to
            $10^{-8}$ over ``num_steps``.
        cooling: The schedule of $T_t / T_0$ instead (it should start at 1).

    Returns:
        A temperature for ``temperature=``.

    Raises:
        ValueError: With neither ``num_steps`` nor ``cooling``, or a ``cooling`` that is not
            a schedule or is negative or NaN at step 0.

    Examples:
        >>> import annealax
        >>> tx = annealax.metropolis(
        ...     16, key=0, temperature=annealax.auto_temperature(num_steps=1000)
        ... )
    """
    num_steps = _checks.check_optional_positive_int("num_steps", num_steps)
    if cooling is not None:
        check_schedule("cooling", cooling)
    elif num_steps is None:
        raise ValueError(
            "`auto_temperature` needs `num_steps` (the length of the default geometric "
            "cooling) or a `cooling` schedule, got neither"
        )
    else:
        cooling = geometric_temperature(1.0, AUTO_FINAL_TEMPERATURE_RATIO, num_steps)
    return AutoTemperature(cooling)


def check_temperature(temperature: Any) -> None:
    """Raise for a temperature that is not > 0, a schedule or an `auto_temperature`."""
    if isinstance(temperature, AutoTemperature):
        return
    if isinstance(temperature, str) and temperature == "auto":
        raise ValueError(
            '`temperature="auto"` needs the length of the run: pass '
            "temperature=annealax.auto_temperature(num_steps=...) (or cooling=...)"
        )
    check_positive_or_schedule("temperature", temperature, "annealax.auto_temperature(...)")


def check_positive_or_schedule(name: str, value: Any, alternative: str) -> None:
    """Raise for a value that is not finite and > 0, or a schedule not finite and >= 0 at 0."""
    if callable(value):
        check_schedule(name, value)
        return
    allowed = f"finite and > 0, an optax.Schedule or {alternative}"
    _checks.check_range(name, value, allowed, lambda v: np.isfinite(v) & (v > 0))


def check_schedule(name: str, schedule: Any) -> None:
    """Raise unless ``schedule`` is callable and, called at step 0, finite and >= 0.

    A schedule is called once at step 0, outside any trace; one that cannot be called so is
    not checked (`annealax.anneal` reports non-finite temperatures in its status).
    """
    if not callable(schedule):
        raise ValueError(f"`{name}` must be an optax.Schedule, got {schedule!r}")
    try:
        start = jnp.asarray(schedule(0))
    except Exception:
        # A schedule that cannot run outside a trace: the run reports its values.
        return
    _checks.check_range(
        f"{name}(0)", start, "finite and >= 0 (a schedule)", lambda v: np.isfinite(v) & (v >= 0)
    )


def initial_scale(temperature: Any, dtype: Any) -> jax.Array | optax.EmptyState:
    """The sub-state: $T_0$ (0 until measured) with `auto_temperature`, empty otherwise."""
    if isinstance(temperature, AutoTemperature):
        return jnp.asarray(0, dtype)
    return optax.EmptyState()


def base_temperature(
    temperature: Any, scale: jax.Array | optax.EmptyState, count: jax.Array, dtype: Any
) -> jax.Array:
    r"""$T_t$: the constant, the schedule's value, or $T_0 \cdot \text{cooling}(t)$."""
    if isinstance(temperature, AutoTemperature):
        return scale * scalar(temperature.cooling, count, dtype)
    return scalar(temperature, count, dtype)


def scalar(value: optax.ScalarOrSchedule, count: jax.Array, dtype: Any) -> jax.Array:
    """A constant or a schedule's value at ``count``, as a scalar of ``dtype``."""
    value = value(count) if callable(value) else value
    return jnp.asarray(value).astype(dtype)


def initial_temperature(values: jax.Array, proposal_values: jax.Array) -> jax.Array:
    r"""$T_0 = \operatorname{median}(\Delta E^+) / \log(1 / \chi_0)$ from the first proposals.

    $\Delta E^+$ are the finite energy increases of the first step's proposals and $\chi_0 =$
    `INITIAL_UPHILL_ACCEPTANCE`: the median uphill move is accepted with probability $\chi_0$
    at $T_0$. The median is robust to a few huge increases and, unlike a mean, is the same bits
    whatever the order in which devices reduce. Without any finite uphill move it takes the
    median absolute change instead, and without any finite change a spread of 1 (so $T_0 =
    1 / \log(1 / \chi_0) \approx 4.48$).
    """
    delta = proposal_values - values
    finite = jnp.isfinite(delta)
    uphill = jnp.where(finite & (delta > 0), delta, jnp.nan)
    spread = jnp.where(
        jnp.any(finite & (delta > 0)),
        jnp.nanmedian(uphill),
        jnp.nanmedian(jnp.where(finite, jnp.abs(delta), jnp.nan)),
    )
    spread = jnp.where(jnp.isfinite(spread) & (spread > 0), spread, 1)
    return (spread / math.log(1 / INITIAL_UPHILL_ACCEPTANCE)).astype(values.dtype)
