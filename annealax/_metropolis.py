"""Simulated annealing by the Metropolis rule: many chains in parallel, an Optax transformation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from annealax import _bounds, _checks, _keys, _proposals, _self_tuning, _tempering
from annealax._ranges import check_real
from annealax._schedules import geometric_temperature
from annealax._temperature import accumulation_dtype
from annealax._tempering import ReplicaExchange

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
        temperature: The base temperature $T_t$ of the last step (that of the coldest rung
            under replica exchange).
        temperature_scale: With ``temperature="auto"``, the measured initial temperature $T_0$
            (0 before the first step); 1 otherwise.
        step_size: Each chain's proposal scale in the last step, shape ``(num_chains,)``.
        log_step_factor: The logarithm of each chain's adapted factor on the step size.
        acceptance_rate: Each chain's recent fraction of accepted proposals, shape
            ``(num_chains,)``: the mean over the steps done for the first
            ``acceptance_window`` steps, then an exponential average that weighs each new
            step by ``1 / acceptance_window``.
        rung: Each chain's rung on the replica-exchange ladder (0, the coldest, without one).
        swap_rate: The fraction of accepted swaps of each pair of neighbouring rungs over the
            recent swap rounds, shape ``(num_temperatures - 1,)`` (a single 0 without a
            ladder).
        best_params: The lowest-loss point seen so far, over all chains and steps.
        best_value: Its loss.
        best_step: The number of steps done when it was found.
    """

    count: jax.Array
    rng_key: jax.Array
    chains: optax.Params
    values: jax.Array
    temperature: jax.Array
    temperature_scale: jax.Array
    step_size: jax.Array
    log_step_factor: jax.Array
    acceptance_rate: jax.Array
    rung: jax.Array
    swap_rate: jax.Array
    best_params: optax.Params
    best_value: jax.Array
    best_step: jax.Array


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
    temperature: optax.ScalarOrSchedule | str
    cooling: optax.Schedule | None
    step_size: optax.ScalarOrSchedule | str
    proposal: _proposals.Proposal
    bounds: Any
    minibatch: bool
    acceptance_window: int
    target_acceptance: float | None
    adaptation_rate: float
    adapt_steps: int | None
    jump_probability: float
    box_jump_share: float
    replica_exchange: ReplicaExchange | None
    per_chain_init: bool = False
    bounds_finite: bool = False

    @property
    def num_temperatures(self) -> int:
        return 1 if self.replica_exchange is None else self.replica_exchange.num_temperatures


KEY_USES = ("next", "proposal", "accept", "swap", "jump", "jump_length")
"""What each of the keys that a chain's key splits into at every step is for."""

AUTO_FINAL_TEMPERATURE_RATIO = 1e-8
"""With ``temperature="auto"`` and no ``cooling``, the run cools geometrically to this times T0."""

AUTO_STEP_FRACTION = 0.1
"""``step_size="auto"`` starts at this fraction of the mean width of the bounds (or at 0.1)."""

BOX_JUMP_WIDTHS = 10.0
"""A box-wide jump's step size, in mean widths of the bounds: reflection folds a Gaussian this
wide into a draw uniform over the box to within about exp(-490)."""


def metropolis(
    num_chains: int,
    *,
    key: jax.Array | int,
    temperature: optax.ScalarOrSchedule | str = 1.0,
    step_size: optax.ScalarOrSchedule | str = 0.1,
    proposal: str | _proposals.Proposal = "gaussian",
    bounds: tuple[Any, Any] | None = None,
    minibatch: bool = False,
    acceptance_window: int = 100,
    target_acceptance: float | None = 0.234,
    adaptation_rate: float = 0.05,
    adapt_steps: int | None = None,
    jump_probability: float = 0.0,
    box_jump_share: float = 0.25,
    cooling: optax.Schedule | None = None,
    num_steps: int | None = None,
    replica_exchange: ReplicaExchange | None = None,
    per_chain_init: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""Simulated annealing by the Metropolis rule, with ``num_chains`` chains in parallel.

    Each step moves every chain $x$ to a proposal $x' = x + \sigma \xi$ (step size
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

    Self-tuning, inside the compiled step:

    * Step sizes: each chain's $\sigma$ is the ``step_size`` times a factor $s$ adapted at
      every step, $\log s \mathrel{+}= \gamma (a_t - a^*)$ with $a_t$ whether the chain's move
      was accepted, $a^* =$ ``target_acceptance`` and $\gamma =$ ``adaptation_rate``. The
      acceptance rate of each chain settles at $a^*$ (0.234, the optimum of Roberts, Gelman and
      Gilks for random walks in many dimensions) as the temperature falls. Adaptation makes
      the chain inexact while it runs: ``adapt_steps`` stops it after that many steps, after
      which the chains are exact Metropolis samplers with the step sizes reached.
    * ``temperature="auto"``: the first step measures $T_0$ from the energy increases of its
      proposals (the median uphill move is accepted with probability 0.8), and the run cools
      as $T_t = T_0 \cdot \text{cooling}(t)$; the default ``cooling`` falls geometrically from
      1 to 1e-8 over ``num_steps``. Losses of any scale need no hand-picked temperature.
    * ``step_size="auto"``: $\sigma$ starts at a tenth of the mean width of ``bounds``
      (or at 0.1 without bounds) and adapts. With ``bounds``, the adapted $\sigma$ never exceeds
      the mean width of the box.
    * Jumps: as the temperature falls, the adapted step sizes shrink to the width of the basin
      a chain is in, and the chain can no longer reach another basin. With
      ``jump_probability`` $p$, each move is a jump with probability $p$: its step size is
      $\sigma_0 |C|$, with $\sigma_0$ the initial step size (``step_size`` without the adapted
      factor) and $C$ a standard Cauchy draw, so that half of the jumps are shorter than
      $\sigma_0$ and one in ten is more than $6.3\,\sigma_0$ long. With ``bounds``, a share
      ``box_jump_share`` of the jumps are box-wide instead: their step size is 10 mean widths
      of the box, which reflection folds into a uniform draw over the box of each coordinate
      moved, so that a basin anywhere in the box stays within reach. Every draw is
      independent of the chain's position, so the mixture of moves stays symmetric; the
      adaptation counts only the other moves.

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
            schedule such as `geometric_temperature`) or ``"auto"``.
        step_size: $\sigma$: a float > 0, an `optax.Schedule` or ``"auto"``.
        proposal: ``"gaussian"``, ``"cauchy"``, a `random_walk` (sparse and per-leaf moves)
            or a symmetric move ``(key, params, step_size) -> params`` for one chain.
        bounds: ``(lower, upper)``, scalars or pytrees like the params; proposals are reflected
            into the box.
        minibatch: Re-evaluate the current chains at every step (see above).
        acceptance_window: The number of recent steps over which ``acceptance_rate`` and
            ``swap_rate`` average.
        target_acceptance: $a^*$ in (0, 1), or None for fixed step sizes.
        adaptation_rate: $\gamma > 0$.
        adapt_steps: Stop adapting after this many steps (None: never).
        jump_probability: The probability, in [0, 1), that a chain's move is a jump, of a
            Cauchy-distributed length around the initial step size (see above).
        box_jump_share: With ``bounds``, the fraction, in [0, 1], of the jumps that are
            box-wide (see above); without bounds every jump has a Cauchy-distributed length.
        cooling: With ``temperature="auto"``, the schedule of $T_t / T_0$ (it should start at
            1); by default geometric from 1 to 1e-8 over ``num_steps``.
        num_steps: The length of the run, for the default ``cooling``.
        replica_exchange: A `replica_exchange` ladder, or None.
        per_chain_init: Take the leading axis of every leaf of the params given to ``init`` as
            the chain axis (of size ``num_chains``): chain $i$ starts at ``params[i]``. Without
            it, every chain starts at the params. ``update`` then takes either one chain's
            params or all of them, and its updates move each to the best chain.

    Returns:
        An `optax.GradientTransformationExtraArgs` whose state is a `MetropolisState`.

    Raises:
        ValueError: For a bad ``num_chains``, ``key``, constant ``temperature`` or ``step_size``
            <= 0, an unknown ``proposal``, ``bounds`` with lower >= upper, a bad adaptation
            setting, ``temperature="auto"`` without ``cooling`` or ``num_steps``, or a ladder
            whose size does not divide ``num_chains``; at update, for a missing or non-callable
            ``value_fn``.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import annealax
        >>> def loss(x):
        ...     return jnp.sum((x - 2.0) ** 2)
        >>> tx = annealax.metropolis(64, key=0, temperature="auto", num_steps=200)
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
        target_acceptance=target_acceptance,
        adaptation_rate=adaptation_rate,
        adapt_steps=adapt_steps,
        jump_probability=jump_probability,
        box_jump_share=box_jump_share,
        cooling=cooling,
        num_steps=num_steps,
        replica_exchange=replica_exchange,
        per_chain_init=per_chain_init,
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
    num_chains: int,
    *,
    key: Any,
    temperature: optax.ScalarOrSchedule | str = 1.0,
    step_size: optax.ScalarOrSchedule | str = 0.1,
    proposal: str | _proposals.Proposal = "gaussian",
    bounds: tuple[Any, Any] | None = None,
    minibatch: bool = False,
    acceptance_window: int = 100,
    target_acceptance: float | None = 0.234,
    adaptation_rate: float = 0.05,
    adapt_steps: int | None = None,
    jump_probability: float = 0.0,
    box_jump_share: float = 0.25,
    cooling: optax.Schedule | None = None,
    num_steps: int | None = None,
    replica_exchange: ReplicaExchange | None = None,
    per_chain_init: bool = False,
) -> tuple[MetropolisConfig, jax.Array]:
    """Check the settings; return them gathered, and ``key`` as a typed key."""
    typed_key = _keys.as_typed_key(key)
    num_chains = _checks.check_positive_int("num_chains", num_chains)
    check_positive_or_schedule("temperature", temperature, allow_auto=True)
    check_positive_or_schedule("step_size", step_size, allow_auto=True)
    bounds = _bounds.check_bounds(bounds)
    if not isinstance(acceptance_window, jax.core.Tracer):  # traced by inject_hyperparams
        acceptance_window = _checks.check_positive_int("acceptance_window", acceptance_window)
    if target_acceptance is not None:
        check_real(
            "target_acceptance",
            target_acceptance,
            lambda a: (a > 0) & (a < 1),
            "a float in (0, 1) or None",
        )
    check_real("adaptation_rate", adaptation_rate, lambda r: r > 0, "a float > 0")
    adapt_steps = _checks.check_optional_positive_int("adapt_steps", adapt_steps)
    check_real(
        "jump_probability", jump_probability, lambda p: (p >= 0) & (p < 1), "a float in [0, 1)"
    )
    check_real("box_jump_share", box_jump_share, lambda s: (s >= 0) & (s <= 1), "a float in [0, 1]")
    num_steps = _checks.check_optional_positive_int("num_steps", num_steps)
    if not isinstance(per_chain_init, bool):
        raise ValueError(f"`per_chain_init` must be True or False, got {per_chain_init!r}")
    if cooling is not None and not callable(cooling):
        raise ValueError(f"`cooling` must be an optax.Schedule or None, got {cooling!r}")
    if cooling is not None:
        check_positive_or_schedule("cooling", cooling)
    if temperature == "auto" and cooling is None:
        if num_steps is None:
            raise ValueError(
                '`temperature="auto"` needs `num_steps` (the length of the default geometric '
                "cooling) or a `cooling` schedule, got neither"
            )
        cooling = geometric_temperature(1.0, AUTO_FINAL_TEMPERATURE_RATIO, num_steps)
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
    config = MetropolisConfig(
        num_chains=num_chains,
        key_impl=jax.random.key_impl(typed_key),
        temperature=temperature,
        cooling=cooling if temperature == "auto" else None,
        step_size=step_size,
        proposal=_proposals.resolve(proposal),
        bounds=bounds,
        minibatch=bool(minibatch),
        acceptance_window=acceptance_window,
        target_acceptance=target_acceptance,
        adaptation_rate=adaptation_rate,
        adapt_steps=adapt_steps,
        jump_probability=jump_probability,
        box_jump_share=box_jump_share,
        replica_exchange=replica_exchange,
        per_chain_init=per_chain_init,
        bounds_finite=_bounds.all_finite(bounds),
    )
    return config, typed_key


def check_positive_or_schedule(name: str, value: Any, *, allow_auto: bool = False) -> None:
    """Raise for a value that is not finite and > 0, or a schedule's at step 0 not finite and >= 0.

    A schedule is called once at step 0, outside any trace; one that cannot be called so is
    not checked (`anneal` reports non-finite temperatures in its status).
    """
    if allow_auto and isinstance(value, str) and value == "auto":
        return
    allowed = ', an optax.Schedule or "auto"' if allow_auto else " or an optax.Schedule"
    if callable(value):
        try:
            start = jnp.asarray(value(0))
        except Exception:
            # A schedule that cannot run outside a trace: the run reports its values.
            return
        check_real(
            f"{name}(0)", start, lambda v: np.isfinite(v) & (v >= 0), "finite and >= 0 (a schedule)"
        )
        return
    check_real(name, value, lambda v: np.isfinite(v) & (v > 0), f"finite and > 0{allowed}")


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
    chains, point = initial_chains(config, params)
    dtype = accumulation_dtype(point)
    num_chains = config.num_chains
    chain_keys = jax.random.split(key, num_chains)
    count = jnp.zeros([], jnp.int32)
    initial_log_step_factor = _initial_log_step_factor(config, _mean_width(config, point))
    log_step_factor = jnp.full((num_chains,), initial_log_step_factor, dtype)
    state = MetropolisState(
        count=count,
        rng_key=jax.random.key_data(chain_keys),
        chains=chains,
        values=jnp.full((num_chains,), jnp.inf, dtype),
        temperature=jnp.zeros([], dtype),
        temperature_scale=jnp.asarray(0 if _is_auto(config.temperature) else 1, dtype),
        step_size=jnp.zeros((num_chains,), dtype),
        log_step_factor=log_step_factor,
        acceptance_rate=jnp.zeros((num_chains,), dtype),
        rung=_tempering.initial_rungs(num_chains, config.num_temperatures),
        swap_rate=jnp.zeros((max(config.num_temperatures - 1, 1),), dtype),
        best_params=point,
        best_value=jnp.asarray(jnp.inf, dtype),
        best_step=count,
    )
    return state._replace(
        temperature=_base_temperature(config, state.temperature_scale, count, dtype),
        step_size=_step_sizes(config, state.log_step_factor, count, dtype),
    )


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
    _proposals.check_params(config.proposal, point)
    _bounds.check_bounds_match(point, config.bounds)
    return chains, point


def step(
    config: MetropolisConfig, state: MetropolisState, value_fn: ValueFn, *, step_best: bool = True
) -> tuple[MetropolisState, AnnealTrace, optax.Params | None]:
    """One Metropolis step of every chain; returns the state, its info and this step's best chain.

    With ``step_best=False`` this step's best chain is not returned (None) and is extracted only
    when it improves on the best so far, which saves a pass over the chains on most steps.
    """
    dtype = state.values.dtype
    count = state.count
    evaluate = jax.vmap(lambda params: _energy(value_fn, params, dtype))
    if config.minibatch:
        values = evaluate(state.chains)
    else:
        values = jax.lax.cond(count == 0, lambda: evaluate(state.chains), lambda: state.values)

    keys = jax.random.wrap_key_data(state.rng_key, impl=config.key_impl)
    makes_jumps = not _is_static_zero(config.jump_probability)
    split_keys = jax.vmap(lambda k: jax.random.split(k, len(KEY_USES)))(keys)
    key_for = {use: split_keys[:, i] for i, use in enumerate(KEY_USES)}
    next_keys, proposal_keys, accept_keys = key_for["next"], key_for["proposal"], key_for["accept"]
    width = _mean_width(config, state.best_params)
    step_size = _step_sizes(config, state.log_step_factor, count, dtype)
    jumps = jnp.zeros(step_size.shape, bool)
    if makes_jumps:
        decision = _uniforms(key_for["jump"], dtype)
        jumps = decision < config.jump_probability
        initial_step = _step_sizes(config, _initial_log_step_factor(config, width), count, dtype)
        jump_step = initial_step * _jump_lengths(key_for["jump_length"], dtype)
        if width is not None and not _is_static_zero(config.box_jump_share):
            box_jumps = decision < config.jump_probability * config.box_jump_share
            if not config.bounds_finite:
                box_jumps = box_jumps & jnp.isfinite(width)
            jump_step = jnp.where(box_jumps, BOX_JUMP_WIDTHS * width.astype(dtype), jump_step)
        step_size = jnp.where(jumps, jump_step, step_size)
    proposals = jax.vmap(config.proposal)(proposal_keys, state.chains, step_size)
    if config.bounds is not None:
        proposals = jax.vmap(
            lambda p: _bounds.reflect(p, config.bounds, finite=config.bounds_finite)
        )(proposals)
    proposal_values = evaluate(proposals)

    temperature_scale = state.temperature_scale
    if _is_auto(config.temperature):
        temperature_scale = jax.lax.cond(
            count == 0,
            lambda: _self_tuning.initial_temperature(values, proposal_values),
            lambda: temperature_scale,
        )
    temperature = _base_temperature(config, temperature_scale, count, dtype)
    ladder = _ladder(config, dtype)
    chain_temperatures = temperature * ladder[state.rung]
    log_u = jnp.log(_uniforms(accept_keys, dtype))
    accepted = accept(values, proposal_values, chain_temperatures, log_u)

    chains = jax.tree.map(
        lambda new, old: jnp.where(_expand(accepted, new), new, old), proposals, state.chains
    )
    values = jnp.where(accepted, proposal_values, values)
    log_step_factor = state.log_step_factor
    if config.target_acceptance is not None:
        adapting = jnp.asarray(True) if config.adapt_steps is None else count < config.adapt_steps
        log_step_factor = _self_tuning.adapt_log_step_factor(
            log_step_factor,
            accepted,
            config.target_acceptance,
            config.adaptation_rate,
            adapting & ~jumps,
            _max_log_step_factor(config, width, count, dtype),
        )
    window = jnp.minimum(count + 1, jnp.asarray(config.acceptance_window, jnp.int32))
    acceptance_rate = state.acceptance_rate + (
        accepted.astype(dtype) - state.acceptance_rate
    ) / window.astype(dtype)
    rung, swap_rate = state.rung, state.swap_rate
    if config.replica_exchange is not None:
        rung, swap_rate, (log_step_factor, acceptance_rate) = _swap_round(
            config,
            count,
            rung,
            swap_rate,
            values,
            1 / (temperature * ladder),
            jnp.log(_uniforms(key_for["swap"], dtype)),
            (log_step_factor, acceptance_rate),
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
    new_count = optax.safe_increment(count)
    new_state = MetropolisState(
        count=new_count,
        rng_key=jax.random.key_data(next_keys),
        chains=chains,
        values=values,
        temperature=temperature,
        temperature_scale=temperature_scale,
        step_size=step_size,
        log_step_factor=log_step_factor,
        acceptance_rate=acceptance_rate,
        rung=rung,
        swap_rate=swap_rate,
        best_params=best_params,
        best_value=best_value,
        best_step=jnp.where(improved, new_count, state.best_step),
    )
    num_accepted = jnp.sum(accepted, dtype=jnp.int32)
    info = AnnealTrace(best_value, num_accepted.astype(dtype) / config.num_chains, temperature)
    return new_state, info, best_chain


def _swap_round(config, count, rung, swap_rate, values, inverse_temperatures, log_u, carried):
    """Replica-exchange swaps every ``swap_every`` steps; ``carried`` follow the rungs."""
    swap_every = config.replica_exchange.swap_every
    done = count + 1
    round_index = done // swap_every - 1
    parity = round_index % 2

    def swap_now():
        result = _tempering.swap(rung, values, inverse_temperatures, log_u, parity)
        moved = jax.tree.map(lambda x: x[result.source], carried)
        pair = jnp.arange(swap_rate.shape[0])
        tried = pair % 2 == parity
        attempts = jnp.where(round_index >= pair % 2, (round_index - pair % 2) // 2 + 1, 0)
        window = jnp.clip(attempts, 1, config.acceptance_window).astype(swap_rate.dtype)
        fraction = jnp.sum(result.accepted.astype(jnp.int32), axis=0).astype(swap_rate.dtype)
        fraction = fraction / result.accepted.shape[0]
        new_rate = jnp.where(tried, swap_rate + (fraction - swap_rate) / window, swap_rate)
        return result.rung, new_rate, moved

    return jax.lax.cond(done % swap_every == 0, swap_now, lambda: (rung, swap_rate, carried))


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


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


def _base_temperature(
    config: MetropolisConfig, scale: jax.Array, count: jax.Array, dtype: jnp.dtype
) -> jax.Array:
    if _is_auto(config.temperature):
        return scale * _scalar(config.cooling, count, dtype)
    return _scalar(config.temperature, count, dtype)


def _step_sizes(
    config: MetropolisConfig, log_step_factor: jax.Array, count: jax.Array, dtype: jnp.dtype
) -> jax.Array:
    base = 1 if _is_auto(config.step_size) else _scalar(config.step_size, count, dtype)
    return base * jnp.exp(jnp.asarray(log_step_factor).astype(dtype))


def _mean_width(config: MetropolisConfig, like: optax.Params) -> jax.Array | None:
    """The mean width of the box's finite sides over ``like``; NaN if none, None without bounds."""
    return (
        None
        if config.bounds is None
        else _bounds.mean_width(like, config.bounds, finite=config.bounds_finite)
    )


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
    config: MetropolisConfig, width: jax.Array | None, count: jax.Array, dtype: jnp.dtype
) -> jax.Array | float:
    """The largest useful factor: the one that makes the step size the mean width of the box."""
    if width is None:
        return _self_tuning.MAX_LOG_STEP_FACTOR
    base = 1 if _is_auto(config.step_size) else _scalar(config.step_size, count, dtype)
    capped = jnp.log(width.astype(dtype) / base)
    if config.bounds_finite:
        return capped
    return jnp.where(jnp.isfinite(capped), capped, _self_tuning.MAX_LOG_STEP_FACTOR)


def _ladder(config: MetropolisConfig, dtype: jnp.dtype) -> jax.Array:
    if config.replica_exchange is None:
        return jnp.ones((1,), dtype)
    return jnp.asarray(config.replica_exchange.ladder, dtype)


def _is_static_zero(value: Any) -> bool:
    """Whether ``value`` is a Python 0 (and not an array, such as an injected hyperparameter)."""
    return _checks.is_python_number(value) and value == 0


def _jump_lengths(keys: jax.Array, dtype: jnp.dtype) -> jax.Array:
    """|C| for a standard Cauchy C, one per chain: a jump's step over the initial step size."""
    return jnp.abs(jax.vmap(lambda k: jax.random.cauchy(k, dtype=dtype))(keys))


def _uniforms(keys: jax.Array, dtype: jnp.dtype) -> jax.Array:
    return jax.vmap(lambda k: jax.random.uniform(k, dtype=dtype))(keys)


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
