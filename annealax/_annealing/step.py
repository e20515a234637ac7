"""One step of the annealer: the kernel between the parts, and the best point so far."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from annealax._annealing import kernel as _kernel
from annealax._annealing import step_sizes as _step_sizes
from annealax._annealing import temperature as _temperature
from annealax._annealing import tempering as _tempering
from annealax._annealing.config import MetropolisConfig
from annealax._annealing.kernel import ChainState, Context, ValueFn
from annealax._annealing.state import AnnealTrace, ChainInfo, MetropolisState, StepInfo, Walkers


class _Measured:
    """The temperatures of a step, set once the kernel has scored the proposals."""

    scale: Any
    temperature: Any


def step(
    config: MetropolisConfig, state: MetropolisState, value_fn: ValueFn, *, step_best: bool = True
) -> tuple[MetropolisState, AnnealTrace, optax.Params | None]:
    """One step of every chain; returns the state, its `AnnealTrace` and this step's best chain.

    With ``step_best=False`` this step's best chain is not returned (None) and is extracted only
    when it improves on the best so far, which saves a pass over the chains on most steps.
    """
    walkers, count = state.walkers, state.count
    dtype = walkers.values.dtype
    values = _current_values(config, state, value_fn)
    keys = _kernel.split_keys(jax.random.wrap_key_data(walkers.rng_key, impl=config.key_impl))
    width = _step_sizes.mean_width(config, state.best_params)
    step_size = _step_sizes.step_sizes(config, walkers.log_step_factor, count, dtype)
    context = Context(
        value_fn=value_fn,
        dtype=dtype,
        bounds=config.bounds,
        bounds_finite=config.bounds_finite,
        initial_step_size=_step_sizes.step_sizes(
            config, _step_sizes.initial_log_step_factor(config, width), count, dtype
        ),
        width=width,
        per_example=config.acceptance is not None,
    )
    ladder = _tempering.ladder(config.replica_exchange, dtype)
    measured = _Measured()
    chain_state, kernel_info = _kernel.step(
        config.move,
        keys,
        ChainState(walkers.chains, values),
        context,
        _chain_temperatures(config, state, ladder, measured),
        step_size,
        config.acceptance,
    )
    walkers, swap_rate = _tuned(
        config, state, chain_state, kernel_info, keys, width, ladder * measured.temperature
    )
    best_params, best_value, best_step, best_chain = _best(
        state, walkers.chains, walkers.values, step_best=step_best
    )
    num_accepted = jnp.sum(kernel_info.accepted, dtype=jnp.int32)
    evaluations = jnp.where(count == 0, 2, 2 if config.minibatch else 1) * config.num_chains
    new_state = MetropolisState(
        count=optax.safe_increment(count),
        walkers=walkers._replace(rng_key=jax.random.key_data(keys.next)),
        temperature_scale=measured.scale,
        swap_rate=swap_rate,
        best_params=best_params,
        best_value=best_value,
        best_step=best_step,
        info=StepInfo(
            temperature=measured.temperature,
            chain=ChainInfo(kernel_info.proposal.step_size, kernel_info.proposal.jumped),
            num_accepted=num_accepted,
            evaluations=evaluations.astype(jnp.int32),
        ),
    )
    acceptance = num_accepted.astype(dtype) / config.num_chains
    return new_state, AnnealTrace(best_value, acceptance, measured.temperature), best_chain


def _current_values(config: MetropolisConfig, state: MetropolisState, value_fn: ValueFn):
    """The chains' losses: cached, evaluated at the first step, or anew for a minibatch."""
    walkers = state.walkers
    dtype = walkers.values.dtype
    if config.acceptance is not None:
        values = _kernel.energies(value_fn, walkers.chains, dtype, per_example=True)
        config.acceptance.check_batch(values.shape[1:])
        return values
    if config.minibatch:
        return _kernel.energies(value_fn, walkers.chains, dtype)
    return jax.lax.cond(
        state.count == 0,
        lambda: _kernel.energies(value_fn, walkers.chains, dtype),
        lambda: walkers.values,
    )


def _chain_temperatures(config: MetropolisConfig, state: MetropolisState, ladder, measured):
    """Each chain's temperature from the losses before and after the proposals.

    With `auto_temperature`, the first step measures $T_0$ from them; under replica exchange
    each chain runs at its rung's multiple of the base temperature.
    """
    count = state.count

    def temperatures(current: jax.Array, proposed: jax.Array) -> jax.Array:
        scale = state.temperature_scale
        if isinstance(config.temperature, _temperature.AutoTemperature):
            scale = jax.lax.cond(
                count == 0,
                lambda: _temperature.initial_temperature(current, proposed),
                lambda: scale,
            )
        measured.scale = scale
        measured.temperature = _temperature.base_temperature(
            config.temperature, scale, count, current.dtype
        )
        if config.replica_exchange is None:
            return jnp.broadcast_to(measured.temperature, current.shape)
        return measured.temperature * ladder[state.walkers.rung]

    return temperatures


def _tuned(config, state, chain_state, kernel_info, keys, width, rung_temperatures):
    """The walkers after the step's adaptation, acceptance statistics and replica exchange."""
    walkers, count = state.walkers, state.count
    dtype = walkers.values.dtype
    accepted, proposal = kernel_info.accepted, kernel_info.proposal
    log_step_factor = walkers.log_step_factor
    if config.adaptation is not None:
        log_step_factor = config.adaptation.update(
            log_step_factor,
            accepted,
            ~proposal.jumped & ~proposal.held,
            count,
            _step_sizes.max_log_step_factor(config, width, count, dtype),
        )
    window = jnp.minimum(count + 1, jnp.asarray(config.acceptance_window, jnp.int32))
    acceptance_rate = walkers.acceptance_rate + (
        accepted.astype(dtype) - walkers.acceptance_rate
    ) / window.astype(dtype)
    rung, swap_rate = walkers.rung, state.swap_rate
    if config.replica_exchange is not None:
        rung, swap_rate, (log_step_factor, acceptance_rate) = _tempering.swap_round(
            config.replica_exchange,
            config.acceptance_window,
            count,
            rung,
            swap_rate,
            chain_state.values,
            1 / rung_temperatures,
            jnp.log(_kernel.uniforms(keys.swap, dtype)),
            (log_step_factor, acceptance_rate),
        )
    walkers = Walkers(
        rng_key=walkers.rng_key,
        chains=chain_state.chains,
        values=chain_state.values,
        log_step_factor=log_step_factor,
        acceptance_rate=acceptance_rate,
        rung=rung,
    )
    return walkers, swap_rate


def _best(state: MetropolisState, chains, values, *, step_best: bool):
    """The best point so far after a step: params, value, step, and this step's best chain."""
    step_min = jnp.min(values)
    improved = step_min < state.best_value
    best_value = jnp.where(improved, step_min, state.best_value)
    if step_best:
        best_chain = select_chain(chains, jnp.argmin(values))
        best_params = jax.tree.map(
            lambda new, old: jnp.where(improved, new, old), best_chain, state.best_params
        )
    else:
        best_chain = None
        best_params = jax.lax.cond(
            improved,
            lambda: select_chain(chains, jnp.argmin(values)),
            lambda: state.best_params,
        )
    best_step = jnp.where(improved, optax.safe_increment(state.count), state.best_step)
    return best_params, best_value, best_step, best_chain


def select_chain(chains: optax.Params, index: jax.Array) -> optax.Params:
    """Chain ``index`` as a masked sum over the chain axis.

    Indexing would make XLA gather every chain onto each device when the chains are sharded;
    the masked sum reduces each shard locally and exchanges one chain's worth of data.
    """

    def select(leaf: jax.Array) -> jax.Array:
        mask = _kernel.expand(jnp.arange(leaf.shape[0]) == index, leaf)
        return jnp.sum(jnp.where(mask, leaf, jnp.zeros((), leaf.dtype)), axis=0, dtype=leaf.dtype)

    return jax.tree.map(select, chains)
