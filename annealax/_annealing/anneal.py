"""`anneal`: a whole Metropolis annealing run in one compiled call."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from annealax import _checks
from annealax._annealing.adaptation import adapt_step_size
from annealax._annealing.config import MetropolisConfig, checked_value_fn, configure
from annealax._annealing.jumps import jumps
from annealax._annealing.kernel import ValueFn
from annealax._annealing.polish import Polish, polish_points
from annealax._annealing.random_walk import random_walk
from annealax._annealing.sharding import CHAIN_AXIS, check_mesh, constrain
from annealax._annealing.state import AnnealTrace, MetropolisState
from annealax._annealing.status import AnnealStatus
from annealax._annealing.step import step
from annealax._annealing.temperature import auto_temperature
from annealax._annealing.transformation import init_state, initial_chains

_INT32_MAX = 2**31 - 1

DEFAULT_PROPOSAL = jumps(random_walk(count=1), probability=0.5, box_share=0.25)
"""`anneal`'s default move: one coordinate at a time, half of the moves jumps (chosen by
measurement on test functions)."""

DEFAULT_NUM_CHAINS = 64
"""`anneal`'s default number of chains for params that are not a network's weights."""

NETWORK_PROPOSAL = random_walk(per_leaf=True, fraction=0.1)
"""`anneal`'s default move for the weights of a network (see `is_network`): a tenth of the
weights at a time, scaled by their layer's fan-in (chosen by measurement on the digits MLP)."""

NETWORK_MIN_SIZE = 100
"""The fewest coordinates of a network (see `is_network`): a tenth of them is several."""

DEFAULT_SETTINGS = {
    "temperature": "auto",
    "step_size": "auto",
    "proposal": "auto",  # DEFAULT_PROPOSAL or NETWORK_PROPOSAL: see `is_network`
    "adaptation": adapt_step_size(),
    "replica_exchange": None,
    "acceptance_window": 100,
}
"""`anneal`'s defaults of the settings of `metropolis` it takes (``**settings``)."""


class AnnealResult(NamedTuple):
    """The result of `anneal`.

    Attributes:
        best_params: The lowest-loss point found, over all chains and steps (and polishes).
        best_value: Its loss.
        state: The final `MetropolisState` (the chains, their losses, keys, ...);
            ``state.count`` is the number of steps done, fewer than ``num_steps`` after an early
            stop.
        trace: The per-step `AnnealTrace`; after an early stop, its last entries repeat the
            final best value with acceptance 0. The last ``best_value`` includes the final
            polish.
        num_evaluations: The number of loss evaluations, those of the polish included (int32,
            saturating at $2^{31} - 1$).
        status: Why the run ended: an `AnnealStatus` code (int32), such as
            ``AnnealStatus.TARGET_REACHED`` or ``AnnealStatus.NO_FINITE_LOSS``.
    """

    best_params: optax.Params
    best_value: jax.Array
    state: MetropolisState
    trace: AnnealTrace
    num_evaluations: jax.Array
    status: jax.Array


@dataclasses.dataclass(frozen=True)
class _Static:
    """What the compiled run depends on beyond its array arguments."""

    value_fn: ValueFn
    num_steps: int
    mesh: Any
    callback: Callable[[jax.Array, AnnealTrace], Any] | None
    progress_every: int
    polish: Polish | None
    stop_at_target: bool
    patience: int | None


def anneal(
    value_fn: ValueFn,
    init_params: optax.Params,
    *,
    key: jax.Array | int,
    num_steps: int,
    num_chains: int | None = None,
    bounds: tuple[Any, Any] | None = None,
    polish: Polish | None = None,
    target_value: float | None = None,
    patience: int | None = None,
    mesh: jax.sharding.Mesh | None = None,
    callback: Callable[[jax.Array, AnnealTrace], Any] | None = None,
    progress: bool = False,
    per_chain_init: bool = False,
    **settings: Any,
) -> AnnealResult:
    r"""Minimise ``value_fn`` by simulated annealing: `metropolis` run for ``num_steps`` steps.

    All chains start at ``init_params``; the whole run is one `jax.jit`-compiled `jax.lax.scan`.
    By default it tunes itself: the initial temperature is measured from the first proposals
    and cools geometrically to $10^{-8}$ of it, and each chain's step size adapts towards an
    acceptance rate of 0.234 (see `metropolis`), so that losses and parameters of any scale
    need no hand-picked settings. The default moves change one coordinate at a time, half of
    them jumps (``jump_probability=0.5``) of a Cauchy-distributed length around the initial
    step size or, for a quarter of them with ``bounds``, across the whole box
    (``box_jump_share=0.25``): on the standard test functions
    (sphere, Rosenbrock, Rastrigin, Ackley, Griewank at 10 to 100 dimensions) these defaults,
    64 chains and a `polish` every 500 steps reached the global minimum in the time SciPy's
    ``dual_annealing`` took (see the benchmarks page). Params that look like a neural
    network's weights (several leaves, one of them a kernel of two or more dimensions, 100
    coordinates or more) get other defaults, since one coordinate at a time is too slow
    there: sparse moves of a tenth of the weights scaled by their layer's fan-in,
    ``random_walk(per_leaf=True, fraction=0.1)``, without jumps, on as few chains as the other
    settings allow (1, or those a `polish`, a `replica_exchange` ladder, a population move or
    a ``mesh`` need). On the digits MLP of the examples (2,410 weights, 82 million example
    forward passes, seeds 0 to 2) 1 chain reached a test accuracy of 0.966 ± 0.004 and 4
    chains 0.968 ± 0.004; at a quarter of the passes, 1 chain 0.957 ± 0.012 and 4 chains 0.939
    ± 0.007. The moves for vectors on 64 chains reached 0.53 (see the benchmarks page). Where
    chains run in parallel at no extra wall time (on a GPU), pass ``num_chains=4``.
    Optionally, the best chains are refined by L-BFGS at the end (`polish`), and the run stops
    early at a ``target_value`` or after ``patience`` steps without improvement; the stop is
    decided inside the compiled loop, whose remaining iterations then skip the step through
    `jax.lax.cond` (under `jax.vmap`, which turns the `cond` into a `select`, they still compute
    it). ``status`` in the result says why the run ended.

    Calling again with the same ``value_fn`` and static settings reuses the compiled run: float
    temperatures, step sizes, bounds and target values are arguments of it, not constants.
    `anneal` can itself be `jax.vmap`-ped over keys and over numeric hyperparameters
    (temperature, step size) to run a grid of experiments in one call.

    Args:
        value_fn: The loss ``value_fn(params) -> scalar``; it must be traceable by JAX.
        init_params: The starting point, a pytree of arrays.
        key: An int seed, a typed `jax.random.key` or a legacy uint32 key.
        num_steps: The number of Metropolis steps, >= 1.
        num_chains: The number of chains, >= 1. None: 64; for a network's weights as few as
            the other settings allow; with ``per_chain_init`` the leading axis of the params.
        bounds: ``(lower, upper)``, scalars, arrays or pytrees like the params (see `metropolis`).
        polish: A `polish` of the best chains by a gradient method, or None.
        target_value: Stop once the best loss is at or below this value.
        patience: Stop after this many steps without a new best loss.
        mesh: A `jax.sharding.Mesh` with an axis ``"chains"``: the chains are split over it.
            The random draws and the exchanges across devices do not depend on the split, so
            results are bit-identical to one device whenever XLA computes ``value_fn`` to the same
            bits for any number of chains per device (see the multi-device guide).
        callback: Called from inside the compiled loop at every step as
            ``callback(step, info)`` with an `AnnealTrace` of scalars (through
            `jax.debug.callback`; it costs a device-to-host transfer per step).
        progress: Show a tqdm progress bar, fed from inside the compiled loop (only in a call
            outside `jax.jit` and `jax.vmap`).
        per_chain_init: Take the leading axis of every leaf of ``init_params`` as the chain
            axis, of size ``num_chains``: chain $i$ starts at ``init_params[i]`` (random
            restarts, a population from an earlier run). Without it every chain starts at
            ``init_params``.
        **settings: The settings of `metropolis` (``temperature``, ``step_size``, ``proposal``,
            ``adaptation``, ``replica_exchange``, ``acceptance_window``), with other defaults:
            ``temperature="auto"`` (an `auto_temperature` over ``num_steps``),
            ``step_size="auto"``, ``proposal="auto"`` (``jumps(random_walk(count=1))``, or
            ``random_walk(per_leaf=True, fraction=0.1)`` for a network's weights) and
            ``adaptation=adapt_step_size()``.

    Returns:
        An `AnnealResult`; its ``status`` says why the run ended (`AnnealStatus`).

    Examples:
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> def rastrigin(x):
        ...     return 10 * x.size + jnp.sum(x**2 - 10 * jnp.cos(2 * jnp.pi * x))
        >>> result = annealax.anneal(
        ...     rastrigin, jnp.full(2, 3.0), key=0, num_steps=2000, bounds=(-5.12, 5.12)
        ... )
        >>> bool(result.best_value < 1e-2), result.trace.best_value.shape
        (True, (2000,))
    """
    value_fn = checked_value_fn(value_fn)
    num_steps = _checks.check_positive_int("num_steps", num_steps)
    if callback is not None and not callable(callback):
        raise ValueError(f"`callback` must be callable or None, got {callback!r}")
    if polish is not None and not isinstance(polish, Polish):
        raise ValueError(f"`polish` must be annealax.polish(...) or None, got {polish!r}")
    if target_value is not None and not _checks.is_python_number(target_value):
        raise ValueError(f"`target_value` must be a float or None, got {target_value!r}")
    patience = _checks.check_optional_positive_int("patience", patience)
    num_chains, settings = _resolve_defaults(
        init_params, num_chains, per_chain_init, settings, polish, mesh
    )
    config, typed_key = configure_run(num_chains, key, num_steps, bounds, per_chain_init, settings)
    if polish is not None and polish.num_chains > num_chains:
        raise ValueError(
            f"`polish` refines {polish.num_chains} chains, more than `num_chains`={num_chains!r}; "
            f"pass num_chains >= {polish.num_chains} or polish(num_chains={num_chains})"
        )
    # The checks of the starting point, outside the compiled run so that errors show values.
    point = jax.eval_shape(lambda p: initial_chains(config, p)[1], init_params)
    if polish is not None:
        check_polish_params(point)
    if mesh is not None:
        check_mesh(mesh, config.num_chains)
    static = _Static(
        value_fn=value_fn,
        num_steps=num_steps,
        mesh=mesh,
        callback=callback,
        progress_every=max(1, num_steps // 100) if progress else 0,
        polish=polish,
        stop_at_target=target_value is not None,
        patience=patience,
    )
    if progress and any(
        isinstance(x, jax.core.Tracer) for x in jax.tree.leaves((init_params, key))
    ):
        raise ValueError(
            "`progress=True` needs a call of anneal outside jax.jit and jax.vmap, got traced "
            "arguments; use progress=False there"
        )
    # Weakly typed leaves (such as jnp.full(3, 2.0)) would compile a run of their own.
    init_params = jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.result_type(x)), init_params)
    if not progress:
        return _run(init_params, typed_key, config, target_value, static=static)
    with tqdm(total=num_steps, desc="anneal", unit="step") as bar, _active_bar(bar):
        run = _run(init_params, typed_key, config, target_value, static=static)
        result = jax.block_until_ready(run)
        jax.effects_barrier()
        bar.update(num_steps - bar.n)
    return result


def is_network(params: optax.Params, per_chain_init: bool = False) -> bool:
    """Whether ``params`` look like a neural network's weights: several leaves, one a kernel.

    A kernel has two or more dimensions (besides the chain axis of ``per_chain_init``), and the
    params of one chain have at least `NETWORK_MIN_SIZE` coordinates in all.
    """
    shapes = [np.shape(leaf)[int(per_chain_init) :] for leaf in jax.tree.leaves(params)]
    return (
        len(shapes) > 1
        and any(len(shape) >= 2 for shape in shapes)
        and sum(math.prod(shape) for shape in shapes) >= NETWORK_MIN_SIZE
    )


def _resolve_defaults(init_params, num_chains, per_chain_init, settings, polish, mesh):
    """``num_chains`` and ``settings`` with the defaults of ``None`` and ``"auto"`` filled in.

    A network's weights (`is_network`) get `NETWORK_PROPOSAL` and as few chains as the other
    settings allow (at least 1); other params `DEFAULT_PROPOSAL` and `DEFAULT_NUM_CHAINS`. With
    ``per_chain_init`` the chains are the leading axis of the params.
    """
    network = is_network(init_params, per_chain_init)
    settings = dict(settings)
    if isinstance(settings.get("proposal"), str) and settings["proposal"] == "auto":
        del settings["proposal"]
    settings.setdefault("proposal", NETWORK_PROPOSAL if network else DEFAULT_PROPOSAL)
    if num_chains is not None:
        return num_chains, settings
    if per_chain_init:
        return _leading_axis(init_params), settings
    if not network:
        return DEFAULT_NUM_CHAINS, settings
    ladder = settings.get("replica_exchange")
    step = math.lcm(
        getattr(ladder, "num_temperatures", 1),
        mesh.shape.get(CHAIN_AXIS, 1) if isinstance(mesh, jax.sharding.Mesh) else 1,
    )
    fewest = max(
        getattr(settings["proposal"], "min_chains", 1),
        polish.num_chains if isinstance(polish, Polish) else 1,
    )
    return step * -(-fewest // step), settings


def _leading_axis(params: optax.Params) -> int:
    """The size of the leading axis shared by every leaf, the chain axis of ``per_chain_init``."""
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else 0 for leaf in jax.tree.leaves(params)}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(
            "`per_chain_init=True` without `num_chains` takes the number of chains from the "
            f"leading axis of every params leaf, got leading axes {sorted(sizes)} (0: a "
            "scalar or an empty axis); pass num_chains or give every leaf that leading axis"
        )
    return sizes.pop()


def configure_run(num_chains, key, num_steps, bounds, per_chain_init, settings):
    """`metropolis`'s checked settings with `anneal`'s defaults."""
    if "minibatch" in settings:
        raise ValueError(
            "`minibatch` is not a setting of anneal, whose value_fn is the same at every step; "
            "use annealax.metropolis(..., minibatch=True) in a loop of your own"
        )
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise TypeError(f"anneal() got unexpected keyword arguments {sorted(unknown)}")
    settings = {**DEFAULT_SETTINGS, **settings}
    if isinstance(settings["temperature"], str) and settings["temperature"] == "auto":
        settings["temperature"] = auto_temperature(num_steps=num_steps)
    return configure(
        num_chains,
        key=key,
        **settings,
        bounds=bounds,
        minibatch=False,
        per_chain_init=per_chain_init,
    )


@functools.partial(jax.jit, static_argnames="static")
def _run(init_params, key, config, target_value, *, static: _Static) -> AnnealResult:
    value_fn = static.value_fn

    def keep_sharded(state: MetropolisState) -> MetropolisState:
        return state if static.mesh is None else constrain(state, static.mesh)

    def anneal_step(carry):
        state, evaluations = carry
        state, info, _ = step(config, state, value_fn, step_best=False)
        polish = static.polish
        if polish is not None and polish.every is not None:
            state, evaluations = jax.lax.cond(
                state.count % polish.every == 0,
                lambda: _polish_best_chains(static, config, state, evaluations),
                lambda: (state, evaluations),
            )
        return (keep_sharded(state), evaluations), info

    def stopped(state):
        done = jnp.asarray(False)
        if static.stop_at_target:
            done = done | (state.best_value <= target_value)
        if static.patience is not None:
            done = done | (state.count - state.best_step >= static.patience)
        return done

    def body(carry, _):
        state = carry[0]
        if static.stop_at_target or static.patience is not None:
            idle = AnnealTrace(
                state.best_value, jnp.zeros_like(state.best_value), state.temperature
            )
            carry, info = jax.lax.cond(
                stopped(state), lambda: (carry, idle), lambda: anneal_step(carry)
            )
        else:
            carry, info = anneal_step(carry)
        count = carry[0].count
        if static.callback is not None:
            jax.debug.callback(static.callback, count, info)
        if static.progress_every:
            jax.lax.cond(
                count % static.progress_every == 0,
                lambda: jax.debug.callback(_advance_bar, count),
                lambda: None,
            )
        return carry, info

    state = keep_sharded(init_state(config, key, init_params))
    no_evaluations = jnp.zeros([], jnp.int32)
    (state, polish_evaluations), trace = jax.lax.scan(
        body, (state, no_evaluations), length=static.num_steps
    )
    stopped_early = stopped(state)
    if static.polish is not None:
        state, polish_evaluations = _polish_best_chains(static, config, state, polish_evaluations)
        trace = trace._replace(best_value=trace.best_value.at[-1].set(state.best_value))
    # The first step also evaluates the starting point of every chain.
    steps = state.count + 1
    overflows = steps > (_INT32_MAX - polish_evaluations) // config.num_chains
    evaluations = jnp.where(overflows, _INT32_MAX, steps * config.num_chains + polish_evaluations)
    status = _status(static, stopped_early, state, trace, target_value)
    return AnnealResult(state.best_params, state.best_value, state, trace, evaluations, status)


def _status(static, stopped_early, state, trace, target_value) -> jax.Array:
    """The `AnnealStatus` code of a finished run (the highest that applies)."""
    status = jnp.asarray(int(AnnealStatus.COMPLETED), jnp.int32)
    if static.patience is not None:
        status = jnp.where(stopped_early, int(AnnealStatus.PATIENCE_EXHAUSTED), status)
    if static.stop_at_target:
        reached = state.best_value <= target_value
        status = jnp.where(stopped_early & reached, int(AnnealStatus.TARGET_REACHED), status)
    status = jnp.where(jnp.isfinite(state.best_value), status, int(AnnealStatus.NO_FINITE_LOSS))
    temperatures = trace.temperature
    invalid = jnp.any(~jnp.isfinite(temperatures) | (temperatures < 0))
    return jnp.where(invalid, int(AnnealStatus.INVALID_TEMPERATURE), status).astype(jnp.int32)


def check_polish_params(params: optax.Params) -> None:
    """Raise unless every leaf is floating: the polish follows gradients."""
    for leaf in jax.tree.leaves(params):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise ValueError(
                "`polish` follows gradients and needs floating-point params, got a leaf of dtype "
                f"{leaf.dtype}; use polish=None for integer or boolean params"
            )


def _polish_best_chains(
    static: _Static, config: MetropolisConfig, state: MetropolisState, evaluations: jax.Array
) -> tuple[MetropolisState, jax.Array]:
    """Polish the lowest-loss chains; keep each polished point that is better."""
    settings = static.polish
    dtype = state.values.dtype
    index = jnp.argsort(state.values)[: settings.num_chains]
    starts = jax.tree.map(lambda leaf: leaf[index], state.chains)
    polished, values, used = polish_points(settings, static.value_fn, starts, config.bounds, dtype)
    better = values < state.values[index]
    kept = jax.tree.map(
        lambda new, old: jnp.where(better.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
        polished,
        starts,
    )
    chains = jax.tree.map(lambda leaf, new: leaf.at[index].set(new), state.chains, kept)
    chain_values = state.values.at[index].set(jnp.where(better, values, state.values[index]))
    best = jnp.argmin(values)
    improved = values[best] < state.best_value
    state = state._replace(
        walkers=state.walkers._replace(chains=chains, values=chain_values),
        best_params=jax.tree.map(
            lambda new, old: jnp.where(improved, new[best], old), polished, state.best_params
        ),
        best_value=jnp.where(improved, values[best], state.best_value),
        best_step=jnp.where(improved, state.count, state.best_step),
    )
    return state, evaluations + used.astype(evaluations.dtype)


_BARS: list[tqdm] = []  # the bars of the runs in progress; callbacks advance the newest


@contextlib.contextmanager
def _active_bar(bar: tqdm):
    """Make ``bar`` the one that progress callbacks advance while a run is in progress."""
    _BARS.append(bar)
    try:
        yield
    finally:
        _BARS.remove(bar)


def _advance_bar(count: jax.Array) -> None:
    done = int(count.max()) if hasattr(count, "max") else int(count)
    if _BARS and done > _BARS[-1].n:
        _BARS[-1].update(done - _BARS[-1].n)
