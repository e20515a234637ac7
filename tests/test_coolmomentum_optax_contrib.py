"""optax's own contract suite for contributed optimizers, run on CoolMomentum.

The checks are those of the installed optax (``optax/contrib/_common_test.py``), called with
annealax's transformations in the place of optax's contributed optimizers: the same targets,
steps, tolerances and wrappers as optax uses for its own. A check that skips itself fails here:
every one of them applies to these transformations.
"""

import unittest

import jax
import jax.numpy as jnp
import optax
import pytest
from optax.contrib import _common_test as optax_contrib_tests

import annealax


def scale_by_coolmomentum_sgd(
    learning_rate: optax.ScalarOrSchedule = 0.01,
    momentum: float = 0.99,
    cooling_rate: float | None = None,
) -> optax.GradientTransformation:
    """The building block followed by the learning rate, as `annealax.coolmomentum` chains it."""
    return optax.chain(
        annealax.scale_by_coolmomentum(momentum, cooling_rate),
        optax.scale_by_learning_rate(learning_rate),
    )


def sgd_with_temperature(
    learning_rate: optax.ScalarOrSchedule = 0.01, momentum: float = 0.9
) -> optax.GradientTransformation:
    """`annealax.track_temperature` placed last, after optax's SGD with momentum."""
    return optax.chain(optax.sgd(learning_rate, momentum), annealax.track_temperature())


FACTORIES = {
    "coolmomentum": annealax.coolmomentum,
    "scale_by_coolmomentum": scale_by_coolmomentum_sgd,
    "track_temperature": sgd_with_temperature,
}

# In optax's format: the optimizer's name and keyword arguments, no wrapper.
OPTIMIZERS = [
    ("coolmomentum", {"learning_rate": 1e-3}),
    ("coolmomentum", {"learning_rate": 1e-3, "momentum": 0.9, "weight_decay": 1e-4}),
    ("coolmomentum", {"learning_rate": 1e-3, "total_steps": 20_000, "cooling": "linear"}),
    ("coolmomentum", {"learning_rate": 1e-3, "total_steps": 20_000, "cooling": "friction"}),
    ("coolmomentum", {"learning_rate": 1e-3, "temperature_every": 7}),
    ("scale_by_coolmomentum", {"learning_rate": 1e-3, "momentum": 0.95, "cooling_rate": 0.9998}),
    ("track_temperature", {"learning_rate": 1e-3}),
]

# optax's checks, by name, each with the extra parameters optax runs it with.
CHECKS = {
    "test_optimizers_accept_extra_args": [{"wrap": False}],
    "test_optimizers": [
        {"target": target, "dtype": "float32"}
        for target in (
            optax_contrib_tests._setup_parabola,
            optax_contrib_tests._setup_rosenbrock,
            optax_contrib_tests._setup_matrix_parabola,
            optax_contrib_tests._setup_mixed_tensor_target,
        )
    ],
    "test_optimizers_can_be_wrapped_in_inject_hyperparams": [{}],
    "test_preserve_dtype": [{"dtype": "bfloat16"}, {"dtype": "float32"}],
    "test_gradient_accumulation": [{"dtype": "bfloat16"}, {"dtype": "float32"}],
    "test_state_shape_dtype_shard_stability": [
        {"dtype": dtype} for dtype in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64)
    ],
    "test_optimizers_accept_learning_rate_schedule_if_type_annotated_as_such": [{}],
}


def optax_check(name):
    """The function that optax's ``ContribTest`` runs, once per parameter set, as ``name``."""
    for method in vars(optax_contrib_tests.ContribTest).values():
        check = getattr(method, "__wrapped__", None)
        if getattr(check, "__name__", None) == name:
            return check
    raise LookupError(f"the installed optax's ContribTest has no check named {name!r}")


def case_id(opt_name, opt_kwargs, params):
    described = {**opt_kwargs, **params}
    return "-".join([opt_name, *(f"{k}={getattr(v, '__name__', v)}" for k, v in described.items())])


CASES = [
    pytest.param(check_name, opt_name, opt_kwargs, params, id=case_id(opt_name, opt_kwargs, params))
    for check_name, parameter_sets in CHECKS.items()
    for params in parameter_sets
    for opt_name, opt_kwargs in OPTIMIZERS
]


def test_every_optax_contrib_check_is_run():
    names = {
        method.__wrapped__.__name__
        for method in vars(optax_contrib_tests.ContribTest).values()
        if hasattr(method, "__wrapped__")
    }
    assert names == set(CHECKS)


@pytest.mark.parametrize(("check_name", "opt_name", "opt_kwargs", "params"), CASES)
def test_optax_contrib_check(monkeypatch, check_name, opt_name, opt_kwargs, params):
    check = optax_check(check_name)
    monkeypatch.setattr(optax_contrib_tests, "_get_opt_factory", FACTORIES.__getitem__)
    case = optax_contrib_tests.ContribTest()
    # As optax runs them: default dtype promotion (MultiSteps divides float sums by an int count).
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        try:
            check(
                case,
                opt_name=opt_name,
                opt_kwargs=dict(opt_kwargs),
                wrapper_name=None,
                wrapper_kwargs=None,
                **params,
            )
        except unittest.SkipTest as skip:
            pytest.fail(f"optax's {check_name} skipped {opt_name}: {skip}")
