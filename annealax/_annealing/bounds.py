r"""Bounds of the Metropolis annealer: checks, reflection into the box, and the box's mean width.

``bounds=(lower, upper)``: each side a scalar, an array that broadcasts to every params leaf, or
a pytree with the structure of the params whose leaves broadcast to the params' leaves. A side
may be infinite on some coordinates: ``-inf`` below, ``+inf`` above, or both for a coordinate
without bounds. Proposals are folded back by reflection at the finite walls only,

$$
x \mapsto \begin{cases}
l + w - \left| \left((x - l) \bmod 2w\right) - w \right| & l, u \text{ finite},\ w = u - l \\
l + |x - l| & \text{only } l \text{ finite} \\
u - |u - x| & \text{only } u \text{ finite} \\
x & \text{neither,}
\end{cases}
$$

a fold that is its own mirror image, so that a symmetric proposal stays symmetric. The mean
width of the box, which sets ``step_size="auto"``, caps the adapted step sizes and sizes the
box-wide jumps, is taken over the coordinates with two finite walls only; without any such
coordinate it is NaN and those uses fall back to their unbounded behaviour.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax


def check_bounds(bounds: Any) -> tuple[Any, Any] | None:
    """Raise for bounds that are not a pair, are NaN or have lower > upper (concrete values only).

    Returns:
        The pair as a tuple, or None.
    """
    if bounds is None:
        return None
    if not isinstance(bounds, tuple | list) or len(bounds) != 2:
        raise ValueError(f"`bounds` must be a pair (lower, upper), got {bounds!r}")
    lower, upper = bounds
    for side, bound in (("lower", lower), ("upper", upper)):
        for leaf in jax.tree.leaves(bound):
            values = _concrete(leaf)
            if values is not None and np.isnan(values).any():
                raise ValueError(f"`bounds` must not be NaN, got {side} bound {leaf!r}")
    if jax.tree.structure(lower) == jax.tree.structure(upper):
        pairs = zip(jax.tree.leaves(lower), jax.tree.leaves(upper), strict=True)
    else:
        pairs = [(low, high) for low in jax.tree.leaves(lower) for high in jax.tree.leaves(upper)]
    for low, high in pairs:
        low_values, high_values = _concrete(low), _concrete(high)
        if low_values is None or high_values is None:
            continue
        try:
            bad = np.any(low_values >= high_values)
        except ValueError:
            continue  # shapes that do not broadcast: reported against the params
        if bad:
            raise ValueError(f"`bounds` must have lower < upper everywhere, got {bounds!r}")
    return tuple(bounds)


def check_bounds_match(params: optax.Params, bounds: tuple[Any, Any] | None) -> None:
    """Raise unless each side of ``bounds`` broadcasts to ``params`` (one chain's point)."""
    if bounds is None:
        return
    for side, bound in zip(("lower", "upper"), bounds, strict=True):
        _tree_like(params, bound, side)


def bounds_like(params: optax.Params, bounds: tuple[Any, Any]) -> tuple[Any, Any]:
    """``(lower, upper)`` as pytrees of arrays with the structure of ``params``."""
    lower, upper = bounds
    return _tree_like(params, lower, "lower"), _tree_like(params, upper, "upper")


def all_finite(bounds: tuple[Any, Any] | None) -> bool:
    """Whether every bound is known now and finite (False for traced bounds)."""
    if bounds is None:
        return False
    values = [_concrete(leaf) for leaf in jax.tree.leaves(bounds)]
    return all(v is not None and np.isfinite(v).all() for v in values)


def reflect(params: optax.Params, bounds: tuple[Any, Any], *, finite: bool = False) -> optax.Params:
    """Fold every coordinate back into ``[lower, upper]`` by reflection at its finite walls.

    ``finite=True`` promises that every bound is finite, which spares the tests of each wall.
    """
    lower, upper = bounds_like(params, bounds)

    def fold_in_box(x, low, high):
        width = (high - low).astype(x.dtype)
        distance = jnp.mod(x - low.astype(x.dtype), 2 * width)
        return low.astype(x.dtype) + (width - jnp.abs(distance - width))

    def fold(x, low, high):
        low, high = low.astype(x.dtype), high.astype(x.dtype)
        has_low, has_high = jnp.isfinite(low), jnp.isfinite(high)
        boxed = has_low & has_high
        width = jnp.where(boxed, high - low, jnp.ones((), x.dtype))
        origin = jnp.where(has_low, low, jnp.zeros((), x.dtype))
        distance = jnp.mod(x - origin, 2 * width)
        in_box = origin + (width - jnp.abs(distance - width))
        above = origin + jnp.abs(x - origin)
        below = jnp.where(has_high, high, jnp.zeros((), x.dtype))
        below = below - jnp.abs(below - x)
        return jnp.where(boxed, in_box, jnp.where(has_low, above, jnp.where(has_high, below, x)))

    return jax.tree.map(fold_in_box if finite else fold, params, lower, upper)


def inside(params: optax.Params, bounds: tuple[Any, Any]) -> jax.Array:
    """Whether every coordinate of ``params`` (one chain's point) lies in ``[lower, upper]``."""
    lower, upper = bounds_like(params, bounds)
    tests = jax.tree.map(
        lambda x, low, high: jnp.all((x >= low.astype(x.dtype)) & (x <= high.astype(x.dtype))),
        params,
        lower,
        upper,
    )
    return jnp.all(jnp.stack(jax.tree.leaves(tests)))


def mean_width(params: optax.Params, bounds: tuple[Any, Any], *, finite: bool = False) -> jax.Array:
    """The mean of ``upper - lower`` over the coordinates with two finite walls (NaN if none).

    ``finite=True`` promises that every bound is finite.
    """
    lower, upper = bounds_like(params, bounds)
    widths = jax.tree.map(
        lambda x, low, high: jnp.broadcast_to(high - low, jnp.shape(x)).astype(jnp.float32),
        params,
        lower,
        upper,
    )
    leaves = jax.tree.leaves(widths)
    if finite:
        return sum(jnp.sum(leaf) for leaf in leaves) / sum(leaf.size for leaf in leaves)
    finite = [jnp.isfinite(leaf) for leaf in leaves]
    total = sum(
        jnp.sum(jnp.where(ok, leaf, jnp.zeros((), leaf.dtype)))
        for leaf, ok in zip(leaves, finite, strict=True)
    )
    count = sum(jnp.sum(ok, dtype=jnp.int32) for ok in finite).astype(jnp.float32)
    return jnp.where(count > 0, total / count, jnp.nan)


def _tree_like(params: optax.Params, bound: Any, side: str) -> Any:
    """``bound`` as a pytree like ``params``: one array for every leaf, or a matching pytree."""
    params_structure = jax.tree.structure(params)
    if jax.tree.structure(bound) == params_structure:
        pairs = zip(jax.tree.leaves(params), jax.tree.leaves(bound), strict=True)
        leaves = [_leaf_like(leaf, value, side) for leaf, value in pairs]
        return params_structure.unflatten(leaves)
    if not _is_array_like(bound):
        raise ValueError(
            f"`bounds` ({side}) must be a scalar, an array or a pytree with the structure of the "
            f"params, {params_structure}, got {jax.tree.structure(bound)}"
        )
    return jax.tree.map(lambda leaf: _leaf_like(leaf, bound, side), params)


def _leaf_like(leaf: Any, bound: Any, side: str) -> jax.Array:
    bound = jnp.asarray(bound)
    shape = jnp.shape(leaf)
    try:
        broadcast = np.broadcast_shapes(bound.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(shape):
        raise ValueError(
            f"`bounds` ({side}) must broadcast to each params leaf, got shape {bound.shape} for a "
            f"leaf of shape {tuple(shape)}"
        )
    return bound


def _is_array_like(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(_is_array_like(item) for item in value)
    return isinstance(value, int | float | np.ndarray | np.generic | jax.Array) and not isinstance(
        value, bool
    )


def _concrete(value: Any) -> np.ndarray | None:
    """``value`` as a NumPy array when it is known now (not traced); else None."""
    if isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
