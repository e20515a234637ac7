"""The rescaled temperature of an optimizer: the mean squared displacement of the parameters."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class TrackTemperatureState(NamedTuple):
    """State of `track_temperature`.

    Attributes:
        temperature: The mean over every scalar parameter of the squared update of the last step
            (0 before the first update).
    """

    temperature: jax.Array


def track_temperature() -> optax.GradientTransformation:
    r"""Record the rescaled temperature of the updates that pass through, unchanged.

    In the Langevin picture of momentum SGD (mass 1, time step $dt$), the kinetic temperature
    times $dt^2$ is the mean squared displacement per step. Placed last in a chain, this records

    $$
    T_t \, dt^2 = \frac{1}{N} \sum_{i=1}^{N} \left(\theta_{t+1, i} - \theta_{t, i}\right)^2
    $$

    over all $N$ scalar parameters, in float32 (float64 for float64 updates). Read it with
    ``optax.tree.get(opt_state, "temperature")``. `annealax.coolmomentum` records the same
    quantity itself; add this to any other optimizer to compare. It reduces the updates in a
    pass of their own, which on a CPU costs about one extra read of them.

    Returns:
        An `optax.GradientTransformation` that returns its input updates unchanged.

    Examples:
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import annealax
        >>> tx = optax.chain(optax.sgd(0.1), annealax.track_temperature())
        >>> params = jnp.array([1.0, 2.0])
        >>> state = tx.init(params)
        >>> updates, state = tx.update(jnp.array([1.0, 3.0]), state, params)
        >>> round(float(optax.tree.get(state, "temperature")), 6)
        0.05
    """

    def init_fn(params: optax.Params) -> TrackTemperatureState:
        return TrackTemperatureState(temperature=jnp.zeros([], accumulation_dtype(params)))

    def update_fn(
        updates: optax.Updates, state: TrackTemperatureState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, TrackTemperatureState]:
        del params
        temperature = mean_square(updates, state.temperature.dtype)
        return updates, TrackTemperatureState(temperature=temperature)

    return optax.GradientTransformation(init_fn, update_fn)


_SMALL_LEAF = 1 << 16


def mean_square(tree: optax.Updates, dtype: jnp.dtype) -> jax.Array:
    """The mean over every scalar of a pytree of the squares, accumulated in ``dtype``.

    Small leaves are concatenated into one reduction: on a CPU each reduction has a fixed cost,
    which for a tree of many small leaves (biases, norms) exceeds that of the copy.
    """
    leaves = jax.tree.leaves(tree)
    small = [leaf.ravel().astype(dtype) for leaf in leaves if leaf.size <= _SMALL_LEAF]
    large = [leaf.astype(dtype) for leaf in leaves if leaf.size > _SMALL_LEAF]
    if len(small) > 1:
        small = [jnp.concatenate(small)]
    total = sum(jnp.sum(jnp.square(leaf)) for leaf in small + large)
    size = max(sum(leaf.size for leaf in leaves), 1)
    return jnp.asarray(total / size, dtype=dtype)


def accumulation_dtype(tree: optax.Params) -> jnp.dtype:
    """float32, or float64 if any leaf is float64."""
    if any(leaf.dtype == jnp.float64 for leaf in jax.tree.leaves(tree)):
        return jnp.dtype(jnp.float64)
    return jnp.dtype(jnp.float32)
