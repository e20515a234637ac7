r"""The covariance move: Gaussian steps shaped by the covariance of the other chains."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from annealax import _checks
from annealax._annealing import bounds as _bounds
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
    independent: float = 0.0
    min_chains = 4

    def propose(
        self, keys: Keys, chains: optax.Params, step_size: jax.Array, context: Context
    ) -> Proposal:
        """Move one random half of the chains by the covariance of the other half."""
        num_chains = step_size.shape[0]
        if self.independent:
            half_key, weight_key, noise_key, mix_key = jax.random.split(keys.proposal[0], 4)
        else:
            half_key, weight_key, noise_key = jax.random.split(keys.proposal[0], 3)
        moves, _, size = halves(half_key, num_chains)
        others = ~moves
        leaves, treedef = jax.tree.flatten(chains)
        num_coordinates = max(dimension(chains), 1)
        dtype = context.dtype
        factor = (step_size / context.initial_step_size).astype(dtype)
        weights = jax.random.normal(weight_key, (num_chains, num_chains), dtype)
        weights = jnp.where(others[None, :], weights, 0) / jnp.sqrt(size - 1).astype(dtype)
        means, centered, spread, coincide = _population(
            leaves, others, size, num_coordinates, dtype
        )
        gamma = OPTIMAL_SCALE / math.sqrt(num_coordinates)
        if self.independent:
            _check_held_chains(num_chains, num_coordinates, self.independent)
            chosen = jax.random.bernoulli(mix_key, self.independent, (num_chains,))
            draws = moves & ~coincide & chosen
        noise_keys = jax.random.split(noise_key, len(leaves))
        moved, drawn_offsets = [], []
        for leaf, mean, offsets, leaf_key in zip(leaves, means, centered, noise_keys, strict=True):
            xi = jax.random.normal(leaf_key, leaf.shape, leaf.dtype)
            shaped = jnp.tensordot(weights.astype(leaf.dtype), offsets, axes=1)
            noise = (self.noise * spread).astype(leaf.dtype) * xi
            isotropic = expand(step_size, leaf).astype(leaf.dtype) * xi
            scale = expand(factor, leaf).astype(leaf.dtype)
            proposed = leaf + jnp.where(coincide, isotropic, scale * (gamma * shaped + noise))
            if self.independent:
                drawn_offsets.append(shaped + noise)
                drawn = mean + scale * (shaped + noise)
                proposed = jnp.where(expand(draws, leaf), drawn, proposed)
            moved.append(jnp.where(expand(moves, leaf), proposed, leaf))
        moved = treedef.unflatten(moved)
        if not self.independent:
            return scored(moved, step_size, context, held=~moves)
        offsets = [
            (leaf - mean) / expand(factor, leaf).astype(leaf.dtype)
            for leaf, mean in zip(leaves, means, strict=True)
        ]
        distance = _mahalanobis(centered, size, (self.noise * spread) ** 2, coincide, dtype)
        log_ratio = 0.5 * (distance(drawn_offsets) - distance(offsets))
        log_ratio = jnp.where(draws, log_ratio, 0)
        proposal = scored(moved, step_size, context, held=~moves, log_ratio=log_ratio)
        if context.bounds is None:
            return proposal
        # Drawn points outside the box are rejected, not reflected: the draw's density is known
        # in the box only.
        inside = jax.vmap(lambda p: _bounds.inside(p, context.bounds))(moved)
        return proposal._replace(values=jnp.where(draws & ~inside, jnp.inf, proposal.values))

    def check_params(self, params: optax.Params) -> None:
        """Raise unless every leaf is floating."""
        check_floating("annealax.covariance_move()", params)


def _population(
    leaves: list, others: jax.Array, size: jax.Array, num_coordinates: int, dtype
) -> tuple:
    """The other half's statistics.

    Returns its means, its leaves minus their means (0 for the moving half), its spread $s$, and
    whether its chains coincide up to rounding.
    """
    means, centered, mean_square = [], [], 0
    for leaf in leaves:
        mask = expand(others, leaf)
        mean = jnp.sum(jnp.where(mask, leaf, 0), axis=0, keepdims=True) / size.astype(leaf.dtype)
        means.append(mean)
        centered.append(jnp.where(mask, leaf - mean, 0))
        mean_square = mean_square + jnp.sum(jnp.abs(mean.astype(dtype)) ** 2)
    variance = sum(jnp.sum(jnp.abs(c.astype(dtype)) ** 2) for c in centered)
    spread = jnp.sqrt(variance / ((size - 1) * num_coordinates)).astype(dtype)
    coarsest = max(float(jnp.finfo(leaf.dtype).eps) for leaf in leaves)
    rounding = SPREAD_ULPS * coarsest * jnp.sqrt(mean_square / num_coordinates)
    return means, centered, spread, spread <= rounding


def _flat(leaves: list, dtype) -> jax.Array:
    """The leaves as one matrix of shape ``(num_chains, num_coordinates)``."""
    return jnp.concatenate([leaf.reshape(leaf.shape[0], -1).astype(dtype) for leaf in leaves], 1)


def _mahalanobis(
    centered: list, size: jax.Array, ridge: jax.Array, coincide: jax.Array, dtype
) -> Callable:
    r"""The squared Mahalanobis distance $v \mapsto v^T (C + \rho I)^{-1} v$ of each chain's $v$.

    $C$ is the held half's sample covariance (from its ``centered`` leaves), $\rho =$ ``ridge``;
    the identity stands in for the matrix while the chains ``coincide`` (no chain draws then).
    """
    rows = _flat(centered, dtype)
    covariance = rows.T @ rows / (size - 1).astype(dtype)
    identity = jnp.eye(rows.shape[1], dtype=dtype)
    covariance = covariance + ridge * identity
    cholesky = jnp.linalg.cholesky(jnp.where(coincide, identity, covariance))

    def distance(offsets: list) -> jax.Array:
        whitened = jax.scipy.linalg.solve_triangular(cholesky, _flat(offsets, dtype).T, lower=True)
        return jnp.sum(whitened**2, axis=0)

    return distance


def _check_held_chains(num_chains: int, num_coordinates: int, independent: float) -> None:
    """Raise unless the held half has more chains than there are coordinates."""
    if num_chains // 2 <= num_coordinates:
        raise ValueError(
            f"covariance_move(independent={independent}) draws from the Gaussian of the held "
            f"half of the chains, which needs more chains in each half than coordinates: got "
            f"num_chains={num_chains} for {num_coordinates} coordinates; pass num_chains >= "
            f"{2 * (num_coordinates + 1)} or independent=0"
        )


def covariance_move(*, noise: float = 1e-4, independent: float = 0.0) -> CovarianceMove:
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

    With ``independent`` $= p > 0$, each moving chain instead draws, with probability $p$, a
    point from the other half's Gaussian around its mean rather than around itself,

    $$
    x_i' = \bar x + f_i \left(\sum_j w_j \frac{x_j - \bar x}{\sqrt{m - 1}}
        + \epsilon\, s\, \xi \right) \sim \mathcal N\left(\bar x,\ f_i^2 \Sigma\right),
    \qquad \Sigma = C + \epsilon^2 s^2 I,
    $$

    the sampling step of CMA-ES. The population's mean lies near the minimum of the loss
    smoothed at the population's scale: on a multimodal loss with a global trend (Rastrigin,
    Schaffer F7) the draw leaps from the local minimum a chain sits in to the basin the whole
    population points to. The draw does not depend on $x_i$: it is an independence proposal,
    accepted by the Metropolis-Hastings test with the correction
    $r = \frac{1}{2} \left(\lVert x_i' - \bar x \rVert_{\Sigma}^2
    - \lVert x_i - \bar x \rVert_{\Sigma}^2\right) / f_i^2$, with
    $\lVert v \rVert_{\Sigma}^2 = v^T \Sigma^{-1} v$, so the chains keep their Boltzmann
    law. A drawn point outside the bounds is rejected rather than reflected. The draw needs
    more chains in each half than coordinates, $n / 2 > d$ (the other half's covariance must
    span the space), adds $O(n d^2 + d^3)$ per step (a Cholesky factor of $\Sigma$), and
    works with the Metropolis test only (not `minibatch_barker`).

    Args:
        noise: $\epsilon \ge 0$, the isotropic share relative to the population's spread.
        independent: $p \in [0, 1]$, the probability that a moving chain draws from the
            other half's Gaussian instead of stepping from where it is.

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
    _checks.check_range("independent", independent, "a float in [0, 1]", lambda p: 0 <= p <= 1)
    return CovarianceMove(float(noise), float(independent))
