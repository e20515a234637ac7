"""The Optax contract that every annealax transformation must pass.

Each transformation registers a `ContractCase` in `CASES`; test_optax_contract.py runs every check
on every case. Modelled on optax's own shared optimizer tests (optax/contrib/_common_test.py).
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

import annealax


def scale_by_coolmomentum_sgd(learning_rate=0.01, momentum=0.99, cooling_rate=None):
    """`annealax.scale_by_coolmomentum` followed by the learning rate (and, as every case records
    a temperature, `annealax.track_temperature`)."""
    return optax.chain(
        annealax.scale_by_coolmomentum(momentum, cooling_rate),
        optax.scale_by_learning_rate(learning_rate),
        annealax.track_temperature(),
    )


def sgd_with_temperature(learning_rate=0.01, momentum=0.9):
    """`annealax.track_temperature` placed last, after optax's SGD with momentum."""
    return optax.chain(optax.sgd(learning_rate, momentum), annealax.track_temperature())


def parabola(params):
    """Minimum 0 at params == 1 (a pytree of two leaves)."""
    return jnp.sum(jnp.square(params["w"] - 1.0)) + jnp.sum(jnp.square(params["b"] - 1.0))


def rosenbrock(params):
    """Minimum 0 at (1, 1)."""
    x, y = params["xy"][0], params["xy"][1]
    return jnp.square(1.0 - x) + 100.0 * jnp.square(y - jnp.square(x))


@dataclasses.dataclass(frozen=True)
class Target:
    loss: Callable[[Any], jnp.ndarray]
    init: Callable[[], Any]
    solution: Callable[[], Any]


TARGETS = {
    "parabola": Target(
        parabola,
        lambda: {"w": jnp.zeros((3,)), "b": jnp.full((2, 2), -1.0, dtype=jnp.float32)},
        lambda: {"w": jnp.ones((3,)), "b": jnp.ones((2, 2))},
    ),
    "rosenbrock": Target(
        rosenbrock, lambda: {"xy": jnp.array([-1.2, 1.0])}, lambda: {"xy": jnp.ones((2,))}
    ),
}


@dataclasses.dataclass(frozen=True, eq=False)
class ContractCase:
    """One transformation under the contract; hashed by identity, so that tests can cache runs.

    Attributes:
        name: Test id.
        factory: Builds the transformation from ``hyperparams`` (keyword arguments).
        hyperparams: Numeric keyword arguments, all injectable with `optax.inject_hyperparams`.
        converge: Per target name, the hyperparams, number of steps and the tolerance on the
            distance to the solution.
        extra_args: The extra arguments its update needs, given the loss function.
        uses_gradients: Whether its updates follow from the incoming gradients (then it must
            work after gradient clipping, under ``apply_if_finite`` and ``masked``, and with
            Linen's ``TrainState.apply_gradients``, which passes no extra arguments).
    """

    name: str
    factory: Callable[..., optax.GradientTransformation]
    hyperparams: dict[str, Any]
    converge: dict[str, tuple[dict[str, Any], int, float]]
    extra_args: Callable[[Callable], dict[str, Any]] = lambda loss: {}
    uses_gradients: bool = True

    def make(self, **overrides) -> optax.GradientTransformation:
        return self.factory(**{**self.hyperparams, **overrides})


METROPOLIS_CONVERGE = {
    "parabola": (
        dict(temperature=optax.exponential_decay(0.1, 1500, 1e-5), step_size=0.05),
        1500,
        2e-2,
    ),
    "rosenbrock": (
        dict(temperature=optax.exponential_decay(0.1, 3000, 1e-6), step_size=0.02),
        3000,
        5e-2,
    ),
}
"""How `metropolis` with a cooling temperature converges (the "metropolis" case's settings)."""


def metropolis_case(option, *, hyperparams=None, converge=None, **settings) -> ContractCase:
    """`annealax.metropolis` with 16 chains and the ``settings`` of one of its options."""
    return ContractCase(
        name=f"metropolis-{option}",
        factory=functools.partial(annealax.metropolis, 16, key=0, **settings),
        hyperparams=dict(temperature=0.05, step_size=0.1) if hyperparams is None else hyperparams,
        converge=METROPOLIS_CONVERGE if converge is None else converge,
        extra_args=lambda loss: {"value_fn": loss},
        uses_gradients=False,
    )


CASES = [
    ContractCase(
        name="coolmomentum",
        factory=annealax.coolmomentum,
        hyperparams=dict(learning_rate=0.02, momentum=0.9, cooling_rate=0.999, weight_decay=1e-3),
        converge={
            "parabola": (dict(learning_rate=0.1, weight_decay=0.0, cooling_rate=0.99), 300, 1e-3),
            "rosenbrock": (
                dict(learning_rate=2e-3, momentum=0.9, cooling_rate=0.9995, weight_decay=0.0),
                6000,
                1e-2,
            ),
        },
    ),
    ContractCase(
        name="coolmomentum-linear",
        factory=functools.partial(annealax.coolmomentum, cooling="linear"),
        hyperparams=dict(learning_rate=0.02, momentum=0.9, total_steps=50),
        converge={
            "parabola": (dict(learning_rate=0.1, total_steps=200), 300, 1e-3),
            "rosenbrock": (dict(learning_rate=2e-3, total_steps=4000), 6000, 1e-2),
        },
    ),
    ContractCase(
        name="coolmomentum-friction",
        factory=functools.partial(annealax.coolmomentum, cooling="friction"),
        hyperparams=dict(learning_rate=0.02, momentum=0.95, total_steps=50),
        converge={
            "parabola": (dict(learning_rate=0.1, total_steps=200), 300, 1e-3),
            "rosenbrock": (dict(learning_rate=2e-3, total_steps=4000), 6000, 1e-2),
        },
    ),
    ContractCase(
        name="coolmomentum-temperature-every",
        factory=annealax.coolmomentum,
        hyperparams=dict(learning_rate=0.02, momentum=0.9, cooling_rate=0.999, temperature_every=3),
        converge={
            "parabola": (dict(learning_rate=0.1, cooling_rate=0.99), 300, 1e-3),
            "rosenbrock": (dict(learning_rate=2e-3, cooling_rate=0.9995), 6000, 1e-2),
        },
    ),
    ContractCase(
        name="scale_by_coolmomentum",
        factory=scale_by_coolmomentum_sgd,
        hyperparams=dict(learning_rate=0.02, momentum=0.9, cooling_rate=0.999),
        converge={
            "parabola": (dict(learning_rate=0.1, cooling_rate=0.99), 300, 1e-3),
            "rosenbrock": (dict(learning_rate=2e-3, cooling_rate=0.9995), 6000, 1e-2),
        },
    ),
    ContractCase(
        name="track_temperature",
        factory=sgd_with_temperature,
        hyperparams=dict(learning_rate=0.02, momentum=0.9),
        converge={
            "parabola": (dict(learning_rate=0.1), 300, 1e-3),
            "rosenbrock": (dict(learning_rate=1e-3), 6000, 1e-2),
        },
    ),
    ContractCase(
        name="metropolis",
        factory=functools.partial(annealax.metropolis, 16, key=0),
        hyperparams=dict(temperature=0.05, step_size=0.1),
        converge=METROPOLIS_CONVERGE,
        extra_args=lambda loss: {"value_fn": loss},
        uses_gradients=False,
    ),
    ContractCase(
        name="metropolis-minibatch-cauchy",
        factory=functools.partial(
            annealax.metropolis, 8, key=jax.random.key(1), proposal="cauchy", minibatch=True
        ),
        hyperparams=dict(temperature=0.05, step_size=0.1),
        converge={
            "parabola": (
                dict(temperature=optax.exponential_decay(0.1, 1500, 1e-5), step_size=0.02),
                1500,
                2e-2,
            ),
            "rosenbrock": (
                dict(temperature=optax.exponential_decay(0.1, 3000, 1e-6), step_size=0.01),
                3000,
                5e-2,
            ),
        },
        extra_args=lambda loss: {"value_fn": loss},
        uses_gradients=False,
    ),
    metropolis_case(
        "fixed-step-size",
        adaptation=None,
        converge={  # Fixed steps short enough for the tolerance.
            "parabola": (
                dict(temperature=optax.exponential_decay(0.1, 1500, 1e-5), step_size=0.02),
                1500,
                2e-2,
            ),
            "rosenbrock": METROPOLIS_CONVERGE["rosenbrock"],
        },
    ),
    metropolis_case("jumps", proposal=annealax.jumps(probability=0.25), bounds=(-5.0, 5.0)),
    metropolis_case(
        "auto-temperature",
        temperature=annealax.auto_temperature(num_steps=50),
        hyperparams=dict(step_size=0.1),
        converge={
            "parabola": (
                dict(temperature=annealax.auto_temperature(num_steps=1500), step_size=0.05),
                1500,
                2e-2,
            ),
            "rosenbrock": (
                dict(temperature=annealax.auto_temperature(num_steps=3000), step_size=0.02),
                3000,
                5e-2,
            ),
        },
    ),
    metropolis_case(
        "replica-exchange", replica_exchange=annealax.replica_exchange(4, swap_every=2)
    ),
    metropolis_case(
        "differential-evolution",
        proposal=annealax.differential_evolution(),
        hyperparams=dict(temperature=0.05, step_size=1.0),
        converge={
            "parabola": (
                dict(temperature=optax.exponential_decay(0.1, 1500, 1e-5), step_size=1.0),
                1500,
                2e-2,
            ),
            "rosenbrock": (
                dict(temperature=optax.exponential_decay(0.1, 3000, 1e-6), step_size=1.0),
                3000,
                5e-2,
            ),
        },
    ),
]
