"""`metropolis`: the kernel and its parts assembled into an Optax transformation."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from annealax import _checks, _keys
from annealax._annealing import adaptation as _adaptation
from annealax._annealing import bounds as _bounds
from annealax._annealing import kernel as _kernel
from annealax._annealing import moves as _moves
from annealax._annealing import temperature as _temperature
from annealax._annealing import tempering as _tempering
from annealax._annealing.adaptation import AdaptStepSize, adapt_step_size
from annealax._annealing.kernel import ChainState, Context, ValueFn
from annealax._annealing.state import AnnealTrace, ChainInfo, MetropolisState, StepInfo, Walkers
from annealax._annealing.tempering import ReplicaExchange
from annealax._temperature import accumulation_dtype

AUTO_STEP_FRACTION = 0.1
"""``step_size="auto"`` starts at this fraction of the mean width of the bounds (or at 0.1)."""

DEFAULT_ADAPTATION = adapt_step_size()
"""The default of ``adaptation``: towards an acceptance rate of 0.234."""

DYNAMIC_SETTINGS = ("temperature", "step_size", "bounds")
"""The settings that are data of a compiled run when numeric (not constants of it)."""


@dataclasses.dataclass(frozen=True)
class MetropolisConfig:
    """The annealer's settings, checked: a pytree whose leaves are its numeric settings.

    The numeric temperature, step size and bounds are the leaves (arguments of a compiled run);
    everything else (schedules, moves, options) is static and keys the compilation cache.
    """

    num_chains: int
    key_impl: Any
    temperature: Any
    step_size: Any
    move: Any
    bounds: Any
    bounds_finite: bool
    adaptation: AdaptStepSize | None
    replica_exchange: ReplicaExchange | None
    minibatch: bool
    per_chain_init: bool
    acceptance_window: Any

    @property
    def num_temperatures(self) -> int:
        """The number of rungs of the replica-exchange ladder (1 without one)."""
        return 1 if self.replica_exchange is None else self.replica_exchange.num_temperatures


def _flatten(config: MetropolisConfig):
    dynamic = tuple(
        value if _is_numeric(value) else None
        for value in (getattr(config, name) for name in DYNAMIC_SETTINGS)
    )
    held = {
        name: None
        for name, value in zip(DYNAMIC_SETTINGS, dynamic, strict=True)
        if value is not None
    }
    return dynamic, dataclasses.replace(config, **held)


def _unflatten(static: MetropolisConfig, dynamic) -> MetropolisConfig:
    given = {
        name: value
        for name, value in zip(DYNAMIC_SETTINGS, dynamic, strict=True)
        if value is not None
    }
    return dataclasses.replace(static, **given)


jax.tree_util.register_pytree_node(MetropolisConfig, _flatten, _unflatten)


def _is_numeric(value: Any) -> bool:
    return not (
        value is None or callable(value) or isinstance(value, str | _temperature.AutoTemperature)
    )


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
    minibatch: bool = False,
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
        minibatch: Re-evaluate the current chains at every step (see above).
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


def configure(
    num_chains: Any, *, key: Any, proposal: Any, **settings: Any
) -> tuple[MetropolisConfig, jax.Array]:
    """Check the settings of `metropolis`; return them gathered, and ``key`` as a typed key."""
    typed_key = _keys.as_typed_key(key)
    num_chains = _checks.check_positive_int("num_chains", num_chains)
    _temperature.check_temperature(settings["temperature"])
    step_size = settings["step_size"]
    if not (isinstance(step_size, str) and step_size == "auto"):
        _temperature.check_positive_or_schedule("step_size", step_size, '"auto"')
    bounds = _bounds.check_bounds(settings["bounds"])
    adaptation = settings["adaptation"]
    if adaptation is not None and not isinstance(adaptation, AdaptStepSize):
        raise ValueError(
            f"`adaptation` must be annealax.adapt_step_size(...) or None, got {adaptation!r}"
        )
    replica_exchange = settings["replica_exchange"]
    if replica_exchange is not None:
        if not isinstance(replica_exchange, ReplicaExchange):
            raise ValueError(
                "`replica_exchange` must be annealax.replica_exchange(...) or None, got "
                f"{replica_exchange!r}"
            )
        if num_chains % replica_exchange.num_temperatures:
            raise ValueError(
                "`num_chains` must be a multiple of the ladder's "
                f"{replica_exchange.num_temperatures} temperatures, got {num_chains!r}"
            )
    for name in ("minibatch", "per_chain_init"):
        if not isinstance(settings[name], bool):
            raise ValueError(f"`{name}` must be True or False, got {settings[name]!r}")
    window = settings["acceptance_window"]
    if not isinstance(window, jax.core.Tracer):  # traced by optax.inject_hyperparams
        window = _checks.check_positive_int("acceptance_window", window)
    move = _moves.resolve(proposal)
    min_chains = getattr(move, "min_chains", 1)
    if num_chains < min_chains:
        raise ValueError(f"`num_chains` must be >= {min_chains} for {proposal!r}, got {num_chains}")
    config = MetropolisConfig(
        num_chains=num_chains,
        key_impl=jax.random.key_impl(typed_key),
        temperature=settings["temperature"],
        step_size=step_size,
        move=move,
        bounds=bounds,
        bounds_finite=_bounds.all_finite(bounds),
        adaptation=adaptation,
        replica_exchange=replica_exchange,
        minibatch=settings["minibatch"],
        per_chain_init=settings["per_chain_init"],
        acceptance_window=window,
    )
    return config, typed_key


def checked_value_fn(value_fn: Any) -> ValueFn:
    """``value_fn``, or a ValueError if it is missing or not callable."""
    if value_fn is None:
        raise ValueError(
            "`value_fn` is required: call update(updates, state, params, value_fn=loss), with "
            "loss(params) returning a scalar"
        )
    if not callable(value_fn):
        raise ValueError(f"`value_fn` must be callable, got {value_fn!r}")
    return value_fn


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
    initial_log_step_factor = _initial_log_step_factor(config, _mean_width(config, point))
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
            chain=ChainInfo(_step_sizes(config, log_step_factor, count, dtype), no),
            num_accepted=jnp.zeros([], jnp.int32),
            evaluations=jnp.zeros([], jnp.int32),
        ),
    )


class _Measured:
    """The temperatures of a step, set by the kernel once the proposals are scored."""

    scale: Any
    temperature: Any


def step(
    config: MetropolisConfig, state: MetropolisState, value_fn: ValueFn, *, step_best: bool = True
):
    """One step of every chain; returns the state, its `AnnealTrace` and this step's best chain.

    With ``step_best=False`` this step's best chain is not returned (None) and is extracted only
    when it improves on the best so far, which saves a pass over the chains on most steps.
    """
    walkers = state.walkers
    dtype = walkers.values.dtype
    count = state.count
    if config.minibatch:
        values = _kernel.energies(value_fn, walkers.chains, dtype)
    else:
        values = jax.lax.cond(
            count == 0,
            lambda: _kernel.energies(value_fn, walkers.chains, dtype),
            lambda: walkers.values,
        )
    keys = _kernel.split_keys(jax.random.wrap_key_data(walkers.rng_key, impl=config.key_impl))
    width = _mean_width(config, state.best_params)
    step_size = _step_sizes(config, walkers.log_step_factor, count, dtype)
    context = Context(
        value_fn=value_fn,
        dtype=dtype,
        bounds=config.bounds,
        bounds_finite=config.bounds_finite,
        initial_step_size=_step_sizes(
            config, _initial_log_step_factor(config, width), count, dtype
        ),
        width=width,
    )
    ladder = _tempering.ladder(config.replica_exchange, dtype)
    measured = _Measured()

    def chain_temperatures(current: jax.Array, proposed: jax.Array) -> jax.Array:
        scale = state.temperature_scale
        if isinstance(config.temperature, _temperature.AutoTemperature):
            scale = jax.lax.cond(
                count == 0,
                lambda: _temperature.initial_temperature(current, proposed),
                lambda: scale,
            )
        measured.scale = scale
        measured.temperature = _temperature.base_temperature(
            config.temperature, scale, count, dtype
        )
        if config.replica_exchange is None:
            return jnp.broadcast_to(measured.temperature, current.shape)
        return measured.temperature * ladder[walkers.rung]

    chain_state, kernel_info = _kernel.step(
        config.move,
        keys,
        ChainState(walkers.chains, values),
        context,
        chain_temperatures,
        step_size,
    )
    temperature = measured.temperature
    proposal, accepted = kernel_info.proposal, kernel_info.accepted
    chains, values = chain_state.chains, chain_state.values
    log_step_factor = walkers.log_step_factor
    if config.adaptation is not None:
        log_step_factor = config.adaptation.update(
            log_step_factor,
            accepted,
            ~proposal.jumped & ~proposal.held,
            count,
            _max_log_step_factor(config, width, count, dtype),
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
            values,
            1 / (temperature * ladder),
            jnp.log(_kernel.uniforms(keys.swap, dtype)),
            (log_step_factor, acceptance_rate),
        )
    best_params, best_value, best_step, best_chain = _best(
        state, chains, values, step_best=step_best
    )
    per_step = 2 if config.minibatch else 1
    evaluations = jnp.where(count == 0, 2, per_step) * config.num_chains
    new_state = MetropolisState(
        count=optax.safe_increment(count),
        walkers=Walkers(
            rng_key=jax.random.key_data(keys.next),
            chains=chains,
            values=values,
            log_step_factor=log_step_factor,
            acceptance_rate=acceptance_rate,
            rung=rung,
        ),
        temperature_scale=measured.scale,
        swap_rate=swap_rate,
        best_params=best_params,
        best_value=best_value,
        best_step=best_step,
        info=StepInfo(
            temperature=temperature,
            chain=ChainInfo(proposal.step_size, proposal.jumped),
            num_accepted=jnp.sum(accepted, dtype=jnp.int32),
            evaluations=evaluations.astype(jnp.int32),
        ),
    )
    num_accepted = new_state.info.num_accepted
    trace = AnnealTrace(best_value, num_accepted.astype(dtype) / config.num_chains, temperature)
    return new_state, trace, best_chain


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


def _step_sizes(
    config: MetropolisConfig, log_step_factor: jax.Array, count: jax.Array, dtype: Any
) -> jax.Array:
    base = 1 if _is_auto(config.step_size) else _temperature.scalar(config.step_size, count, dtype)
    return base * jnp.exp(jnp.asarray(log_step_factor).astype(dtype))


def _mean_width(config: MetropolisConfig, like: optax.Params) -> jax.Array | None:
    """The mean width of the box's finite sides over ``like``; NaN if none, None without bounds."""
    if config.bounds is None:
        return None
    return _bounds.mean_width(like, config.bounds, finite=config.bounds_finite)


def _initial_log_step_factor(config: MetropolisConfig, width: jax.Array | None) -> jax.Array:
    """The logarithm of the step-size factor at the start: 0, or that of ``step_size="auto"``."""
    if not _is_auto(config.step_size):
        return jnp.zeros([])
    unbounded = jnp.log(jnp.asarray(AUTO_STEP_FRACTION, jnp.float32))
    if width is None:
        return unbounded
    if config.bounds_finite:
        return jnp.log(AUTO_STEP_FRACTION * width)
    return jnp.where(jnp.isfinite(width), jnp.log(AUTO_STEP_FRACTION * width), unbounded)


def _max_log_step_factor(
    config: MetropolisConfig, width: jax.Array | None, count: jax.Array, dtype: Any
) -> jax.Array | float:
    """The largest useful factor: the one that makes the step size the mean width of the box."""
    if width is None:
        return _adaptation.MAX_LOG_STEP_FACTOR
    base = 1 if _is_auto(config.step_size) else _temperature.scalar(config.step_size, count, dtype)
    capped = jnp.log(width.astype(dtype) / base)
    if config.bounds_finite:
        return capped
    return jnp.where(jnp.isfinite(capped), capped, _adaptation.MAX_LOG_STEP_FACTOR)


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


def select_chain(chains: optax.Params, index: jax.Array) -> optax.Params:
    """Chain ``index`` as a masked sum over the chain axis.

    Indexing would make XLA gather every chain onto each device when the chains are sharded;
    the masked sum reduces each shard locally and exchanges one chain's worth of data.
    """

    def select(leaf: jax.Array) -> jax.Array:
        mask = _kernel.expand(jnp.arange(leaf.shape[0]) == index, leaf)
        return jnp.sum(jnp.where(mask, leaf, jnp.zeros((), leaf.dtype)), axis=0, dtype=leaf.dtype)

    return jax.tree.map(select, chains)
