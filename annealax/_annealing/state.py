"""The annealer's state: what the chains carry, the parts' sub-states, and the last step's info.

Every leaf inside a `Walkers` or a `ChainInfo` has a leading chain axis; everything else is one
value for all chains. The shardings over devices are derived from that structure
(`annealax.shard_chains`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import optax


class Walkers(NamedTuple):
    """What each chain carries: every leaf has a leading axis of size ``num_chains``.

    Attributes:
        rng_key: One key per chain, as key data (`jax.random.key_data`).
        chains: The chains: the params pytree with a leading chain axis.
        values: Each chain's loss (``+inf`` before the first step, and for a chain whose
            starting loss is NaN or infinite).
        log_step_factor: The logarithm of each chain's adapted factor on the step size.
        acceptance_rate: Each chain's recent fraction of accepted proposals: the mean over the
            steps done for the first ``acceptance_window`` steps, then an exponential average
            that weighs each new step by ``1 / acceptance_window``.
        rung: With replica exchange, each chain's rung on the ladder; empty otherwise.
    """

    rng_key: jax.Array
    chains: optax.Params
    values: jax.Array
    log_step_factor: jax.Array
    acceptance_rate: jax.Array
    rung: jax.Array | optax.EmptyState


class ChainInfo(NamedTuple):
    r"""Per-chain diagnostics of the last step (each of shape ``(num_chains,)``).

    Attributes:
        step_size: Each chain's proposal scale $\sigma$ in the step (a jump's, for a jump).
        jumped: Whether the chain's move was a jump (see `annealax.jumps`).
    """

    step_size: jax.Array
    jumped: jax.Array


class StepInfo(NamedTuple):
    """Diagnostics of the last step: recomputed at every step, never read by the next.

    Attributes:
        temperature: The base temperature $T_t$ of the step (that of the coldest rung under
            replica exchange).
        chain: The per-chain diagnostics, a `ChainInfo`.
        num_accepted: The number of chains whose proposal was accepted (int32).
        evaluations: The number of loss evaluations of the step (int32).
    """

    temperature: jax.Array
    chain: ChainInfo
    num_accepted: jax.Array
    evaluations: jax.Array


class MetropolisState(NamedTuple):
    """State of `metropolis`: plain arrays in nested named tuples.

    Read any field with ``optax.tree.get(state, name)``, which also finds it inside a chain or
    `optax.inject_hyperparams`: ``count``, ``rng_key``, ``chains``, ``values``,
    ``log_step_factor``, ``acceptance_rate``, ``rung``, ``temperature_scale``, ``swap_rate``,
    ``best_params``, ``best_value``, ``best_step``, ``temperature``, ``step_size``,
    ``jumped``, ``num_accepted``, ``evaluations``. The most used are also attributes
    (``state.chains``, ``state.temperature``, ...).

    Attributes:
        count: Number of steps done so far (int32, saturating).
        walkers: What each chain carries, a `Walkers`.
        temperature_scale: With `auto_temperature`, the measured initial temperature $T_0$
            (0 before the first step); empty otherwise.
        swap_rate: With replica exchange, the recent fraction of accepted swaps of each pair
            of neighbouring rungs, shape ``(num_temperatures - 1,)``; empty otherwise.
        best_params: The lowest-loss point seen so far, over all chains and steps.
        best_value: Its loss.
        best_step: The number of steps done when it was found.
        info: The last step's diagnostics, a `StepInfo`.
    """

    count: jax.Array
    walkers: Walkers
    temperature_scale: jax.Array | optax.EmptyState
    swap_rate: jax.Array | optax.EmptyState
    best_params: optax.Params
    best_value: jax.Array
    best_step: jax.Array
    info: StepInfo

    @property
    def rng_key(self) -> jax.Array:
        """``walkers.rng_key``."""
        return self.walkers.rng_key

    @property
    def chains(self) -> optax.Params:
        """``walkers.chains``."""
        return self.walkers.chains

    @property
    def values(self) -> jax.Array:
        """``walkers.values``."""
        return self.walkers.values

    @property
    def log_step_factor(self) -> jax.Array:
        """``walkers.log_step_factor``."""
        return self.walkers.log_step_factor

    @property
    def acceptance_rate(self) -> jax.Array:
        """``walkers.acceptance_rate``."""
        return self.walkers.acceptance_rate

    @property
    def rung(self) -> jax.Array | optax.EmptyState:
        """``walkers.rung``."""
        return self.walkers.rung

    @property
    def temperature(self) -> jax.Array:
        """``info.temperature``: the base temperature of the last step."""
        return self.info.temperature

    @property
    def step_size(self) -> jax.Array:
        """``info.chain.step_size``: each chain's step size in the last step."""
        return self.info.chain.step_size


class AnnealTrace(NamedTuple):
    """Diagnostics of annealing steps; in `AnnealResult` each field has shape ``(num_steps,)``.

    Attributes:
        best_value: The best loss found up to and including the step.
        acceptance: The fraction of chains whose proposal was accepted at the step.
        temperature: The temperature of the step.
    """

    best_value: jax.Array
    acceptance: jax.Array
    temperature: jax.Array


PER_CHAIN_TYPES = (Walkers, ChainInfo)
"""The parts of the state whose every leaf has a leading chain axis."""
