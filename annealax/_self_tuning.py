"""Self-tuning of the Metropolis annealer: the initial temperature and the step sizes."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

INITIAL_UPHILL_ACCEPTANCE = 0.8
"""With ``temperature="auto"``, the typical uphill move of the first step is accepted this often."""

MAX_LOG_STEP_FACTOR = 60.0


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


def adapt_log_step_factor(
    log_factor: jax.Array,
    accepted: jax.Array,
    target: float,
    rate: float,
    active: jax.Array,
    upper: jax.Array | float = MAX_LOG_STEP_FACTOR,
) -> jax.Array:
    r"""One stochastic-approximation step $\log s \mathrel{+}= \gamma (a_t - a^*)$ per chain.

    $a_t \in \{0, 1\}$ is whether the chain's proposal was accepted, $a^*$ the target rate and
    $\gamma$ the rate: the step size grows while the chain accepts more often than $a^*$ and
    shrinks otherwise, so that its acceptance rate settles at $a^*$. ``upper`` caps $\log s$:
    in a box, a step longer than the box only reflects back and is accepted as often as one as
    long as the box, so without a cap a hot chain's step would grow for nothing and take
    many steps to shrink back once the temperature falls.
    """
    step = rate * (accepted.astype(log_factor.dtype) - target)
    upper = jnp.minimum(jnp.asarray(upper, log_factor.dtype), MAX_LOG_STEP_FACTOR)
    new = jnp.clip(log_factor + step, -MAX_LOG_STEP_FACTOR, upper)
    return jnp.where(active, new, log_factor)
