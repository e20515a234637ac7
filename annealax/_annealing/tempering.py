"""Replica exchange (parallel tempering): chains on a ladder of temperatures swap them."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from annealax import _checks


@dataclasses.dataclass(frozen=True)
class ReplicaExchange:
    """The settings of replica exchange; see `replica_exchange`. Hashable."""

    num_temperatures: int
    ladder: tuple[float, ...]
    swap_every: int


def replica_exchange(
    num_temperatures: int = 8,
    *,
    max_ratio: float = 10.0,
    ladder: tuple[float, ...] | None = None,
    swap_every: int = 10,
) -> ReplicaExchange:
    r"""Replica exchange for `metropolis` and `anneal`: a ladder of temperatures that chains swap.

    The chains form groups of ``num_temperatures`` consecutive chains; within a group chain
    rung $k$ runs at $T_t \lambda_k$, with $T_t$ the (cooling) temperature of the annealer and
    the ladder $1 = \lambda_0 < \lambda_1 < \dots < \lambda_{L-1}$. Hot rungs cross barriers;
    cold rungs refine. Every ``swap_every`` steps, neighbouring rungs $k, k+1$ of a group
    propose to swap temperatures (alternately the even and the odd pairs, so that no chain is
    in two pairs at once), accepted with probability

    $$
    \min\left(1, \exp\left(\left(\frac{1}{T_k} - \frac{1}{T_{k+1}}\right)
        (E_k - E_{k+1})\right)\right),
    $$

    which keeps the product of the Boltzmann distributions of the rungs. A swap exchanges the
    temperatures, step sizes and acceptance statistics of the two chains, never their
    parameters, so nothing moves between devices but a few numbers per chain. The rate of
    accepted swaps of each pair is kept in the state's ``swap_rate``: a pair that rarely
    swaps means the ladder is too sparse there.

    Args:
        num_temperatures: $L \ge 2$, which must divide the number of chains.
        max_ratio: $\lambda_{L-1} > 1$; the ladder is geometric, $\lambda_k =
            \text{max\_ratio}^{k / (L - 1)}$.
        ladder: The multipliers $\lambda_k$ instead: $L$ increasing floats, the first 1.
        swap_every: The number of steps between swap rounds, >= 1.

    Returns:
        A `ReplicaExchange` for ``replica_exchange=``.

    Raises:
        ValueError: For a bad argument.

    Examples:
        >>> import annealax
        >>> tempering = annealax.replica_exchange(4, max_ratio=8.0)
        >>> [round(ratio, 6) for ratio in tempering.ladder]
        [1.0, 2.0, 4.0, 8.0]
    """
    num_temperatures = _checks.check_positive_int("num_temperatures", num_temperatures)
    if num_temperatures < 2:
        raise ValueError(f"`num_temperatures` must be >= 2, got {num_temperatures!r}")
    swap_every = _checks.check_positive_int("swap_every", swap_every)
    if ladder is None:
        if not (_checks.is_python_number(max_ratio) and max_ratio > 1):
            raise ValueError(f"`max_ratio` must be a float > 1, got {max_ratio!r}")
        exponents = [k / (num_temperatures - 1) for k in range(num_temperatures)]
        ladder = tuple(float(max_ratio) ** e for e in exponents)
    else:
        ladder = tuple(float(x) for x in ladder)
        increasing = all(a < b for a, b in itertools.pairwise(ladder))
        if len(ladder) != num_temperatures or ladder[0] != 1.0 or not increasing:
            raise ValueError(
                f"`ladder` must be {num_temperatures} increasing floats starting at 1.0, "
                f"got {ladder!r}"
            )
    return ReplicaExchange(num_temperatures, ladder, swap_every)


class Swap(NamedTuple):
    """The outcome of a swap round: each chain's new rung, and where its statistics come from."""

    rung: jax.Array
    source: jax.Array
    accepted: jax.Array


def initial_rungs(num_chains: int, num_temperatures: int) -> jax.Array:
    """Chain ``c`` starts on rung ``c % num_temperatures`` of group ``c // num_temperatures``."""
    return jnp.arange(num_chains, dtype=jnp.int32) % num_temperatures


def swap(
    rung: jax.Array,
    values: jax.Array,
    inverse_temperatures: jax.Array,
    log_u: jax.Array,
    parity: jax.Array,
) -> Swap:
    r"""One round of swaps between neighbouring rungs ``k, k+1`` with ``k % 2 == parity``.

    Args:
        rung: Each chain's rung, shape ``(num_chains,)``.
        values: Each chain's energy.
        inverse_temperatures: $1 / T$ of each rung, shape ``(L,)``.
        log_u: One $\log u$, $u \sim U[0, 1)$, per chain; a pair uses its lower chain's.
        parity: 0 or 1.

    Returns:
        The new rungs; ``source``, for each chain, the chain whose rung (and step size) it
        takes over; and ``accepted``, shape ``(num_groups, L - 1)``, the accepted swaps (False
        for the pairs not tried in this round).
    """
    num_temperatures = inverse_temperatures.shape[0]
    groups = (-1, num_temperatures)
    rung_by_group = rung.reshape(groups)
    holder = jnp.argsort(rung_by_group, axis=1)  # holder[g, k]: the chain of group g on rung k
    energy = jnp.take_along_axis(values.reshape(groups), holder, axis=1)
    lower_log_u = jnp.take_along_axis(log_u.reshape(groups), holder, axis=1)[:, :-1]
    log_ratio = (inverse_temperatures[:-1] - inverse_temperatures[1:])[None, :] * (
        energy[:, :-1] - energy[:, 1:]
    )
    tried = jnp.arange(num_temperatures - 1) % 2 == parity
    accepted = tried[None, :] & (lower_log_u < log_ratio)
    no = jnp.zeros((accepted.shape[0], 1), bool)
    moves_up = jnp.take_along_axis(jnp.concatenate([accepted, no], 1), rung_by_group, axis=1)
    moves_down = jnp.take_along_axis(jnp.concatenate([no, accepted], 1), rung_by_group, axis=1)
    new_rung = rung_by_group + moves_up.astype(jnp.int32) - moves_down.astype(jnp.int32)
    offsets = jnp.arange(rung_by_group.shape[0], dtype=jnp.int32)[:, None] * num_temperatures
    source = jnp.take_along_axis(holder.astype(jnp.int32), new_rung, axis=1) + offsets
    return Swap(new_rung.reshape(-1), source.reshape(-1), accepted)


def ladder(replica_exchange: ReplicaExchange | None, dtype: jnp.dtype) -> jax.Array:
    r"""The multipliers $\lambda_k$ of the rungs (a single 1 without replica exchange)."""
    if replica_exchange is None:
        return jnp.ones((1,), dtype)
    return jnp.asarray(replica_exchange.ladder, dtype)


def initial_state(
    replica_exchange: ReplicaExchange | None, num_chains: int, dtype: jnp.dtype
) -> tuple[jax.Array | optax.EmptyState, jax.Array | optax.EmptyState]:
    """Each chain's rung and the swap rates at the start; empty without replica exchange."""
    if replica_exchange is None:
        return optax.EmptyState(), optax.EmptyState()
    num_temperatures = replica_exchange.num_temperatures
    rungs = initial_rungs(num_chains, num_temperatures)
    return rungs, jnp.zeros((num_temperatures - 1,), dtype)


def swap_round(
    replica_exchange: ReplicaExchange,
    window: int,
    count: jax.Array,
    rung: jax.Array,
    swap_rate: jax.Array,
    values: jax.Array,
    inverse_temperatures: jax.Array,
    log_u: jax.Array,
    carried: Any,
) -> tuple[jax.Array, jax.Array, Any]:
    """Swaps every ``swap_every`` steps; the ``carried`` per-chain arrays follow the rungs.

    ``swap_rate`` averages over the last ``window`` rounds of each pair (mean, then exponential).
    """
    swap_every = replica_exchange.swap_every
    done = count + 1
    round_index = done // swap_every - 1
    parity = round_index % 2

    def swap_now():
        result = swap(rung, values, inverse_temperatures, log_u, parity)
        moved = jax.tree.map(lambda x: x[result.source], carried)
        pair = jnp.arange(swap_rate.shape[0])
        tried = pair % 2 == parity
        attempts = jnp.where(round_index >= pair % 2, (round_index - pair % 2) // 2 + 1, 0)
        rounds = jnp.clip(attempts, 1, window).astype(swap_rate.dtype)
        fraction = jnp.sum(result.accepted.astype(jnp.int32), axis=0).astype(swap_rate.dtype)
        fraction = fraction / result.accepted.shape[0]
        new_rate = jnp.where(tried, swap_rate + (fraction - swap_rate) / rounds, swap_rate)
        return result.rung, new_rate, moved

    return jax.lax.cond(done % swap_every == 0, swap_now, lambda: (rung, swap_rate, carried))
