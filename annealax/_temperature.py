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

    over all $N$ scalar parameters, in float32 (float64 for float64 or complex128 updates). For
    complex parameters the square is $|\theta_{t+1, i} - \theta_{t, i}|^2$. Read it with
    ``optax.tree.get(opt_state, "temperature")``. `annealax.coolmomentum` records the same
    quantity itself; add this to any other optimizer to compare, or after transformations chained
    after CoolMomentum that rescale its updates. It reduces the updates in a pass of their own,
    which on a CPU costs about one extra read of them.

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
    r"""The mean over every scalar of a pytree of the squared moduli, accumulated in ``dtype``.

    A complex scalar counts once, with $|z|^2 = \mathrm{Re}(z)^2 + \mathrm{Im}(z)^2$. Small
    leaves are concatenated into one reduction: on a CPU each reduction has a fixed cost, which for
    a tree of many small leaves (biases, norms) exceeds that of the copy.
    """
    leaves = [jnp.asarray(leaf) for leaf in jax.tree.leaves(tree)]
    parts = [part for leaf in leaves for part in _real_parts(leaf)]
    small = [part.ravel().astype(dtype) for part in parts if part.size <= _SMALL_LEAF]
    large = [part.astype(dtype) for part in parts if part.size > _SMALL_LEAF]
    if len(small) > 1:
        small = [jnp.concatenate(small)]
    total = sum(jnp.sum(jnp.square(part)) for part in small + large)
    size = max(sum(leaf.size for leaf in leaves), 1)
    return jnp.asarray(total / size, dtype=dtype)


def accumulation_dtype(tree: optax.Params) -> jnp.dtype:
    """float32, or float64 if any leaf is float64 or complex128."""
    wide = (jnp.float64, jnp.complex128)
    if any(jnp.result_type(leaf) in wide for leaf in jax.tree.leaves(tree)):
        return jnp.dtype(jnp.float64)
    return jnp.dtype(jnp.float32)


def _real_parts(leaf: jax.Array) -> tuple[jax.Array, ...]:
    if jnp.iscomplexobj(leaf):
        return (jnp.real(leaf), jnp.imag(leaf))
    return (leaf,)
