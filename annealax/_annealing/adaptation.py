r"""Step-size adaptation: each chain's step size tuned towards a target acceptance rate."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from annealax import _checks

MAX_LOG_STEP_FACTOR = 60.0
"""The largest adapted $|\\log s|$."""


@dataclasses.dataclass(frozen=True)
class AdaptStepSize:
    """The settings of the step-size adaptation; see `adapt_step_size`. Hashable."""

    target: float
    rate: float
    steps: int | None

    def update(
        self,
        log_factor: jax.Array,
        accepted: jax.Array,
        counted: jax.Array,
        count: jax.Array,
        upper: jax.Array | float,
    ) -> jax.Array:
        r"""The new $\log s$ of every chain after a step; ``counted``: the chains that adapt."""
        adapting = jnp.asarray(True) if self.steps is None else count < self.steps
        return adapt_log_step_factor(
            log_factor, accepted, self.target, self.rate, adapting & counted, upper
        )


def adapt_step_size(
    target: float = 0.234, *, rate: float = 0.05, steps: int | None = None
) -> AdaptStepSize:
    r"""Adapt each chain's step size towards an acceptance rate ``target``, inside the step.

    Each chain's $\sigma$ is the ``step_size`` times a factor $s$ adapted at every step,
    $\log s \mathrel{+}= \gamma (a_t - a^*)$, with $a_t$ whether the chain's move was accepted,
    $a^* =$ ``target`` and $\gamma =$ ``rate``. The acceptance rate of each chain settles at
    $a^*$ (0.234, the optimum of Roberts, Gelman and Gilks for random walks in many
    dimensions) as the temperature falls. Adaptation makes the chain inexact while it runs:
    ``steps`` stops it after that many steps, after which the chains are exact Metropolis
    samplers with the step sizes reached. Jumps and chains a population move leaves in place
    are not counted. With bounds, $\sigma$ never exceeds the mean width of the box.

    Args:
        target: $a^*$ in (0, 1).
        rate: $\gamma > 0$.
        steps: Stop adapting after this many steps (None: never).

    Returns:
        The settings for ``adaptation=`` (``adaptation=None``: fixed step sizes).

    Examples:
        >>> import annealax
        >>> tx = annealax.metropolis(
        ...     16, key=0, adaptation=annealax.adapt_step_size(0.3, rate=0.1, steps=500)
        ... )
    """
    _checks.check_range("target", target, "a float in (0, 1)", lambda a: (a > 0) & (a < 1))
    _checks.check_range("rate", rate, "a float > 0", lambda r: r > 0)
    steps = _checks.check_optional_positive_int("steps", steps)
    return AdaptStepSize(target, rate, steps)


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
