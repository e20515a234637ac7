"""Cooling laws of CoolMomentum: the momentum coefficient rho_t as an `optax.Schedule`.

Each law starts at ``rho_0 = momentum`` and lowers the momentum coefficient, which raises the
friction of the underlying Langevin dynamics and so cools the system. Every schedule is computed in
log space and clamped, so it stays finite and exactly 0 once cooled, for any step count up to the
int32 limit and in every dtype.

Hyperparameters are checked when they arrive, if they are concrete (Python or NumPy numbers, or
arrays that are not traced). A traced hyperparameter (under `jit`, for example one that
`optax.inject_hyperparams` holds in the state and that is changed inside a jitted step) cannot be
checked; if it is out of range, the schedule returns NaN, so that the parameters become NaN at the
next update rather than following a wrong cooling law.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import optax

from annealax import _checks

DEFAULT_COOLING_RATE = 0.99997
COOLING_LAWS = ("exponential", "linear", "friction")


def cooling_rate_for_steps(
    momentum: jax.typing.ArrayLike, total_steps: jax.typing.ArrayLike
) -> float | jax.Array:
    r"""Cooling rate alpha that brings rho from ``momentum`` to 0 at update ``total_steps``.

    $$
    \alpha = (1 - \rho_0)^{1 / S}
    $$

    Args:
        momentum: The initial momentum coefficient $\rho_0$, in [0, 1).
        total_steps: The planned number of updates $S$, at least 1.

    Returns:
        The cooling rate $\alpha$: a Python float for Python numbers, else an array.

    Examples:
        >>> import annealax
        >>> round(annealax.cooling_rate_for_steps(0.99, 153_500), 6)
        0.99997
    """
    _checks.check_momentum(momentum)
    _checks.check_total_steps(total_steps)
    if _checks.is_python_number(momentum) and _checks.is_python_number(total_steps):
        return (1.0 - momentum) ** (1.0 / total_steps)
    return jnp.power(1.0 - momentum, 1.0 / total_steps)


def exponential_cooling(
    momentum: jax.typing.ArrayLike = 0.99,
    cooling_rate: jax.typing.ArrayLike | None = None,
    *,
    total_steps: jax.typing.ArrayLike | None = None,
) -> optax.Schedule:
    r"""The paper's cooling law: the distance of rho from 1 grows geometrically.

    $$
    \rho_t = \max\left(0,\ 1 - \frac{1 - \rho_0}{\alpha^t}\right)
    $$

    computed in log space, as $1 - \exp(\min(0, \log(1 - \rho_0) - t \log \alpha))$, so that
    it never overflows. With ``total_steps`` $S$, $\alpha = (1 - \rho_0)^{1/S}$ and the exponent is
    $\log(1 - \rho_0)(1 - t / S)$, which makes $\rho_S$ exactly 0 in every precision. With
    ``cooling_rate = 1`` rho stays at ``momentum`` (heavy-ball momentum).

    Args:
        momentum: The initial momentum coefficient $\rho_0$, in [0, 1).
        cooling_rate: The cooling rate $\alpha$, in (0, 1].
        total_steps: The number of updates $S$ after which rho is 0, at least 1. Give at most one
            of ``cooling_rate`` and ``total_steps``; with neither, $\alpha = 0.99997$.

    Returns:
        A schedule mapping the update count ``t`` to $\rho_t$.

    Examples:
        >>> import annealax
        >>> schedule = annealax.exponential_cooling(momentum=0.9, cooling_rate=0.98)
        >>> [round(float(schedule(t)), 4) for t in (0, 1, 200)]
        [0.9, 0.898, 0.0]
    """
    _checks.check_momentum(momentum)
    if cooling_rate is not None and total_steps is not None:
        raise ValueError(
            "Give only one of `cooling_rate` and `total_steps`, got "
            f"cooling_rate={cooling_rate!r} and total_steps={total_steps!r}"
        )
    if total_steps is not None:
        _checks.check_total_steps(total_steps)

        def log_distance(t: jax.Array) -> jax.Array:
            return _log(t, 1.0 - momentum) * (1.0 - t / _like(t, total_steps))

    else:
        cooling_rate = DEFAULT_COOLING_RATE if cooling_rate is None else cooling_rate
        _checks.check_cooling_rate(cooling_rate)

        def log_distance(t: jax.Array) -> jax.Array:
            return _log(t, 1.0 - momentum) - t * _log(t, cooling_rate)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = _as_float(count)
        rho = 1.0 - jnp.exp(jnp.minimum(log_distance(t), 0.0))
        return _nan_if_out_of_range(rho, momentum, cooling_rate, total_steps)

    return schedule


def friction_cooling(
    momentum: jax.typing.ArrayLike, total_steps: jax.typing.ArrayLike
) -> optax.Schedule:
    r"""Exponential friction law: rho reaches 0 exactly at update ``total_steps``.

    With $c = (1 - \rho_0) / (1 + \rho_0)$ and $b = c^{1/S}$,

    $$
    \rho_t = \frac{1 - c / b^t}{1 + c / b^t} \quad (t < S), \qquad \rho_t = 0 \quad (t \ge S).
    $$

    The friction $(1 - \rho_t) / (1 + \rho_t) = c / b^t$ grows geometrically.

    Args:
        momentum: The initial momentum coefficient $\rho_0$, in [0, 1).
        total_steps: The number of updates $S$ after which rho is 0, at least 1.

    Returns:
        A schedule mapping the update count ``t`` to $\rho_t$.

    Examples:
        >>> import annealax
        >>> schedule = annealax.friction_cooling(momentum=0.9, total_steps=100)
        >>> [round(float(schedule(t)), 4) for t in (0, 50, 100)]
        [0.9, 0.6268, 0.0]
    """
    _checks.check_momentum(momentum)
    _checks.check_total_steps(total_steps)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = _as_float(count)
        progress = jnp.minimum(t / _like(t, total_steps), 1.0)
        friction = jnp.exp((1.0 - progress) * _log(t, (1.0 - momentum) / (1.0 + momentum)))
        rho = (1.0 - friction) / (1.0 + friction)
        return _nan_if_out_of_range(rho, momentum, None, total_steps)

    return schedule


def linear_cooling(
    momentum: jax.typing.ArrayLike, total_steps: jax.typing.ArrayLike
) -> optax.Schedule:
    r"""Linear law: the inverse friction $(1 + \rho_t) / (1 - \rho_t)$ falls linearly to 1.

    With $u = t / S$,

    $$
    \rho_t = \max\left(0,\ \frac{\rho_0 (1 - u)}{|1 - \rho_0 u|}\right),
    $$

    and $\rho_t = 0$ for $t \ge S$.

    Args:
        momentum: The initial momentum coefficient $\rho_0$, in [0, 1).
        total_steps: The number of updates $S$ after which rho is 0, at least 1.

    Returns:
        A schedule mapping the update count ``t`` to $\rho_t$.

    Examples:
        >>> import annealax
        >>> schedule = annealax.linear_cooling(momentum=0.9, total_steps=100)
        >>> [round(float(schedule(t)), 4) for t in (0, 50, 100)]
        [0.9, 0.8182, 0.0]
    """
    _checks.check_momentum(momentum)
    _checks.check_total_steps(total_steps)

    def schedule(count: jax.typing.ArrayLike) -> jax.Array:
        t = _as_float(count)
        rho_0 = _like(t, momentum)
        progress = jnp.minimum(t / _like(t, total_steps), 1.0)
        rho = rho_0 * (1.0 - progress) / jnp.abs(1.0 - rho_0 * progress)
        return _nan_if_out_of_range(jnp.maximum(rho, 0.0), momentum, None, total_steps)

    return schedule


def momentum_schedule(
    momentum: jax.typing.ArrayLike = 0.99,
    cooling_rate: jax.typing.ArrayLike | None = None,
    *,
    total_steps: jax.typing.ArrayLike | None = None,
    cooling: str = "exponential",
) -> optax.Schedule:
    r"""The rho_t schedule that `annealax.coolmomentum` uses for the same arguments.

    Args:
        momentum: The initial momentum coefficient $\rho_0$, in [0, 1).
        cooling_rate: The cooling rate $\alpha$ of the exponential law, in (0, 1].
        total_steps: The planned number of updates $S$; with the exponential law it sets
            $\alpha = (1 - \rho_0)^{1/S}$. Give at most one of ``cooling_rate`` and
            ``total_steps``; with neither, $\alpha = 0.99997$.
        cooling: The cooling law: ``"exponential"`` (the paper's), ``"linear"`` or
            ``"friction"`` (both need ``total_steps``).

    Returns:
        A schedule mapping the update count ``t`` to $\rho_t$.

    Examples:
        >>> import annealax
        >>> schedule = annealax.momentum_schedule(0.99, total_steps=1000)
        >>> round(float(schedule(1000)), 6)
        0.0
    """
    if cooling not in COOLING_LAWS:
        raise ValueError(f"`cooling` must be one of {COOLING_LAWS}, got {cooling!r}")
    if cooling == "exponential":
        return exponential_cooling(momentum, cooling_rate, total_steps=total_steps)
    if cooling_rate is not None:
        raise ValueError(
            f"`cooling_rate` applies to exponential cooling only; cooling={cooling!r} takes "
            f"`total_steps`, got cooling_rate={cooling_rate!r}"
        )
    if total_steps is None:
        raise ValueError(f"cooling={cooling!r} needs `total_steps`, got total_steps=None")
    law = linear_cooling if cooling == "linear" else friction_cooling
    return law(momentum, total_steps)


def _nan_if_out_of_range(
    rho: jax.Array,
    momentum: jax.typing.ArrayLike,
    cooling_rate: jax.typing.ArrayLike | None,
    total_steps: jax.typing.ArrayLike | None,
) -> jax.Array:
    """``rho``, or NaN where a traced hyperparameter, which could not be checked, is out of range.

    Hyperparameters that are not traced were checked when the schedule was made, and cost nothing
    here.
    """
    valid = []
    if _checks.is_traced(momentum):
        rho_0 = _like(rho, momentum)
        valid.append((rho_0 >= 0.0) & (rho_0 < 1.0))
    if _checks.is_traced(cooling_rate):
        alpha = _like(rho, cooling_rate)
        valid.append((alpha > 0.0) & (alpha <= 1.0))
    if _checks.is_traced(total_steps):
        steps = _like(rho, total_steps)
        valid.append((steps >= 1.0) & (steps == jnp.floor(steps)))
    if not valid:
        return rho
    return jnp.where(functools.reduce(jnp.logical_and, valid), rho, jnp.nan)


def _as_float(count: jax.typing.ArrayLike) -> jax.Array:
    """The update count as a float of JAX's default precision (float64 under x64)."""
    return jnp.asarray(count, dtype=jnp.result_type(float))


def _log(reference: jax.Array, value: jax.typing.ArrayLike) -> jax.Array:
    """log(value) in the dtype of the schedule's arithmetic.

    A Python number's logarithm is taken in float64 before rounding: rounding a cooling rate such
    as 0.99997 to float32 first would move log(alpha) by 4e-4 relative, and rho_t with it.
    """
    if _checks.is_python_number(value):
        return jnp.asarray(math.log(value), dtype=reference.dtype)
    return jnp.log(_like(reference, value))


def _like(reference: jax.Array, value: jax.typing.ArrayLike) -> jax.Array:
    """A hyperparameter in the dtype of the schedule's arithmetic.

    Of a complex value, as `optax.inject_hyperparams` makes them for complex parameters, the real
    part.
    """
    return jnp.asarray(jnp.real(value), dtype=reference.dtype)
