"""Hyperparameters are range-checked whenever they are concrete: numbers or untraced arrays."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax

PARAMS = jnp.array([1.0, -2.0])

# (keyword arguments, the argument the error must name)
BAD_VALUES = [
    (dict(momentum=jnp.array(1.5)), "momentum"),
    (dict(momentum=np.float32(1.0)), "momentum"),
    (dict(momentum=jnp.array(-0.1)), "momentum"),
    (dict(momentum=jnp.array(jnp.nan)), "momentum"),
    (dict(momentum=True), "momentum"),
    (dict(cooling_rate=jnp.array(1.2)), "cooling_rate"),
    (dict(cooling_rate=np.array(0.0)), "cooling_rate"),
    (dict(total_steps=jnp.array(-3)), "total_steps"),
    (dict(total_steps=jnp.array(0)), "total_steps"),
    (dict(total_steps=np.int64(0)), "total_steps"),
    (dict(total_steps=jnp.array(2.5)), "total_steps"),
    (dict(total_steps=True), "total_steps"),
    (dict(total_steps="100"), "total_steps"),
]
ONLY_COOLMOMENTUM = [
    (dict(weight_decay=jnp.array(-1e-4)), "weight_decay"),
    (dict(weight_decay=np.float64(-1.0)), "weight_decay"),
    (dict(learning_rate=-0.1), "learning_rate"),
    (dict(learning_rate=jnp.array(-0.1)), "learning_rate"),
    (dict(temperature_every=0), "temperature_every"),
    (dict(temperature_every=jnp.array(-2)), "temperature_every"),
    (dict(temperature_every=1.5), "temperature_every"),
]


def message_for(name, kwargs):
    return rf"`{name}` must be .*, got {re.escape(repr(kwargs[name]))}"


@pytest.mark.parametrize(("kwargs", "name"), BAD_VALUES + ONLY_COOLMOMENTUM)
def test_concrete_bad_values_raise_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=message_for(name, kwargs)):
        annealax.coolmomentum(**kwargs)


@pytest.mark.parametrize(("kwargs", "name"), BAD_VALUES)
def test_scale_by_coolmomentum_and_schedules_check_arrays_too(kwargs, name):
    with pytest.raises(ValueError, match=message_for(name, kwargs)):
        annealax.scale_by_coolmomentum(**kwargs)
    cooling = "exponential" if "cooling_rate" in kwargs else "linear"
    kwargs = {"total_steps": 10, **kwargs} if cooling == "linear" else kwargs
    with pytest.raises(ValueError, match=message_for(name, kwargs)):
        annealax.momentum_schedule(**kwargs, cooling=cooling)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(momentum=1.5), "momentum"),
        (dict(cooling_rate=1.2), "cooling_rate"),
        (dict(total_steps=-3, cooling="linear"), "total_steps"),
        (dict(total_steps=0, cooling="friction"), "total_steps"),
        (dict(cooling_rate=0.9, weight_decay=-1.0), "weight_decay"),
        (dict(cooling_rate=0.9, temperature_every=0), "temperature_every"),
    ],
)
def test_inject_hyperparams_values_are_checked_at_init(kwargs, name):
    tx = optax.inject_hyperparams(annealax.coolmomentum)(learning_rate=0.1, **kwargs)
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        tx.init(PARAMS)


def test_a_concrete_value_changed_in_the_state_is_checked_by_an_eager_update():
    tx = optax.inject_hyperparams(annealax.coolmomentum)(0.1, 0.9, cooling_rate=0.99)
    state = tx.init(PARAMS)
    state.hyperparams["cooling_rate"] = jnp.asarray(1.2)
    with pytest.raises(ValueError, match=r"`cooling_rate` must be in \(0, 1\], got Array\(1.2"):
        tx.update(PARAMS, state, PARAMS)


@pytest.mark.parametrize(
    ("kwargs", "name", "bad"),
    [
        (dict(cooling_rate=0.99), "momentum", 1.5),
        (dict(cooling_rate=0.99), "cooling_rate", 1.2),
        (dict(total_steps=10), "total_steps", -3),
        (dict(total_steps=10), "total_steps", 0),
        (dict(total_steps=10, cooling="linear"), "total_steps", 0),
        (dict(total_steps=10, cooling="friction"), "momentum", -0.5),
    ],
)
def test_traced_out_of_range_values_make_rho_and_params_nan(kwargs, name, bad):
    tx = optax.inject_hyperparams(annealax.coolmomentum)(0.1, 0.9, **kwargs)
    state = tx.init(PARAMS)
    update = jax.jit(tx.update)
    _, good_state = update(PARAMS, state, PARAMS)
    assert np.isfinite(float(optax.tree.get(good_state, "rho")))
    bad_value = jnp.asarray(bad, state.hyperparams[name].dtype)
    state.hyperparams[name] = bad_value
    updates, bad_state = update(PARAMS, state, PARAMS)
    assert np.isnan(float(optax.tree.get(bad_state, "rho")))
    assert bool(jnp.all(jnp.isnan(updates)))


@pytest.mark.parametrize(
    "total_steps",
    [100, np.int64(100), np.int32(100), np.uint16(100), jnp.array(100), np.array(100), 100.0],
)
@pytest.mark.parametrize("cooling", ["exponential", "linear", "friction"])
def test_total_steps_accepts_any_integral_number(total_steps, cooling):
    expected = annealax.momentum_schedule(0.9, total_steps=100, cooling=cooling)
    actual = annealax.momentum_schedule(0.9, total_steps=total_steps, cooling=cooling)
    counts = jnp.array([0, 37, 99, 100])
    np.testing.assert_allclose(actual(counts), expected(counts), rtol=1e-6)
    assert float(actual(100)) == 0.0
    annealax.coolmomentum(total_steps=total_steps, cooling=cooling).init(PARAMS)
    assert annealax.cooling_rate_for_steps(0.99, total_steps) == pytest.approx(0.01 ** (1 / 100))


def test_concrete_arrays_in_range_give_the_python_numbers_results():
    """Up to the float32 rounding of the array's cooling rate."""
    expected = annealax.momentum_schedule(0.9, 0.99)
    actual = annealax.momentum_schedule(jnp.array(0.9), jnp.array(0.99))
    counts = jnp.arange(0, 300, 7)
    np.testing.assert_allclose(actual(counts), expected(counts), rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
def test_accumulator_dtype_must_be_floating(dtype):
    name = jnp.dtype(dtype).name
    with pytest.raises(ValueError, match=rf"`accumulator_dtype` must be a .* dtype, got {name}"):
        annealax.coolmomentum(accumulator_dtype=dtype)
    with pytest.raises(ValueError, match="`accumulator_dtype`"):
        annealax.scale_by_coolmomentum(accumulator_dtype=dtype)
