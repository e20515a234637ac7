"""Step sizes: the given constant or schedule times each chain's adapted factor."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from annealax._annealing import adaptation as _adaptation
from annealax._annealing import bounds as _bounds
from annealax._annealing import temperature as _temperature
from annealax._annealing.config import MetropolisConfig

AUTO_STEP_FRACTION = 0.1
"""``step_size="auto"`` starts at this fraction of the mean width of the bounds (or at 0.1)."""


def step_sizes(
    config: MetropolisConfig, log_step_factor: jax.Array, count: jax.Array, dtype: Any
) -> jax.Array:
    base = 1 if is_auto(config.step_size) else _temperature.scalar(config.step_size, count, dtype)
    return base * jnp.exp(jnp.asarray(log_step_factor).astype(dtype))


def mean_width(config: MetropolisConfig, like: optax.Params) -> jax.Array | None:
    """The mean width of the box's finite sides over ``like``; NaN if none, None without bounds."""
    if config.bounds is None:
        return None
    return _bounds.mean_width(like, config.bounds, finite=config.bounds_finite)


def initial_log_step_factor(config: MetropolisConfig, width: jax.Array | None) -> jax.Array:
    """The logarithm of the step-size factor at the start: 0, or that of ``step_size="auto"``."""
    if not is_auto(config.step_size):
        return jnp.zeros([])
    unbounded = jnp.log(jnp.asarray(AUTO_STEP_FRACTION, jnp.float32))
    if width is None:
        return unbounded
    if config.bounds_finite:
        return jnp.log(AUTO_STEP_FRACTION * width)
    return jnp.where(jnp.isfinite(width), jnp.log(AUTO_STEP_FRACTION * width), unbounded)


def max_log_step_factor(
    config: MetropolisConfig, width: jax.Array | None, count: jax.Array, dtype: Any
) -> jax.Array | float:
    """The largest useful factor: the one that makes the step size the mean width of the box."""
    if width is None:
        return _adaptation.MAX_LOG_STEP_FACTOR
    base = 1 if is_auto(config.step_size) else _temperature.scalar(config.step_size, count, dtype)
    capped = jnp.log(width.astype(dtype) / base)
    if config.bounds_finite:
        return capped
    return jnp.where(jnp.isfinite(capped), capped, _adaptation.MAX_LOG_STEP_FACTOR)


def is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"
