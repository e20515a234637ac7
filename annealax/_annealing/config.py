"""The annealer's settings, checked, as a pytree whose leaves are its numeric settings."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from annealax import _checks, _keys
from annealax._annealing import bounds as _bounds
from annealax._annealing import moves as _moves
from annealax._annealing import temperature as _temperature
from annealax._annealing.adaptation import AdaptStepSize
from annealax._annealing.barker import MinibatchBarker
from annealax._annealing.kernel import ValueFn
from annealax._annealing.tempering import ReplicaExchange

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
    acceptance: MinibatchBarker | None
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
    minibatch = settings["minibatch"]
    if not isinstance(minibatch, bool | MinibatchBarker):
        raise ValueError(
            f"`minibatch` must be True, False or annealax.minibatch_barker(...), got {minibatch!r}"
        )
    if not isinstance(settings["per_chain_init"], bool):
        raise ValueError(
            f"`per_chain_init` must be True or False, got {settings['per_chain_init']!r}"
        )
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
        minibatch=minibatch is not False,
        acceptance=minibatch if isinstance(minibatch, MinibatchBarker) else None,
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
