"""Proposal moves of the Metropolis annealer, for one chain: ``(key, params, step_size) -> params``.

Every built-in move is symmetric, so the Metropolis rule samples the Boltzmann distribution;
reflection at the walls of a box keeps it symmetric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

Proposal = Callable[[jax.Array, optax.Params, jax.Array], optax.Params]


def gaussian(key: jax.Array, params: optax.Params, step_size: jax.Array) -> optax.Params:
    """Add ``step_size`` times standard normal noise to every coordinate."""
    return _add_noise(jax.random.normal, key, params, step_size)


def cauchy(key: jax.Array, params: optax.Params, step_size: jax.Array) -> optax.Params:
    """Add ``step_size`` times standard Cauchy noise to every coordinate (heavy-tailed jumps)."""
    return _add_noise(jax.random.cauchy, key, params, step_size)


PROPOSALS: dict[str, Proposal] = {"gaussian": gaussian, "cauchy": cauchy}


def resolve(proposal: str | Proposal) -> Proposal:
    """The proposal function for a name or a user-supplied callable."""
    if callable(proposal):
        return proposal
    if proposal not in PROPOSALS:
        raise ValueError(
            f"`proposal` must be one of {tuple(PROPOSALS)} or a callable "
            f"(key, params, step_size) -> params, got {proposal!r}"
        )
    return PROPOSALS[proposal]


def reflect(params: optax.Params, bounds: tuple[Any, Any]) -> optax.Params:
    """Fold every coordinate into ``[lower, upper]`` by reflection at the walls."""
    lower, upper = bounds_like(params, bounds)

    def fold(x, low, high):
        width = (high - low).astype(x.dtype)
        distance = jnp.mod(x - low.astype(x.dtype), 2 * width)
        return low.astype(x.dtype) + (width - jnp.abs(distance - width))

    return jax.tree.map(fold, params, lower, upper)


def bounds_like(params: optax.Params, bounds: tuple[Any, Any]) -> tuple[Any, Any]:
    """``(lower, upper)`` as pytrees of arrays with the structure of ``params``."""
    lower, upper = bounds
    return _tree_like(params, lower), _tree_like(params, upper)


def check_bounds(bounds: Any) -> None:
    """Raise for bounds that are not a pair, or where lower >= upper (concrete values only)."""
    if bounds is None:
        return
    if not isinstance(bounds, tuple | list) or len(bounds) != 2:
        raise ValueError(f"`bounds` must be a pair (lower, upper), got {bounds!r}")
    lower, upper = bounds
    try:
        lower_leaves = [jnp.asarray(x) for x in jax.tree.leaves(lower)]
        upper_leaves = [jnp.asarray(x) for x in jax.tree.leaves(upper)]
        if len(lower_leaves) == len(upper_leaves):
            pairs = zip(lower_leaves, upper_leaves, strict=True)
        else:
            pairs = [(low, high) for low in lower_leaves for high in upper_leaves]
        bad = any(bool(jnp.any(low >= high)) for low, high in pairs)
    except jax.errors.ConcretizationTypeError:
        return
    if bad:
        raise ValueError(f"`bounds` must have lower < upper everywhere, got {bounds!r}")


def _tree_like(params: optax.Params, bound: Any) -> Any:
    if jax.tree.structure(bound) == jax.tree.structure(params):
        return jax.tree.map(jnp.asarray, bound)
    return jax.tree.map(lambda _: jnp.asarray(bound), params)


def _add_noise(sample, key, params, step_size):
    """``params + step_size * noise``, with the noise of all leaves drawn in one call.

    One draw over the concatenated leaves is faster than one draw per leaf: on a CPU the
    random-number generator is a large share of a Metropolis step.
    """
    leaves, treedef = jax.tree.flatten(params)
    dtypes = {leaf.dtype for leaf in leaves}
    if len(dtypes) == 1:
        (dtype,) = dtypes
        noise = sample(key, (sum(leaf.size for leaf in leaves),), dtype)
        offsets = np.cumsum([leaf.size for leaf in leaves])[:-1]
        pieces = [
            piece.reshape(leaf.shape)
            for piece, leaf in zip(jnp.split(noise, offsets), leaves, strict=True)
        ]
    else:
        keys = jax.random.split(key, len(leaves))
        pieces = [sample(k, leaf.shape, leaf.dtype) for k, leaf in zip(keys, leaves, strict=True)]
    moved = [
        leaf + step_size.astype(leaf.dtype) * piece
        for leaf, piece in zip(leaves, pieces, strict=True)
    ]
    return treedef.unflatten(moved)
