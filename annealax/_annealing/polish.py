"""Local polish: the best chains refined by a gradient method from optax, under the same `jit`."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from annealax import _checks
from annealax._annealing import bounds as _bounds

ValueFn = Any


@dataclasses.dataclass(frozen=True)
class Polish:
    """The settings of the local polish; see `polish`. Hashable."""

    steps: int
    num_chains: int
    every: int | None
    optimizer: optax.GradientTransformationExtraArgs | None


def polish(
    steps: int = 100,
    *,
    num_chains: int = 4,
    every: int | None = None,
    optimizer: optax.GradientTransformationExtraArgs | None = None,
) -> Polish:
    r"""Refine the best chains of `anneal` by a gradient method, such as L-BFGS, with the bounds.

    After the last step (and, with ``every``, also every ``every`` steps) the ``num_chains``
    lowest-loss chains each run ``steps`` iterations of ``optimizer``, by default
    `optax.lbfgs` with its zoom line search, from their current point:
    $x_{k+1} = \Pi(x_k + u_k)$ with $u_k$ the optimizer's update and $\Pi$ the projection onto
    the ``bounds`` of `anneal` (`optax.projections.projection_box`). The chains are polished in
    parallel through `jax.vmap`, inside the compiled run. A polished point replaces the best point
    when its loss is lower and finite; with ``every``, a polished chain also continues the
    annealing from its polished point (when that is lower), which makes the run a basin-hopping
    search. The loss must be differentiable (`jax.value_and_grad`); each iteration costs one
    evaluation of the loss and its gradient plus those of the line search, which
    ``AnnealResult.num_evaluations`` counts.

    Args:
        steps: The number of optimizer iterations per polish, >= 1.
        num_chains: How many of the lowest-loss chains to polish, >= 1 (at most the number of
            chains).
        every: Also polish every this many annealing steps, or None (at the end only).
        optimizer: An optax transformation that takes ``value``, ``grad`` and ``value_fn``
            extra arguments, such as `optax.lbfgs`; or None for `optax.lbfgs()`.

    Returns:
        A `Polish` for ``anneal(..., polish=...)``.

    Raises:
        ValueError: For a bad argument.

    Examples:
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> def rosenbrock(x):
        ...     return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
        >>> result = annealax.anneal(
        ...     rosenbrock, jnp.zeros(5), key=0, num_steps=200, bounds=(-5.0, 5.0),
        ...     polish=annealax.polish(200),
        ... )
        >>> bool(result.best_value < 1e-6)
        True
    """
    steps = _checks.check_positive_int("steps", steps)
    num_chains = _checks.check_positive_int("num_chains", num_chains)
    every = _checks.check_optional_positive_int("every", every)
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError(
            f"`optimizer` must be an optax.GradientTransformation or None, got {optimizer!r}"
        )
    return Polish(steps=steps, num_chains=num_chains, every=every, optimizer=optimizer)


def polish_points(
    settings: Polish, value_fn: ValueFn, points: Any, bounds: Any, dtype: jnp.dtype
) -> tuple[Any, jax.Array, jax.Array]:
    """Polish a batch of points (leading axis); return them, their losses and the evaluations."""
    optimizer = settings.optimizer if settings.optimizer is not None else optax.lbfgs()
    from_state = optax.value_and_grad_from_state(value_fn)

    def value_and_grad(params, state):
        # Line searches keep the value and gradient of the accepted point in their state.
        if optax.tree.get(state, "value", default=None) is None:
            return jax.value_and_grad(value_fn)(params)
        return from_state(params, state=state)

    def project(params):
        if bounds is None:
            return params
        lower, upper = _bounds.bounds_like(params, bounds)
        return optax.projections.projection_box(params, lower, upper)

    def one(params):
        def iteration(carry, _):
            params, state, evaluations = carry
            value, grad = value_and_grad(params, state)
            updates, state = optimizer.update(
                grad, state, params, value=value, grad=grad, value_fn=value_fn
            )
            params = project(optax.apply_updates(params, updates))
            line_search = optax.tree.get(state, "num_linesearch_steps", default=0)
            return (params, state, evaluations + 1 + jnp.asarray(line_search, jnp.int32)), None

        start = (params, optimizer.init(params), jnp.zeros([], jnp.int32))
        (params, _, evaluations), _ = jax.lax.scan(iteration, start, length=settings.steps)
        value = jnp.asarray(value_fn(params)).astype(dtype)
        return params, jnp.where(jnp.isfinite(value), value, jnp.inf), evaluations + 1

    polished, values, evaluations = jax.vmap(one)(points)
    return polished, values, jnp.sum(evaluations)
