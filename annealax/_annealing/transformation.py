"""`metropolis`: the kernel and its parts assembled into an Optax transformation."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from annealax._annealing import bounds as _bounds
from annealax._annealing import step_sizes as _step_sizes
from annealax._annealing import temperature as _temperature
from annealax._annealing import tempering as _tempering
from annealax._annealing.adaptation import AdaptStepSize, adapt_step_size
from annealax._annealing.barker import MinibatchBarker
from annealax._annealing.config import MetropolisConfig, checked_value_fn, configure
from annealax._annealing.kernel import ValueFn
from annealax._annealing.state import ChainInfo, MetropolisState, StepInfo, Walkers
from annealax._annealing.step import step
from annealax._annealing.tempering import ReplicaExchange
from annealax._temperature import accumulation_dtype

DEFAULT_ADAPTATION = adapt_step_size()
"""The default of ``adaptation``: towards an acceptance rate of 0.234."""


def metropolis(
    num_chains: int,
    *,
    key: jax.Array | int,
    temperature: Any = 1.0,
    step_size: optax.ScalarOrSchedule | str = 0.1,
    proposal: Any = "gaussian",
    bounds: tuple[Any, Any] | None = None,
    adaptation: AdaptStepSize | None = DEFAULT_ADAPTATION,
    replica_exchange: ReplicaExchange | None = None,
    minibatch: bool | MinibatchBarker = False,
    per_chain_init: bool = False,
    acceptance_window: int = 100,
) -> optax.GradientTransformationExtraArgs:
    r"""Simulated annealing by the Metropolis rule, with ``num_chains`` chains in parallel.

    Each step moves every chain $x$ to a proposal $x'$ (a random walk $x + \sigma \xi$ with
    step size $\sigma$ by default, reflected into ``bounds``), evaluates the loss $E$ and accepts
    with probability

    $$
    p = \min\left(1, \exp\left(-\frac{E(x') - E(x)}{T_t}\right)\right),
    $$

    tested in log space as $\log u \, T_t < -(E(x') - E(x))$ with $u \sim U[0, 1)$, so that
    nothing overflows and $T_t = 0$ accepts downhill moves only. A proposal whose loss is NaN or
    infinite is never accepted. At a fixed temperature the chains sample the Boltzmann
    distribution $\propto \exp(-E / T)$; lowering $T_t$ (a schedule) anneals them towards minima.
    Each chain has its own key.

    The parts, each an option:

    * ``proposal``: how chains move: a per-chain random walk (`random_walk`, or a name), a
      callable of your own, a mixture with `jumps`, or a move of the whole population
      (`population_move`, `differential_evolution`).
    * ``adaptation``: each chain's $\sigma$ is the ``step_size`` times a factor adapted
      towards an acceptance rate (`adapt_step_size`, the default); None for fixed step sizes.
    * ``temperature``: a constant, a schedule, or `auto_temperature` (measured at the first
      step, then cooled).
    * ``step_size="auto"``: $\sigma$ starts at a tenth of the mean width of ``bounds`` (or at 0.1
      without bounds) and adapts; with ``bounds``, the adapted $\sigma$ never exceeds the mean
      width of the box.
    * ``replica_exchange``: a ladder of temperatures that chains swap.

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

    On a minibatch the loss difference of a proposal is noisy, and the Metropolis test on it
    accepts uphill moves that look downhill on the batch: the chains sample a broader law than
    the full-data $\exp(-E / T)$, and once the noise exceeds $T$ the temperature no longer
    governs them. ``minibatch=annealax.minibatch_barker(num_examples)`` takes per-example losses
    from ``value_fn`` instead and accepts by a test that corrects for that noise, so that the
    chains sample (approximately) the Boltzmann law of the full-data mean loss.

    Args:
        num_chains: The number of chains, >= 1.
        key: An int seed, a typed `jax.random.key` or a legacy uint32 key; split into one key
            per chain.
        temperature: $T_t$: a float > 0, an `optax.Schedule` of the step count (a cooling
            schedule such as `geometric_temperature`) or an `auto_temperature`.
        step_size: $\sigma$: a float > 0, an `optax.Schedule` or ``"auto"``.
        proposal: ``"gaussian"``, ``"cauchy"``, a `random_walk`, a symmetric move
            ``(key, params, step_size) -> params`` for one chain, `jumps` of one of these, or
            a `population_move` or `differential_evolution`.
        bounds: ``(lower, upper)``, scalars, arrays or pytrees like the params, finite or
            infinite; proposals are reflected into the box at its finite walls.
        adaptation: An `adapt_step_size`, or None for fixed step sizes.
        replica_exchange: A `replica_exchange` ladder, or None.
        minibatch: Re-evaluate the current chains at every step (True, see above), or a
            `minibatch_barker` test: a ``value_fn`` of per-example losses, a test that
            corrects for the noise of the batch.
        per_chain_init: Take the leading axis of every leaf of the params given to ``init`` as
            the chain axis (of size ``num_chains``): chain $i$ starts at ``params[i]``. Without
            it, every chain starts at the params. ``update`` then takes either one chain's
            params or all of them, and its updates move each to the best chain.
        acceptance_window: The number of recent steps over which ``acceptance_rate`` and
            ``swap_rate`` average.

    Returns:
        An `optax.GradientTransformationExtraArgs` whose state is a `MetropolisState`.

    Raises:
        ValueError: For a bad setting, named with its value; at ``init``, for params that do
            not fit the bounds, the proposal or ``per_chain_init``; at ``update``, for a
            missing or non-callable ``value_fn``.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import annealax
        >>> def loss(x):
        ...     return jnp.sum((x - 2.0) ** 2)
        >>> tx = annealax.metropolis(
        ...     64, key=0, temperature=annealax.auto_temperature(num_steps=200)
        ... )
        >>> @jax.jit
        ... def train_step(params, state):
        ...     updates, state = tx.update(None, state, params, value_fn=loss)
        ...     return optax.apply_updates(params, updates), state
        >>> params = jnp.zeros(3)
        >>> state = tx.init(params)
        >>> for _ in range(200):
        ...     params, state = train_step(params, state)
        >>> bool(loss(params) < 0.05), bool(state.best_value <= loss(params) + 1e-6)
        (True, True)
    """
    config, typed_key = configure(
        num_chains,
        key=key,
        temperature=temperature,
        step_size=step_size,
        proposal=proposal,
        bounds=bounds,
        adaptation=adaptation,
        replica_exchange=replica_exchange,
        minibatch=minibatch,
        per_chain_init=per_chain_init,
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
        new_updates = jax.tree.map(
            lambda best, p: (jnp.broadcast_to(best, jnp.shape(p)) - p).astype(p.dtype),
            step_best,
            params,
        )
        return new_updates, state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def initial_chains(config: MetropolisConfig, params: optax.Params) -> tuple[Any, Any]:
    """The chains at the start (leading chain axis) and one chain's point, checked."""
    params = jax.tree.map(jnp.asarray, params)
    num_chains = config.num_chains
    if config.per_chain_init:
        for leaf in jax.tree.leaves(params):
            if leaf.ndim == 0 or leaf.shape[0] != num_chains:
                size = "a scalar" if leaf.ndim == 0 else f"a leading axis of size {leaf.shape[0]}"
                raise ValueError(
                    f"`per_chain_init=True` takes the leading axis of every params leaf as the "
                    f"chain axis, of size `num_chains`={num_chains}, got a leaf with {size}"
                )
        chains, point = params, jax.tree.map(lambda leaf: leaf[0], params)
    else:
        chains = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_chains, *x.shape)), params)
        point = params
    config.move.check_params(point)
    _bounds.check_bounds_match(point, config.bounds)
    return chains, point


def init_state(config: MetropolisConfig, key: jax.Array, params: optax.Params) -> MetropolisState:
    """The state before the first step."""
    chains, point = initial_chains(config, params)
    dtype = accumulation_dtype(point)
    num_chains = config.num_chains
    count = jnp.zeros([], jnp.int32)
    initial_log_step_factor = _step_sizes.initial_log_step_factor(
        config, _step_sizes.mean_width(config, point)
    )
    log_step_factor = jnp.full((num_chains,), initial_log_step_factor, dtype)
    rung, swap_rate = _tempering.initial_state(config.replica_exchange, num_chains, dtype)
    scale = _temperature.initial_scale(config.temperature, dtype)
    no = jnp.zeros((num_chains,), bool)
    return MetropolisState(
        count=count,
        walkers=Walkers(
            rng_key=jax.random.key_data(jax.random.split(key, num_chains)),
            chains=chains,
            values=jnp.full((num_chains,), jnp.inf, dtype),
            log_step_factor=log_step_factor,
            acceptance_rate=jnp.zeros((num_chains,), dtype),
            rung=rung,
        ),
        temperature_scale=scale,
        swap_rate=swap_rate,
        best_params=point,
        best_value=jnp.asarray(jnp.inf, dtype),
        best_step=count,
        info=StepInfo(
            temperature=_temperature.base_temperature(config.temperature, scale, count, dtype),
            chain=ChainInfo(_step_sizes.step_sizes(config, log_step_factor, count, dtype), no),
            num_accepted=jnp.zeros([], jnp.int32),
            evaluations=jnp.zeros([], jnp.int32),
        ),
    )
