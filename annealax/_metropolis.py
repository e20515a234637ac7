"""Simulated annealing by the Metropolis rule: many chains in parallel, an Optax transformation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from annealax import _checks, _keys, _proposals
from annealax._temperature import accumulation_dtype

ValueFn = Callable[[optax.Params], jax.Array]


class MetropolisState(NamedTuple):
    """State of `metropolis`: plain arrays, every per-chain field with a leading chain axis.

    Attributes:
        count: Number of steps done so far (int32, saturating).
        rng_key: One key per chain, as key data (`jax.random.key_data`), shape
            ``(num_chains, ...)``.
        chains: The chains: the params pytree with a leading axis of size ``num_chains``.
        values: Each chain's loss, shape ``(num_chains,)`` (``+inf`` before the first step, and
            for a chain whose starting loss is NaN or infinite).
        temperature: The temperature of the last step.
        step_size: Each chain's proposal scale in the last step, shape ``(num_chains,)``.
        acceptance_rate: Each chain's fraction of accepted proposals over the recent steps
            (a running mean over the last ``acceptance_window`` steps), shape ``(num_chains,)``.
        best_params: The lowest-loss point seen so far, over all chains and steps.
        best_value: Its loss.
    """

    count: jax.Array
    rng_key: jax.Array
    chains: optax.Params
    values: jax.Array
    temperature: jax.Array
    step_size: jax.Array
    acceptance_rate: jax.Array
    best_params: optax.Params
    best_value: jax.Array


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


@dataclasses.dataclass(frozen=True)
class MetropolisConfig:
    """The static settings of the annealer (hashable: it keys the compilation cache)."""

    num_chains: int
    key_impl: Any
    temperature: optax.ScalarOrSchedule
    step_size: optax.ScalarOrSchedule
    proposal: _proposals.Proposal
    bounds: Any
    minibatch: bool
    acceptance_window: int


def metropolis(
    num_chains: int,
    *,
    key: jax.Array | int,
    temperature: optax.ScalarOrSchedule = 1.0,
    step_size: optax.ScalarOrSchedule = 0.1,
    proposal: str | _proposals.Proposal = "gaussian",
    bounds: tuple[Any, Any] | None = None,
    minibatch: bool = False,
    acceptance_window: int = 100,
) -> optax.GradientTransformationExtraArgs:
    r"""Simulated annealing by the Metropolis rule, with ``num_chains`` chains in parallel.

    Each step moves every chain $x$ to a proposal $x' = x + \sigma \xi$ (``step_size``
    $\sigma$, noise $\xi$ of the chosen ``proposal``, reflected into ``bounds``), evaluates the
    loss $E$ and accepts with probability

    $$
    p = \min\left(1, \exp\left(-\frac{E(x') - E(x)}{T_t}\right)\right),
    $$

    tested in log space as $\log u \, T_t < -(E(x') - E(x))$ with $u \sim U[0, 1)$, so that
    nothing overflows and $T_t = 0$ accepts downhill moves only. A proposal whose loss is NaN or
    infinite is never accepted. At a fixed temperature the chains sample the Boltzmann
    distribution $\propto \exp(-E / T)$; lowering $T_t$ (a schedule) anneals them towards minima.
    The chains move independently, each with its own key, through `jax.vmap`.

    The update needs the extra argument ``value_fn``, the scalar loss of one params pytree:
    ``tx.update(grads, state, params, value_fn=loss)``; the incoming gradients are ignored and
    may be None. The returned updates move ``params`` to the lowest-loss chain of this step, so
    `optax.apply_updates` gives the current best chain. The best point over all steps is kept in
    ``optax.tree.get(state, "best_params")``.

    Energies are cached: a step costs one loss evaluation per chain. With ``minibatch=True``
    (a ``value_fn`` that changes between steps, such as a closure over the current batch) the
    current chains are re-evaluated on the same ``value_fn`` as the proposals, so that the
    acceptance test compares like with like: two evaluations per chain. Otherwise the first step
    evaluates the starting point once; its loss, if NaN or infinite, counts as ``+inf``, which
    any finite proposal replaces.

    Args:
        num_chains: The number of chains, >= 1.
        key: An int seed, a typed `jax.random.key` or a legacy uint32 key; split into one key
            per chain.
        temperature: $T_t$, a float > 0 or an `optax.Schedule` of the step count (any optax
            schedule, such as ``optax.exponential_decay``, is a cooling schedule).
        step_size: $\sigma$, a float > 0 or an `optax.Schedule`.
        proposal: ``"gaussian"``, ``"cauchy"`` or a symmetric move
            ``(key, params, step_size) -> params`` for one chain.
        bounds: ``(lower, upper)``, scalars or pytrees like the params; proposals are reflected
            into the box.
        minibatch: Re-evaluate the current chains at every step (see above).
        acceptance_window: The number of recent steps over which ``acceptance_rate`` averages.

    Returns:
        An `optax.GradientTransformationExtraArgs` whose state is a `MetropolisState`.

    Raises:
        ValueError: For a bad ``num_chains``, ``key``, constant ``temperature`` or ``step_size``
            <= 0, an unknown ``proposal`` or ``bounds`` with lower >= upper; at update, for a
            missing or non-callable ``value_fn``.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import annealax
        >>> def loss(x):
        ...     return jnp.sum((x - 2.0) ** 2)
        >>> tx = annealax.metropolis(
        ...     64, key=0, temperature=optax.exponential_decay(1.0, 200, 1e-3), step_size=0.3
        ... )
        >>> @jax.jit
        ... def train_step(params, state):
        ...     updates, state = tx.update(None, state, params, value_fn=loss)
        ...     return optax.apply_updates(params, updates), state
        >>> params = jnp.zeros(3)
        >>> state = tx.init(params)
        >>> for _ in range(200):
        ...     params, state = train_step(params, state)
        >>> bool(loss(params) < 0.05), bool(state.best_value <= loss(params))
        (True, True)
    """
    config, typed_key = configure(
        num_chains,
        key=key,
        temperature=temperature,
        step_size=step_size,
        proposal=proposal,
        bounds=bounds,
        minibatch=minibatch,
        acceptance_window=acceptance_window,
    )

    def init_fn(params: optax.Params) -> MetropolisState:
        return init_state(config, typed_key, params)

    def update_fn(
        updates: optax.Updates,
        state: MetropolisState,
        params: optax.Params | None = None,
        *,
        value_fn: ValueFn | None = None,
        **extra_args: Any,
    ) -> tuple[optax.Updates, MetropolisState]:
        del updates, extra_args
        if params is None:
            raise ValueError("`params` is required: the updates move params to the best chain")
        state, _, step_best = step(config, state, checked_value_fn(value_fn))
        new_updates = jax.tree.map(lambda best, p: (best - p).astype(p.dtype), step_best, params)
        return new_updates, state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def configure(
    num_chains: int,
    *,
    key: Any,
    temperature: optax.ScalarOrSchedule,
    step_size: optax.ScalarOrSchedule,
    proposal: str | _proposals.Proposal,
    bounds: tuple[Any, Any] | None,
    minibatch: bool,
    acceptance_window: int,
) -> tuple[MetropolisConfig, jax.Array]:
    """Check the settings; return them gathered, and ``key`` as a typed key."""
    typed_key = _keys.as_typed_key(key)
    if isinstance(num_chains, bool) or not isinstance(num_chains, int) or num_chains < 1:
        raise ValueError(f"`num_chains` must be a positive int, got {num_chains!r}")
    check_positive_or_schedule("temperature", temperature)
    check_positive_or_schedule("step_size", step_size)
    _proposals.check_bounds(bounds)
    if isinstance(acceptance_window, bool) or (
        _checks.is_python_number(acceptance_window)
        and not (acceptance_window >= 1 and acceptance_window == int(acceptance_window))
    ):
        raise ValueError(f"`acceptance_window` must be a positive int, got {acceptance_window!r}")
    config = MetropolisConfig(
        num_chains=num_chains,
        key_impl=jax.random.key_impl(typed_key),
        temperature=temperature,
        step_size=step_size,
        proposal=_proposals.resolve(proposal),
        bounds=None if bounds is None else tuple(bounds),
        minibatch=bool(minibatch),
        acceptance_window=acceptance_window,
    )
    return config, typed_key


def check_positive_or_schedule(name: str, value: Any) -> None:
    if callable(value):
        return
    if isinstance(value, bool) or (_checks.is_python_number(value) and not value > 0):
        raise ValueError(f"`{name}` must be > 0 or an optax.Schedule, got {value!r}")


def checked_value_fn(value_fn: Any) -> ValueFn:
    if value_fn is None:
        raise ValueError(
            "`value_fn` is required: call update(updates, state, params, value_fn=loss), with "
            "loss(params) returning a scalar"
        )
    if not callable(value_fn):
        raise ValueError(f"`value_fn` must be callable, got {value_fn!r}")
    return value_fn


def init_state(config: MetropolisConfig, key: jax.Array, params: optax.Params) -> MetropolisState:
    dtype = accumulation_dtype(params)
    chain_keys = jax.random.split(key, config.num_chains)
    count = jnp.zeros([], jnp.int32)
    chains = jax.tree.map(
        lambda x: jnp.broadcast_to(jnp.asarray(x), (config.num_chains, *jnp.shape(x))), params
    )
    return MetropolisState(
        count=count,
        rng_key=jax.random.key_data(chain_keys),
        chains=chains,
        values=jnp.full((config.num_chains,), jnp.inf, dtype),
        temperature=_scalar(config.temperature, count, dtype),
        step_size=jnp.full((config.num_chains,), _scalar(config.step_size, count, dtype)),
        acceptance_rate=jnp.zeros((config.num_chains,), dtype),
        best_params=jax.tree.map(jnp.asarray, params),
        best_value=jnp.asarray(jnp.inf, dtype),
    )


def step(
    config: MetropolisConfig, state: MetropolisState, value_fn: ValueFn, *, step_best: bool = True
) -> tuple[MetropolisState, AnnealTrace, optax.Params | None]:
    """One Metropolis step of every chain; returns the state, its info and this step's best chain.

    With ``step_best=False`` this step's best chain is not returned (None) and is extracted only
    when it improves on the best so far, which saves a pass over the chains on most steps.
    """
    dtype = state.values.dtype
    evaluate = jax.vmap(lambda params: _energy(value_fn, params, dtype))
    if config.minibatch:
        values = evaluate(state.chains)
    else:
        values = jax.lax.cond(
            state.count == 0, lambda: evaluate(state.chains), lambda: state.values
        )
    temperature = _scalar(config.temperature, state.count, dtype)
    step_size = jnp.broadcast_to(_scalar(config.step_size, state.count, dtype), values.shape)

    keys = jax.random.wrap_key_data(state.rng_key, impl=config.key_impl)
    split_keys = jax.vmap(lambda k: jax.random.split(k, 3))(keys)
    next_keys, proposal_keys, accept_keys = (split_keys[:, i] for i in range(3))
    proposals = jax.vmap(config.proposal)(proposal_keys, state.chains, step_size)
    if config.bounds is not None:
        proposals = jax.vmap(lambda p: _proposals.reflect(p, config.bounds))(proposals)
    proposal_values = evaluate(proposals)
    log_u = jnp.log(jax.vmap(lambda k: jax.random.uniform(k, dtype=dtype))(accept_keys))
    accepted = accept(values, proposal_values, temperature, log_u)

    chains = jax.tree.map(
        lambda new, old: jnp.where(_expand(accepted, new), new, old), proposals, state.chains
    )
    values = jnp.where(accepted, proposal_values, values)
    window = jnp.minimum(state.count + 1, jnp.asarray(config.acceptance_window, jnp.int32))
    window = window.astype(dtype)
    acceptance_rate = (
        state.acceptance_rate + (accepted.astype(dtype) - state.acceptance_rate) / window
    )

    step_min = jnp.min(values)
    improved = step_min < state.best_value
    best_value = jnp.where(improved, step_min, state.best_value)
    if step_best:
        best_chain = _select_chain(chains, jnp.argmin(values))
        best_params = jax.tree.map(
            lambda new, old: jnp.where(improved, new, old), best_chain, state.best_params
        )
    else:
        best_chain = None
        best_params = jax.lax.cond(
            improved,
            lambda: _select_chain(chains, jnp.argmin(values)),
            lambda: state.best_params,
        )
    new_state = MetropolisState(
        count=optax.safe_increment(state.count),
        rng_key=jax.random.key_data(next_keys),
        chains=chains,
        values=values,
        temperature=temperature,
        step_size=step_size,
        acceptance_rate=acceptance_rate,
        best_params=best_params,
        best_value=best_value,
    )
    num_accepted = jnp.sum(accepted.astype(jnp.int32))
    info = AnnealTrace(best_value, num_accepted.astype(dtype) / config.num_chains, temperature)
    return new_state, info, best_chain


def accept(
    current: jax.Array, proposed: jax.Array, temperature: jax.Array, log_u: jax.Array
) -> jax.Array:
    r"""The Metropolis test $u < \exp(-\Delta E / T)$, as $\log u \cdot T < -\Delta E$.

    Downhill and level moves are always accepted; a NaN or infinite proposal never is.
    """
    delta = proposed - current
    return jnp.isfinite(proposed) & ((delta <= 0) | (log_u * temperature < -delta))


def _energy(value_fn: ValueFn, params: optax.Params, dtype: jnp.dtype) -> jax.Array:
    value = jnp.asarray(value_fn(params))
    if value.shape != ():
        raise ValueError(f"`value_fn` must return a scalar loss, got shape {value.shape}")
    value = value.astype(dtype)
    return jnp.where(jnp.isfinite(value), value, jnp.inf)


def _scalar(value: optax.ScalarOrSchedule, count: jax.Array, dtype: jnp.dtype) -> jax.Array:
    value = value(count) if callable(value) else value
    return jnp.asarray(value).astype(dtype)


def _select_chain(chains: optax.Params, index: jax.Array) -> optax.Params:
    """Chain ``index`` as a masked sum over the chain axis.

    Indexing would make XLA gather every chain onto each device when the chains are sharded;
    the masked sum reduces each shard locally and exchanges one chain's worth of data.
    """

    def select(leaf: jax.Array) -> jax.Array:
        mask = _expand(jnp.arange(leaf.shape[0]) == index, leaf)
        return jnp.sum(jnp.where(mask, leaf, jnp.zeros((), leaf.dtype)), axis=0, dtype=leaf.dtype)

    return jax.tree.map(select, chains)


def _expand(mask: jax.Array, like: jax.Array) -> jax.Array:
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))
