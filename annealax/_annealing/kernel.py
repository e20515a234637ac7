r"""The Metropolis kernel: propose with a move, accept or reject every chain, in log space.

A step of the kernel, for chains $x$ with cached losses $E(x)$:

1. the move proposes $x'$ for every chain and scores it, $E(x')$ (see `Move`);
2. each chain accepts with probability $\min(1, \exp(-(E(x') - E(x)) / T + r))$, tested as
   $\log u \cdot T < -(E(x') - E(x)) + T r$ with $u \sim U[0, 1)$ (`accept`), where
   $r = \log q(x' \to x) - \log q(x \to x')$ is the Hastings correction of a move whose
   proposal is not symmetric (0 for a symmetric one);
3. accepted chains take $x'$ and $E(x')$, the others keep theirs.

Everything else of the annealer (step sizes, temperatures, replica exchange, the best point)
lives in the parts around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import optax

ValueFn = Callable[[optax.Params], jax.Array]

KEY_USES = ("next", "proposal", "accept", "swap", "jump", "jump_length")
"""What each of the keys that a chain's key splits into at every step is for."""


class Keys(NamedTuple):
    """One typed key per chain for each use, each of shape ``(num_chains,)``."""

    next: jax.Array
    proposal: jax.Array
    accept: jax.Array
    swap: jax.Array
    jump: jax.Array
    jump_length: jax.Array


def split_keys(keys: jax.Array) -> Keys:
    """Split each chain's key into the keys of `KEY_USES`, the same way on any device count."""
    split = jax.vmap(lambda key: jax.random.split(key, len(KEY_USES)))(keys)
    return Keys(*(split[:, index] for index in range(len(KEY_USES))))


class Context(NamedTuple):
    """What a move may use besides the chains: the loss and the settings of the step.

    Attributes:
        value_fn: The loss of one chain's params.
        dtype: The dtype of the losses.
        bounds: ``(lower, upper)`` or None.
        bounds_finite: Whether every bound is known to be finite.
        initial_step_size: The step size without the adapted factor (shape ``()``).
        width: The mean width of the box's finite sides, NaN if none; None without bounds.
        per_example: Whether ``value_fn`` returns per-example losses of shape ``(batch,)``
            (for a minibatch acceptance test) rather than a scalar.
    """

    value_fn: ValueFn
    dtype: Any
    bounds: Any
    bounds_finite: bool
    initial_step_size: jax.Array
    width: jax.Array | None
    per_example: bool = False


class Proposal(NamedTuple):
    r"""A move's proposal for every chain.

    Attributes:
        chains: The proposed points, with a leading chain axis.
        values: Their losses, shape ``(num_chains,)``, non-finite values as ``+inf``; with
            `Context.per_example`, the per-example losses, shape ``(num_chains, batch)``.
        step_size: The step size each chain was moved with.
        jumped: Whether each chain's move was a jump (not counted by the step-size adaptation).
        held: Whether each chain was left where it is (not counted by the adaptation either).
        log_ratio: The Hastings correction $\log q(x' \to x) - \log q(x \to x')$ of each
            chain's proposal, shape ``(num_chains,)``; None for a symmetric proposal.
    """

    chains: optax.Params
    values: jax.Array
    step_size: jax.Array
    jumped: jax.Array
    held: jax.Array
    log_ratio: jax.Array | None = None


class Move(Protocol):
    """A proposal for all chains at once, scored by its own losses.

    Built-in moves evaluate ``context.value_fn`` on every proposed chain. A model that knows
    its energy differences (a spin glass that updates local fields after a flip) implements
    `propose` itself and returns the proposed energies without re-evaluating the whole loss:
    the kernel only reads `Proposal.values`. A move whose proposal is not symmetric sets
    `Proposal.log_ratio`, and the kernel applies the Metropolis-Hastings test.
    """

    def propose(
        self, keys: Keys, chains: optax.Params, step_size: jax.Array, context: Context
    ) -> Proposal:
        """Propose and score a new point for every chain."""
        ...


class ChainState(NamedTuple):
    """The chains and their cached losses."""

    chains: optax.Params
    values: jax.Array


class KernelInfo(NamedTuple):
    """What the kernel saw: the proposal and the accepted chains."""

    proposal: Proposal
    accepted: jax.Array


def step(
    move: Move,
    keys: Keys,
    state: ChainState,
    context: Context,
    temperature: jax.Array | Callable[[jax.Array, jax.Array], jax.Array],
    step_size: jax.Array,
    acceptance: Any = None,
) -> tuple[ChainState, KernelInfo]:
    """One Metropolis step of every chain.

    Args:
        move: The `Move`.
        keys: The step's `Keys`.
        state: The chains and their losses (per-example losses with ``acceptance``).
        context: The loss and settings of the step.
        temperature: Each chain's temperature, shape ``(num_chains,)``, or a function of the
            current and the proposed losses that returns it (a temperature measured from the
            first proposals).
        step_size: Each chain's step size, shape ``(num_chains,)``.
        acceptance: None for the Metropolis test, or a test of per-example losses with a
            method ``accept(current, proposed, temperature, keys)`` (`MinibatchBarker`).

    Returns:
        The new chains and losses (the mean of the per-example losses with ``acceptance``),
        and the `KernelInfo`.
    """
    proposal = move.propose(keys, state.chains, step_size, context)
    current, proposed = state.values, proposal.values
    if acceptance is not None:
        current, proposed = jnp.mean(current, axis=-1), jnp.mean(proposed, axis=-1)
    if callable(temperature):
        temperature = temperature(current, proposed)
    if acceptance is None:
        log_u = jnp.log(uniforms(keys.accept, context.dtype))
        accepted = accept(current, proposed, temperature, log_u, proposal.log_ratio)
    elif proposal.log_ratio is not None:
        raise ValueError(
            "a move whose proposal is not symmetric (it sets Proposal.log_ratio) needs the "
            f"Metropolis test, got minibatch={acceptance!r}; pass minibatch=None, or a "
            "symmetric move"
        )
    else:
        accepted = acceptance.accept(state.values, proposal.values, temperature, keys.accept)
        proposal = proposal._replace(values=proposed)
    chains = jax.tree.map(
        lambda new, old: jnp.where(expand(accepted, new), new, old), proposal.chains, state.chains
    )
    values = jnp.where(accepted, proposed, current)
    return ChainState(chains, values), KernelInfo(proposal, accepted)


def accept(
    current: jax.Array,
    proposed: jax.Array,
    temperature: jax.Array,
    log_u: jax.Array,
    log_ratio: jax.Array | None = None,
) -> jax.Array:
    r"""The Metropolis test $u < \exp(-\Delta E / T)$, as $\log u \cdot T < -\Delta E$.

    With a Hastings correction $r$ (``log_ratio``), the Metropolis-Hastings test
    $u < \exp(-\Delta E / T + r)$, as $\log u \cdot T < -(\Delta E - T r)$.

    Downhill and level moves (of $\Delta E - T r$) are always accepted; a NaN or infinite
    proposal never is. A temperature of 0, a negative or a NaN one accepts downhill and level
    moves of $\Delta E$ only.
    """
    delta = proposed - current
    if log_ratio is not None:
        corrected = (temperature > 0) & (log_ratio != 0)
        delta = delta - jnp.where(corrected, temperature * log_ratio, 0)
    return jnp.isfinite(proposed) & ((delta <= 0) | (log_u * temperature < -delta))


def energy(value_fn: ValueFn, params: optax.Params, dtype: Any, per_example: bool = False):
    """``value_fn(params)`` as a scalar of ``dtype``; NaN and infinite values as ``+inf``.

    With ``per_example``, ``value_fn`` returns one loss per example of a batch, shape
    ``(batch,)``, and so does this.
    """
    value = jnp.asarray(value_fn(params))
    if not per_example and value.shape != ():
        raise ValueError(f"`value_fn` must return a scalar loss, got shape {value.shape}")
    value = value.astype(dtype)
    return jnp.where(jnp.isfinite(value), value, jnp.inf)


def energies(
    value_fn: ValueFn, chains: optax.Params, dtype: Any, per_example: bool = False
) -> jax.Array:
    """The `energy` of every chain."""
    return jax.vmap(lambda params: energy(value_fn, params, dtype, per_example))(chains)


def uniforms(keys: jax.Array, dtype: Any) -> jax.Array:
    """One draw of $U[0, 1)$ per key."""
    return jax.vmap(lambda key: jax.random.uniform(key, dtype=dtype))(keys)


def expand(mask: jax.Array, like: jax.Array) -> jax.Array:
    """``mask`` of shape ``(num_chains,)`` with trailing axes to broadcast against ``like``."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))
