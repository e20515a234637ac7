"""`anneal`: a whole Metropolis annealing run in one compiled call."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from tqdm.auto import tqdm

from annealax._metropolis import (
    AnnealTrace,
    MetropolisConfig,
    MetropolisState,
    ValueFn,
    checked_value_fn,
    configure,
    init_state,
    step,
)
from annealax._sharding import check_mesh, constrain


class AnnealResult(NamedTuple):
    """The result of `anneal`.

    Attributes:
        best_params: The lowest-loss point found, over all chains and steps.
        best_value: Its loss.
        state: The final `MetropolisState` (the chains, their losses, keys, ...).
        trace: The per-step `AnnealTrace`.
    """

    best_params: optax.Params
    best_value: jax.Array
    state: MetropolisState
    trace: AnnealTrace


@dataclasses.dataclass(frozen=True)
class _Static:
    """What the compiled run depends on beyond its array arguments."""

    value_fn: ValueFn
    num_steps: int
    config: MetropolisConfig
    mesh: Any
    callback: Callable[[jax.Array, AnnealTrace], Any] | None
    progress_every: int


def anneal(
    value_fn: ValueFn,
    init_params: optax.Params,
    *,
    key: jax.Array | int,
    num_steps: int,
    num_chains: int = 256,
    temperature: optax.ScalarOrSchedule = 1.0,
    step_size: optax.ScalarOrSchedule = 0.1,
    proposal: str | Callable = "gaussian",
    bounds: tuple[Any, Any] | None = None,
    mesh: jax.sharding.Mesh | None = None,
    callback: Callable[[jax.Array, AnnealTrace], Any] | None = None,
    progress: bool = False,
    acceptance_window: int = 100,
) -> AnnealResult:
    r"""Minimise ``value_fn`` by simulated annealing: `metropolis` run for ``num_steps`` steps.

    All chains start at ``init_params``; the whole run is one `jax.jit`-compiled `jax.lax.scan`.
    Calling again with the same ``value_fn`` and static settings reuses the compiled run: float
    temperatures, step sizes and bounds are arguments of it, not constants. `anneal` can itself
    be `jax.vmap`-ped over keys and over numeric hyperparameters (temperature, step size) to run
    a grid of experiments in one call.

    Args:
        value_fn: The loss ``value_fn(params) -> scalar``; it must be traceable by JAX.
        init_params: The starting point, a pytree of arrays.
        key: An int seed, a typed `jax.random.key` or a legacy uint32 key.
        num_steps: The number of Metropolis steps, >= 1.
        num_chains: The number of chains, >= 1.
        temperature: $T_t$, a float > 0 or an `optax.Schedule` (a cooling schedule).
        step_size: The proposal scale, a float > 0 or an `optax.Schedule`.
        proposal: ``"gaussian"``, ``"cauchy"`` or a symmetric move
            ``(key, params, step_size) -> params``.
        bounds: ``(lower, upper)``, scalars or pytrees like the params.
        mesh: A `jax.sharding.Mesh` with an axis ``"chains"``: the chains are split over it.
            The random draws and the exchanges across devices do not depend on the split, so
            results are bit-identical to one device whenever XLA computes ``value_fn`` to the same
            bits for any number of chains per device (see the multi-device guide).
        callback: Called from inside the compiled loop at every step as
            ``callback(step, info)`` with an `AnnealTrace` of scalars (through
            `jax.debug.callback`; it costs a device-to-host transfer per step).
        progress: Show a tqdm progress bar, fed from inside the compiled loop (only in a call
            outside `jax.jit` and `jax.vmap`).
        acceptance_window: See `metropolis`.

    Returns:
        An `AnnealResult`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import annealax
        >>> def rastrigin(x):
        ...     return 10 * x.size + jnp.sum(x**2 - 10 * jnp.cos(2 * jnp.pi * x))
        >>> result = annealax.anneal(
        ...     rastrigin,
        ...     jnp.full(2, 3.0),
        ...     key=0,
        ...     num_steps=2000,
        ...     temperature=optax.exponential_decay(10.0, 2000, 1e-4),
        ...     step_size=0.5,
        ...     bounds=(-5.12, 5.12),
        ... )
        >>> bool(result.best_value < 1e-2), result.trace.best_value.shape
        (True, (2000,))
    """
    value_fn = checked_value_fn(value_fn)
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"`num_steps` must be a positive int, got {num_steps!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"`callback` must be callable or None, got {callback!r}")
    config, typed_key = configure(
        num_chains,
        key=key,
        temperature=temperature,
        step_size=step_size,
        proposal=proposal,
        bounds=bounds,
        minibatch=False,
        acceptance_window=acceptance_window,
    )
    if mesh is not None:
        check_mesh(mesh, num_chains)
    dynamic = {
        "temperature": None if callable(temperature) else temperature,
        "step_size": None if callable(step_size) else step_size,
        "bounds": bounds,
    }
    static = _Static(
        value_fn=value_fn,
        num_steps=num_steps,
        config=dataclasses.replace(
            config,
            temperature=temperature if callable(temperature) else None,
            step_size=step_size if callable(step_size) else None,
            bounds=None,
        ),
        mesh=mesh,
        callback=callback,
        progress_every=max(1, num_steps // 100) if progress else 0,
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
        return _run(init_params, typed_key, dynamic, static=static)
    with tqdm(total=num_steps, desc="anneal", unit="step") as bar, _active_bar(bar):
        result = jax.block_until_ready(_run(init_params, typed_key, dynamic, static=static))
        jax.effects_barrier()
        bar.update(num_steps - bar.n)
    return result


@functools.partial(jax.jit, static_argnames="static")
def _run(init_params, key, dynamic, *, static: _Static) -> AnnealResult:
    schedules = static.config
    config = dataclasses.replace(
        schedules,
        temperature=dynamic["temperature"]
        if schedules.temperature is None
        else schedules.temperature,
        step_size=dynamic["step_size"] if schedules.step_size is None else schedules.step_size,
        bounds=dynamic["bounds"],
    )

    def keep_sharded(state: MetropolisState) -> MetropolisState:
        return state if static.mesh is None else constrain(state, static.mesh)

    def body(state, _):
        state, info, _ = step(config, state, static.value_fn, step_best=False)
        state = keep_sharded(state)
        if static.callback is not None:
            jax.debug.callback(static.callback, state.count, info)
        if static.progress_every:
            jax.lax.cond(
                state.count % static.progress_every == 0,
                lambda: jax.debug.callback(_advance_bar, state.count),
                lambda: None,
            )
        return state, info

    state = keep_sharded(init_state(config, key, init_params))
    state, trace = jax.lax.scan(body, state, length=static.num_steps)
    return AnnealResult(state.best_params, state.best_value, state, trace)


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
