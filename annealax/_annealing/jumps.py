r"""Jumps: a mixture of a move at the adapted step size and at a jump's step size."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from annealax import _checks
from annealax._annealing import moves as _moves
from annealax._annealing.kernel import Context, Keys, Proposal, uniforms

BOX_JUMP_WIDTHS = 10.0
"""A box-wide jump's step size, in mean widths of the bounds: reflection folds a Gaussian this
wide into a draw uniform over the box to within about exp(-490)."""


@dataclasses.dataclass(frozen=True)
class Jumps:
    """A move, a share of whose steps are jumps; see `jumps`. Hashable."""

    move: Any
    probability: float
    box_share: float

    def propose(
        self, keys: Keys, chains: optax.Params, step_size: jax.Array, context: Context
    ) -> Proposal:
        """Decide each chain's jump, set its step size, and propose with the inner move."""
        dtype = context.dtype
        decision = uniforms(keys.jump, dtype)
        jumped = decision < self.probability
        lengths = jnp.abs(jax.vmap(lambda k: jax.random.cauchy(k, dtype=dtype))(keys.jump_length))
        jump_step = context.initial_step_size * lengths
        width = context.width
        if width is not None and not _is_zero(self.box_share):
            box_jumps = decision < self.probability * self.box_share
            if not context.bounds_finite:
                box_jumps = box_jumps & jnp.isfinite(width)
            jump_step = jnp.where(box_jumps, BOX_JUMP_WIDTHS * width.astype(dtype), jump_step)
        step_size = jnp.where(jumped, jump_step, step_size)
        proposal = self.move.propose(keys, chains, step_size, context)
        return proposal._replace(jumped=jumped)

    def check_params(self, params: optax.Params) -> None:
        """The inner move's check."""
        self.move.check_params(params)


def jumps(
    proposal: Any = "gaussian", *, probability: float = 0.5, box_share: float = 0.25
) -> Jumps:
    r"""A move of which a share of the steps are jumps, to reach other basins late in a run.

    As the temperature falls, the adapted step sizes shrink to the width of the basin a chain
    is in, and the chain can no longer reach another basin. With probability $p$ each
    chain's move is a jump instead: the same ``proposal`` with the step size $\sigma_0 |C|$,
    with $\sigma_0$ the initial step size (``step_size`` without the adapted factor) and $C$ a
    standard Cauchy draw, so that half of the jumps are shorter than $\sigma_0$ and one in ten
    is more than $6.3\,\sigma_0$ long. With bounds, a share ``box_share`` of the jumps are
    box-wide instead: their step size is 10 mean widths of the box, which reflection folds
    into a uniform draw over the box of each coordinate moved. Every draw is independent of
    the chain's position, so the mixture stays symmetric; the step-size adaptation counts the
    other moves only.

    Args:
        proposal: The move: a name (``"gaussian"``, ``"cauchy"``), a `random_walk` or a
            per-chain callable ``(key, params, step_size) -> params``.
        probability: $p$, the probability in [0, 1) that a chain's move is a jump.
        box_share: With bounds, the fraction in [0, 1] of the jumps that are box-wide.

    Returns:
        A move for ``proposal=``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> move = annealax.jumps(annealax.random_walk(count=1), probability=0.5)
        >>> result = annealax.anneal(
        ...     lambda x: jnp.sum(x**2), jnp.full(3, 4.0), key=0, num_steps=500,
        ...     bounds=(-5.0, 5.0), proposal=move,
        ... )
        >>> bool(result.best_value < 1e-3)
        True
    """
    move = _moves.resolve(proposal)
    if not isinstance(move, _moves.PerChainMove):
        raise ValueError(
            "`proposal` of jumps must be a name, a random_walk or a per-chain callable "
            f"(key, params, step_size) -> params, got {proposal!r}"
        )
    _checks.check_range(
        "probability", probability, "a float in [0, 1)", lambda p: (p >= 0) & (p < 1)
    )
    _checks.check_range("box_share", box_share, "a float in [0, 1]", lambda s: (s >= 0) & (s <= 1))
    return Jumps(move, probability, box_share)


def _is_zero(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0
