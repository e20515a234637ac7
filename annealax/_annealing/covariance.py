r"""The covariance move: Gaussian steps shaped by the covariance of the other chains."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import optax

from annealax import _checks
from annealax._annealing.kernel import Context, Keys, Proposal, expand
from annealax._annealing.moves import check_floating, dimension, halves, scored

OPTIMAL_SCALE = 2.38
r"""$\gamma \sqrt{d}$ of the optimal Gaussian random walk on a Gaussian target (Gelman,
Roberts and Gilks 1996): proposals of covariance $(2.38^2 / d)\, \Sigma$."""

SPREAD_ULPS = 64
"""A spread below this many units in the last place of the chains' mean (in the coarsest
dtype of the leaves) is rounding: the chains coincide."""


@dataclasses.dataclass(frozen=True)
class CovarianceMove:
    """The covariance move; see `covariance_move`. Hashable."""

    noise: float
    min_chains = 4

    def propose(
        self, keys: Keys, chains: optax.Params, step_size: jax.Array, context: Context
    ) -> Proposal:
        """Move one random half of the chains by the covariance of the other half."""
        num_chains = step_size.shape[0]
        half_key, weight_key, noise_key = jax.random.split(keys.proposal[0], 3)
        moves, _, size = halves(half_key, num_chains)
        others = ~moves
        leaves, treedef = jax.tree.flatten(chains)
        num_coordinates = max(dimension(chains), 1)
        dtype = context.dtype
        factor = (step_size / context.initial_step_size).astype(dtype)
        weights = jax.random.normal(weight_key, (num_chains, num_chains), dtype)
        weights = jnp.where(others[None, :], weights, 0) / jnp.sqrt(size - 1).astype(dtype)
        centered, spread, coincide = _population(leaves, others, size, num_coordinates, dtype)
        gamma = OPTIMAL_SCALE / math.sqrt(num_coordinates)
        noise_keys = jax.random.split(noise_key, len(leaves))
        moved = []
        for leaf, offsets, leaf_key in zip(leaves, centered, noise_keys, strict=True):
            xi = jax.random.normal(leaf_key, leaf.shape, leaf.dtype)
            shaped = gamma * jnp.tensordot(weights.astype(leaf.dtype), offsets, axes=1)
            step = jnp.where(
                coincide,
                expand(step_size, leaf).astype(leaf.dtype) * xi,
                expand(factor, leaf).astype(leaf.dtype)
                * (shaped + (self.noise * spread).astype(leaf.dtype) * xi),
            )
            moved.append(jnp.where(expand(moves, leaf), leaf + step, leaf))
        return scored(treedef.unflatten(moved), step_size, context, held=~moves)

    def check_params(self, params: optax.Params) -> None:
        """Raise unless every leaf is floating."""
        check_floating("annealax.covariance_move()", params)


def _population(
    leaves: list, others: jax.Array, size: jax.Array, num_coordinates: int, dtype
) -> tuple:
    """The other half's statistics.

    Returns its leaves minus their means (0 for the moving half), its spread $s$, and whether
    its chains coincide up to rounding.
    """
    centered, mean_square = [], 0
    for leaf in leaves:
        mask = expand(others, leaf)
        mean = jnp.sum(jnp.where(mask, leaf, 0), axis=0, keepdims=True) / size.astype(leaf.dtype)
        centered.append(jnp.where(mask, leaf - mean, 0))
        mean_square = mean_square + jnp.sum(jnp.abs(mean.astype(dtype)) ** 2)
    variance = sum(jnp.sum(jnp.abs(c.astype(dtype)) ** 2) for c in centered)
    spread = jnp.sqrt(variance / ((size - 1) * num_coordinates)).astype(dtype)
    coarsest = max(float(jnp.finfo(leaf.dtype).eps) for leaf in leaves)
    rounding = SPREAD_ULPS * coarsest * jnp.sqrt(mean_square / num_coordinates)
    return centered, spread, spread <= rounding


def covariance_move(*, noise: float = 1e-4) -> CovarianceMove:
    r"""Gaussian steps shaped by the covariance of the chains: a rotation-invariant move.

    At each step one half of the chains, chosen at random, moves; the other half stays (as in
    `differential_evolution`). A moving chain $x_i$ proposes

    $$
    x_i' = x_i + f_i \left(\frac{2.38}{\sqrt{d}} \sum_{j} w_j \frac{x_j - \bar x}{\sqrt{m - 1}}
        + \epsilon\, s\, \xi \right),
    \qquad w_j, \xi \sim \mathcal N(0, 1),
    $$

    with the sum over the $m$ chains of the other half, $\bar x$ their mean, $s^2 =
    \operatorname{tr} C / d$ the mean variance of their sample covariance $C$, $d$ the number of
    coordinates, $\epsilon =$ ``noise`` and $f_i$ the chain's adapted step factor (its step
    size over the initial one; 1 without adaptation). The first term is a Gaussian of
    covariance $f_i^2 (2.38^2 / d)\, C$: the optimal random walk (Gelman, Roberts and Gilks
    1996) for a target shaped like the population, with the covariance taken from the other
    chains now instead of from one chain's history (adaptive Metropolis, Haario, Saksman and
    Tamminen 2001). As the population cools into a narrow, tilted valley, the steps narrow and
    turn with it: a rotation of the problem rotates the proposals with it (the isotropic
    terms below are rotation-invariant too, though not scale-invariant; bounds are
    axis-aligned). While the chains all coincide ($s =
    0$ up to rounding, as at the start of `anneal`), a moving chain takes an isotropic
    Gaussian step of its step size instead.

    Given the other half, the proposal is a Gaussian centred at $x_i$, hence symmetric, and
    with the other half fixed each chain keeps its Boltzmann distribution. The span of the
    other half has at most $m - 1$ dimensions; the isotropic term $\epsilon s \xi$ keeps the
    move irreducible when $d \ge m$: there ``noise`` must be > 0 (raise it, or use more
    chains), or the chains stay in the affine span of their first steps. It needs at
    least 4 chains and costs $O(n^2 d)$ per step for $n$ chains, besides the losses. Sharded
    over devices, it adds an all-gather of the chains (see `population_move`).

    Args:
        noise: $\epsilon \ge 0$, the isotropic share relative to the population's spread.

    Returns:
        A move for ``proposal=``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> tilted = jnp.array([[1.0, 0.999], [0.999, 1.0]])  # a narrow valley at 45 degrees
        >>> result = annealax.anneal(
        ...     lambda x: x @ tilted @ x, jnp.full(2, 3.0), key=0, num_steps=500,
        ...     num_chains=16, proposal=annealax.covariance_move(),
        ... )
        >>> bool(result.best_value < 1e-6)
        True

    References:
        H. Haario, E. Saksman and J. Tamminen, "An adaptive Metropolis algorithm",
        Bernoulli 7, 223 (2001).
    """
    _checks.check_range("noise", noise, "a float >= 0", lambda n: n >= 0)
    return CovarianceMove(float(noise))
