r"""Moves of the annealer: per-chain proposals and population moves, as `kernel.Move`\ s.

* A per-chain proposal ``(key, params, step_size) -> params`` moves one chain; it is applied to
  every chain through `jax.vmap` (`PerChainMove`).
* A population move ``(key, chains, step_size) -> chains`` proposes for every chain at once
  from the whole population (`population_move`, `differential_evolution`).

Every proposed chain is reflected into the bounds and scored by the loss.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from annealax._annealing import bounds as _bounds
from annealax._annealing import random_walk as _random_walk
from annealax._annealing.kernel import Context, Keys, Proposal, energies

PerChainProposal = Callable[[jax.Array, optax.Params, jax.Array], optax.Params]
PopulationProposal = Callable[[jax.Array, optax.Params, jax.Array], optax.Params]


def scored(chains: optax.Params, step_size: jax.Array, context: Context, **masks) -> Proposal:
    """Reflect ``chains`` into the bounds and evaluate them: a `Proposal`."""
    if context.bounds is not None:
        chains = jax.vmap(
            lambda p: _bounds.reflect(p, context.bounds, finite=context.bounds_finite)
        )(chains)
    none = jnp.zeros(step_size.shape, bool)
    return Proposal(
        chains=chains,
        values=energies(context.value_fn, chains, context.dtype, context.per_example),
        step_size=step_size,
        jumped=masks.get("jumped", none),
        held=masks.get("held", none),
        log_ratio=masks.get("log_ratio"),
    )


@dataclasses.dataclass(frozen=True)
class PerChainMove:
    """Each chain moved by ``proposal(key, params, step_size)`` with its own key."""

    proposal: PerChainProposal

    def propose(
        self, keys: Keys, chains: optax.Params, step_size: jax.Array, context: Context
    ) -> Proposal:
        """Propose for every chain through `jax.vmap`."""
        proposed = jax.vmap(self.proposal)(keys.proposal, chains, step_size)
        return scored(proposed, step_size, context)

    def check_params(self, params: optax.Params) -> None:
        """Raise for params a built-in random walk cannot move."""
        _random_walk.check_params(self.proposal, params)


@dataclasses.dataclass(frozen=True)
class PopulationMove:
    """All chains moved at once by ``fn(key, chains, step_size)``; see `population_move`."""

    fn: PopulationProposal

    def propose(
        self, keys: Keys, chains: optax.Params, step_size: jax.Array, context: Context
    ) -> Proposal:
        """Propose for the whole population with one key (that of the first chain)."""
        proposed = self.fn(keys.proposal[0], chains, step_size)
        return scored(proposed, step_size, context)

    def check_params(self, params: optax.Params) -> None:
        """A population move of the user's may move any params."""
        del params


def population_move(fn: PopulationProposal) -> PopulationMove:
    r"""A proposal for every chain at once, from the whole population of chains.

    ``fn(key, chains, step_size) -> chains`` receives the chains with their leading chain axis
    and each chain's step size, shape ``(num_chains,)``, and returns a proposal for every chain;
    each chain then accepts or rejects its own by the Metropolis rule. The proposal of chain
    $i$ may depend on the other chains $x_{-i}$; the chains keep the product of Boltzmann
    distributions $\prod_i \pi_T(x_i)$ when, given the chains it reads, each moved chain's
    proposal is symmetric, $q(x_i \to x_i' \mid x_{-i}) = q(x_i' \to x_i \mid x_{-i})$, and the
    chains it reads do not move in the same step. The usual way: split the chains in two
    halves, move one half using the other (held fixed: propose its chains unchanged), then
    the other; `differential_evolution` does so, choosing the half that moves at random at
    every step.

    With the chains sharded over devices (`annealax.shard_chains` or ``anneal(mesh=...)``),
    reading other chains makes XLA gather them: an all-gather of the chains over the
    ``"chains"`` mesh axis at every step, which per-chain moves never need.

    Args:
        fn: ``(key, chains, step_size) -> chains``, one typed key for the whole population.

    Returns:
        A move for ``proposal=``.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> def gaussian_steps(key, chains, step_size):  # reads no other chain
        ...     noise = jax.random.normal(key, chains.shape)
        ...     return chains + step_size[:, None] * noise
        >>> result = annealax.anneal(
        ...     lambda x: jnp.sum(x**2), jnp.ones(3), key=0, num_steps=200, num_chains=8,
        ...     proposal=annealax.population_move(gaussian_steps),
        ... )
        >>> bool(result.best_value < 1e-2)
        True
    """
    if not callable(fn):
        raise ValueError(f"`fn` must be callable (key, chains, step_size) -> chains, got {fn!r}")
    return PopulationMove(fn)


def halves(key: jax.Array, num_chains: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Which half of the chains moves, chosen at random.

    Returns the mask of the moving chains, and the start and size of the other half (the
    chains ``start, ..., start + size - 1``, held fixed).
    """
    first_half_moves = jax.random.bernoulli(key)
    half = num_chains // 2
    index = jnp.arange(num_chains)
    moves = jnp.where(first_half_moves, index < half, index >= half)
    start = jnp.where(first_half_moves, half, 0)
    size = jnp.where(first_half_moves, num_chains - half, half)
    return moves, start, size


def check_floating(name: str, params: optax.Params) -> None:
    """Raise unless every leaf of ``params`` is floating (``name``: the move, for the error)."""
    for leaf in jax.tree.leaves(params):
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            raise ValueError(
                f"`proposal` {name} moves floating-point params only, got a leaf of dtype "
                f"{jnp.result_type(leaf)}"
            )


def dimension(chains: optax.Params) -> int:
    """The number of coordinates of one chain."""
    return sum(math.prod(leaf.shape[1:]) for leaf in jax.tree.leaves(chains))


@dataclasses.dataclass(frozen=True)
class DifferentialEvolution:
    """The differential-evolution move; see `differential_evolution`."""

    noise: float
    min_chains = 4

    def propose(
        self, keys: Keys, chains: optax.Params, step_size: jax.Array, context: Context
    ) -> Proposal:
        """Move one random half of the chains along differences of the other half."""
        num_chains = step_size.shape[0]
        half_key, first_key, second_key, noise_key = jax.random.split(keys.proposal[0], 4)
        moves, start, size = halves(half_key, num_chains)
        first = start + jax.random.randint(first_key, (num_chains,), 0, size)
        offset = 1 + jax.random.randint(second_key, (num_chains,), 0, size - 1)
        second = start + (first - start + offset) % size
        leaves, treedef = jax.tree.flatten(chains)
        gamma = 2.38 / math.sqrt(2 * max(dimension(chains), 1))
        noise_keys = jax.random.split(noise_key, len(leaves))
        moved = []
        for leaf, leaf_key in zip(leaves, noise_keys, strict=True):
            scale = step_size.astype(leaf.dtype).reshape((-1,) + (1,) * (leaf.ndim - 1))
            jitter = self.noise * jax.random.normal(leaf_key, leaf.shape, leaf.dtype)
            proposal = leaf + scale * (gamma * (leaf[first] - leaf[second]) + jitter)
            mask = moves.reshape((-1,) + (1,) * (leaf.ndim - 1))
            moved.append(jnp.where(mask, proposal, leaf))
        return scored(treedef.unflatten(moved), step_size, context, held=~moves)

    def check_params(self, params: optax.Params) -> None:
        """Raise unless every leaf is floating."""
        check_floating("annealax.differential_evolution()", params)


def differential_evolution(*, noise: float = 1e-3) -> DifferentialEvolution:
    r"""The differential-evolution move of ter Braak (2006), with two halves of chains.

    At each step one half of the chains, chosen at random, moves; the other half stays. A
    moving chain $x_i$ proposes

    $$
    x_i' = x_i + \sigma_i \left(\gamma\, (x_a - x_b) + \epsilon\, \xi\right),
    \qquad \gamma = \frac{2.38}{\sqrt{2 d}},
    $$

    with $a \ne b$ drawn uniformly from the other half, $\xi$ standard normal, $\epsilon =$
    ``noise``, $d$ the number of coordinates and $\sigma_i$ the chain's step size ($\sigma = 1$
    is ter Braak's move). The differences of the other half follow the shape of the
    population, so the move is as good on rotated, ill-conditioned losses as on axis-aligned
    ones. Given the other half, $(a, b)$ and $(b, a)$ are equally likely, so the proposal is
    symmetric and, with the other half fixed, each chain keeps its Boltzmann distribution.

    It needs at least 4 chains. Sharded over devices, it adds an all-gather of the chains
    over the ``"chains"`` axis at every step (see `population_move`). The step-size
    adaptation counts the moving half only.

    Args:
        noise: $\epsilon \ge 0$, the small Gaussian jitter that makes the move irreducible.

    Returns:
        A move for ``proposal=``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> result = annealax.anneal(
        ...     lambda x: jnp.sum(x**2), jnp.ones(4), key=0, num_steps=300, num_chains=16,
        ...     step_size=1.0, proposal=annealax.differential_evolution(),
        ... )
        >>> bool(result.best_value < 1e-3)
        True

    References:
        C. J. F. ter Braak, "A Markov Chain Monte Carlo version of the genetic algorithm
        Differential Evolution: easy Bayesian computing for real parameter spaces",
        Statistics and Computing 16, 239 (2006).
    """
    if isinstance(noise, bool) or not (isinstance(noise, int | float) and noise >= 0):
        raise ValueError(f"`noise` must be a float >= 0, got {noise!r}")
    return DifferentialEvolution(float(noise))


def resolve(proposal: Any) -> Any:
    """The move for a name, a random walk, a per-chain callable or a move."""
    if hasattr(proposal, "propose"):
        return proposal
    return PerChainMove(_random_walk.resolve(proposal))
