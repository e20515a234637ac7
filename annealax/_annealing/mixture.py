r"""A mixture of moves: at each step, one of several moves, chosen at random, moves the chains."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import optax

from annealax._annealing import moves as _moves
from annealax._annealing.kernel import Context, Keys, Proposal


@dataclasses.dataclass(frozen=True)
class Mixture:
    """Moves and their probabilities; see `mixture`. Hashable."""

    moves: tuple[Any, ...]
    probabilities: tuple[float, ...]

    @property
    def min_chains(self) -> int:
        """The most chains any of the moves needs."""
        return max(getattr(move, "min_chains", 1) for move in self.moves)

    def propose(
        self, keys: Keys, chains: optax.Params, step_size: jax.Array, context: Context
    ) -> Proposal:
        """Choose a move with the first chain's key, and propose with it for every chain."""
        split = jax.vmap(jax.random.split)(keys.proposal)
        choice_key, keys = split[0, 0], keys._replace(proposal=split[:, 1])
        logits = jnp.log(jnp.asarray(self.probabilities, context.dtype))
        index = jax.random.categorical(choice_key, logits)
        branches = [
            lambda move=move: move.propose(keys, chains, step_size, context) for move in self.moves
        ]
        # lax.switch needs one output structure: a symmetric move's log_ratio of None becomes 0
        # when another move of the mixture is not symmetric.
        if any(jax.eval_shape(branch).log_ratio is not None for branch in branches):
            branches = [_with_log_ratio(branch, context.dtype) for branch in branches]
        return jax.lax.switch(index, branches)

    def check_params(self, params: optax.Params) -> None:
        """Every move's check."""
        for move in self.moves:
            move.check_params(params)


def _with_log_ratio(branch, dtype):
    """``branch`` with a log_ratio of 0 where it has None."""

    def propose() -> Proposal:
        proposal = branch()
        if proposal.log_ratio is not None:
            return proposal
        return proposal._replace(log_ratio=jnp.zeros(proposal.step_size.shape, dtype))

    return propose


def mixture(*proposals: Any, probabilities: tuple[float, ...] | None = None) -> Mixture:
    r"""A move that is, at each step, one of ``proposals``, the $k$-th with probability $p_k$.

    Each step draws one move for the whole population (with the first chain's key, so the
    choice is the same on any number of devices), and every chain proposes with it and
    accepts or rejects by that move's test. Each move keeps the Boltzmann distribution, and
    the choice does not depend on the chains, so the mixture keeps it too: its transition
    kernel is $\sum_k p_k K_k$. It combines moves that are good at different things, such as
    coordinate moves on separable losses and the `covariance_move` on rotated ones.

    The step costs the chosen move's step only: the choice is a `jax.lax.switch`. Under
    `jax.vmap` over runs (a sweep over keys), each run chooses its own move, and `jax.vmap`
    turns the switch into a select that computes every move. The step-size adaptation counts
    every move's acceptance; moves that settle at very different step sizes adapt one factor
    between them. The first step's move measures the initial temperature of
    `auto_temperature`.

    Args:
        *proposals: Two or more moves: names (``"gaussian"``, ``"cauchy"``), `random_walk`\ s,
            per-chain callables ``(key, params, step_size) -> params`` or moves such as
            `jumps`, `differential_evolution` and `covariance_move`.
        probabilities: $p_k > 0$, one per move, normalised to sum to 1; None: equal.

    Returns:
        A move for ``proposal=``; it needs as many chains as its most demanding move.

    Examples:
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> move = annealax.mixture(
        ...     annealax.jumps(annealax.random_walk(count=1)), annealax.covariance_move(),
        ...     probabilities=(0.5, 0.5),
        ... )
        >>> tilted = jnp.array([[1.0, 0.999], [0.999, 1.0]])  # a narrow valley at 45 degrees
        >>> result = annealax.anneal(
        ...     lambda x: x @ tilted @ x, jnp.full(2, 3.0), key=0, num_steps=500,
        ...     num_chains=16, proposal=move,
        ... )
        >>> bool(result.best_value < 1e-6)
        True
    """
    if len(proposals) < 2:
        raise ValueError(f"`mixture` needs two or more proposals, got {len(proposals)}")
    moves = tuple(_moves.resolve(proposal) for proposal in proposals)
    if probabilities is None:
        probabilities = (1.0,) * len(moves)
    if not isinstance(probabilities, tuple | list) or len(probabilities) != len(moves):
        raise ValueError(
            f"`probabilities` must be a tuple of {len(moves)} floats > 0 (one per proposal) or "
            f"None, got {probabilities!r}"
        )
    for probability in probabilities:
        if isinstance(probability, bool) or not (
            isinstance(probability, int | float) and math.isfinite(probability) and probability > 0
        ):
            raise ValueError(
                f"`probabilities` must be finite floats > 0, got {probability!r} in "
                f"{tuple(probabilities)!r}"
            )
    total = math.fsum(probabilities)
    return Mixture(moves, tuple(float(p) / total for p in probabilities))
