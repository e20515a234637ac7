r"""Proposal moves of the Metropolis annealer: ``(key, params, step_size) -> params``, one chain.

Every built-in move is a symmetric random walk, $q(x \to x') = q(x' \to x)$, so the Metropolis
rule samples the Boltzmann distribution; reflection at the walls of a box keeps it symmetric.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from annealax import _checks

Proposal = Callable[[jax.Array, optax.Params, jax.Array], optax.Params]

NOISES = {"gaussian": jax.random.normal, "cauchy": jax.random.cauchy}


@dataclasses.dataclass(frozen=True)
class RandomWalk:
    """A symmetric random-walk move; see `random_walk`. Hashable, so it can key a compilation."""

    noise: str = "gaussian"
    count: int | None = None
    fraction: float | None = None
    per_leaf: bool = False

    def __call__(self, key: jax.Array, params: optax.Params, step_size: jax.Array) -> Any:
        leaves, treedef = jax.tree.flatten(params)
        if not leaves:
            return params
        dtype = max((leaf.dtype for leaf in leaves), key=lambda dtype: dtype.itemsize)
        size = sum(leaf.size for leaf in leaves)
        scale = _per_leaf_scale(params, dtype) if self.per_leaf else None
        sample = NOISES[self.noise]
        step_size = jnp.asarray(step_size).astype(dtype)
        if self.count is not None and self.count < size:
            # A few coordinates: a scatter into the concatenated leaves.
            flat, unravel = _concatenate(leaves, dtype)
            noise_key, subset_key = jax.random.split(key)
            index = _random_subset(subset_key, size, self.count)
            steps = sample(noise_key, (self.count,), dtype)
            if scale is not None:
                steps = steps * scale[index]
            return treedef.unflatten(unravel(flat.at[index].add(step_size * steps)))
        # Every coordinate may move: one draw for all leaves, added leaf by leaf, which spares
        # a copy of the params into one vector and back.
        if self.fraction is None:
            steps = sample(key, (size,), dtype)
        else:
            noise_key, subset_key = jax.random.split(key)
            steps = sample(noise_key, (size,), dtype)
            moves = jax.random.uniform(subset_key, (size,)) < self.fraction
            steps = jnp.where(moves, steps, jnp.zeros((), dtype))
        steps = step_size * (steps if scale is None else steps * scale)
        offsets = np.cumsum([leaf.size for leaf in leaves])[:-1]
        moved = [
            leaf + piece.reshape(leaf.shape).astype(leaf.dtype)
            for leaf, piece in zip(leaves, jnp.split(steps, offsets), strict=True)
        ]
        return treedef.unflatten(moved)


def random_walk(
    noise: str = "gaussian",
    *,
    count: int | None = None,
    fraction: float | None = None,
    per_leaf: bool = False,
) -> RandomWalk:
    r"""A symmetric random-walk proposal $x' = x + \sigma\, s \odot m \odot \xi$.

    $\xi$ is standard ``noise`` on every coordinate, $\sigma$ the chain's step size, $m$ a
    random 0/1 mask of the coordinates that move and $s$ a fixed per-coordinate scale. Every
    part is drawn independently of $x$ and $\xi$ is symmetric, so $q(x \to x') = q(x' \to x)$ and
    the Metropolis rule keeps the Boltzmann distribution.

    * Dense moves (the default) perturb every coordinate.
    * ``count=k`` perturbs exactly $k$ coordinates chosen uniformly at random without
      replacement, over all leaves together (``count=1``: one coordinate at a time). A
      $k$-coordinate move changes the loss by about $\sqrt{k}$ one-coordinate changes instead of
      $\sqrt{d}$, so the step size that the adaptation settles on stays large in high dimension.
    * ``fraction=f`` perturbs each coordinate independently with probability $f$ (so $f d$
      coordinates on average).
    * ``per_leaf=True`` scales each leaf's noise by $s = 1 / \sqrt{\text{fan-in}}$ with
      fan-in the product of all but the last dimension of a leaf with two or more dimensions.
      A bias, a vector beside such a kernel in the same layer (its path differs in one key)
      whose length is the kernel's last dimension, takes the kernel's fan-in; other vectors
      and scalars have fan-in 1. A step size of 1 then moves each layer's weights and biases
      by the spread of its LeCun initialisation. It is meant for neural networks, whose
      leaves differ in scale and size by orders of magnitude, together with a ``fraction``:
      on the digits MLP of the examples, moves of a tenth of the weights trained further
      than dense ones at the same number of evaluations (see `anneal`).

    Args:
        noise: ``"gaussian"`` or ``"cauchy"`` (heavy-tailed: mostly small steps, now and then a
            long jump; the "fast annealing" of Szu and Hartley).
        count: The number of coordinates moved at each step, >= 1; or None.
        fraction: The probability that a coordinate moves, in (0, 1]; or None. At most one of
            ``count`` and ``fraction``.
        per_leaf: Scale each leaf's noise by $1 / \sqrt{\text{fan-in}}$.

    Returns:
        A proposal ``(key, params, step_size) -> params`` for ``proposal=``.

    Raises:
        ValueError: For an unknown ``noise``, a bad ``count`` or ``fraction``, or both given.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> move = annealax.random_walk("cauchy", count=1)
        >>> x = jnp.zeros(5)
        >>> x_new = move(jax.random.key(0), x, jnp.asarray(0.5))
        >>> int(jnp.sum(x_new != x))
        1
    """
    if noise not in NOISES:
        raise ValueError(f"`noise` must be one of {tuple(NOISES)}, got {noise!r}")
    if count is not None and fraction is not None:
        raise ValueError(
            f"give at most one of `count` and `fraction`, got count={count!r} and "
            f"fraction={fraction!r}"
        )
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"`count` must be a positive int or None, got {count!r}")
    if fraction is not None and not (
        _checks.is_python_number(fraction) and not isinstance(fraction, bool) and 0 < fraction <= 1
    ):
        raise ValueError(f"`fraction` must be a float in (0, 1] or None, got {fraction!r}")
    return RandomWalk(noise=noise, count=count, fraction=fraction, per_leaf=bool(per_leaf))


def resolve(proposal: str | Proposal) -> Proposal:
    """The proposal function for a name or a user-supplied callable."""
    if callable(proposal):
        return proposal
    if isinstance(proposal, str) and proposal == "auto":
        raise ValueError(
            '`proposal="auto"` is annealax.anneal\'s, which picks a move from the params; pass '
            "metropolis an annealax.random_walk(...), a name in "
            f"{tuple(NOISES)} or a callable"
        )
    if proposal not in NOISES:
        raise ValueError(
            f"`proposal` must be one of {tuple(NOISES)}, an annealax.random_walk(...) or a "
            f"callable (key, params, step_size) -> params, got {proposal!r}"
        )
    return random_walk(proposal)


def check_params(proposal: Proposal, params: optax.Params) -> None:
    """Raise if ``proposal`` is a built-in random walk and a leaf of ``params`` is not floating."""
    if not isinstance(proposal, RandomWalk):
        return
    for leaf in jax.tree.leaves(params):
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            raise ValueError(
                f"`proposal` {proposal!r} moves floating-point params only, got a leaf of dtype "
                f"{jnp.result_type(leaf)}; pass a proposal of your own, (key, params, step_size) "
                "-> params, for integer or boolean params"
            )


def _concatenate(leaves: list[jax.Array], dtype: jnp.dtype) -> tuple[jax.Array, Callable]:
    """All leaves as one flat vector of ``dtype``, and the inverse."""
    flat = jnp.concatenate([jnp.ravel(leaf).astype(dtype) for leaf in leaves])
    offsets = np.cumsum([leaf.size for leaf in leaves])[:-1]

    def unravel(vector: jax.Array) -> list[jax.Array]:
        pieces = jnp.split(vector, offsets)
        return [
            piece.reshape(leaf.shape).astype(leaf.dtype)
            for piece, leaf in zip(pieces, leaves, strict=True)
        ]

    return flat, unravel


def _per_leaf_scale(params: optax.Params, dtype: jnp.dtype) -> jax.Array:
    scales = [np.full(math.prod(shape), 1 / math.sqrt(n)) for shape, n in fan_ins(params)]
    return jnp.asarray(np.concatenate(scales), dtype)


def fan_ins(params: optax.Params) -> list[tuple[tuple[int, ...], int]]:
    """Each leaf's shape and fan-in, in the order of `jax.tree.leaves`.

    A leaf with two or more dimensions has the fan-in of a kernel: the product of all its
    dimensions but the last. A vector takes the fan-in of its layer's kernel: a sibling leaf
    (whose path differs from its own in one key, such as ``bias`` and ``kernel`` of one layer)
    with two or more dimensions whose last dimension is the vector's length. Any other leaf
    has fan-in 1.
    """
    entries = jax.tree_util.tree_flatten_with_path(params)[0]
    shapes = [tuple(jnp.shape(leaf)) for _, leaf in entries]
    result = []
    for (path, _), shape in zip(entries, shapes, strict=True):
        fan_in = _fan_in(shape)
        if len(shape) == 1:
            for (other, _), other_shape in zip(entries, shapes, strict=True):
                if (
                    len(other_shape) >= 2
                    and other_shape[-1] == shape[0]
                    and len(other) == len(path)
                    and sum(a != b for a, b in zip(other, path, strict=True)) == 1
                ):
                    fan_in = _fan_in(other_shape)
                    break
        result.append((shape, fan_in))
    return result


def _fan_in(shape: tuple[int, ...]) -> int:
    return max(1, math.prod(shape[:-1])) if len(shape) >= 2 else 1


def _random_subset(key: jax.Array, size: int, count: int) -> jax.Array:
    """``count`` distinct indices in ``range(size)``, uniformly at random."""
    if count == 1:
        return jax.random.randint(key, (1,), 0, size)
    return jax.lax.top_k(jax.random.uniform(key, (size,)), count)[1]
