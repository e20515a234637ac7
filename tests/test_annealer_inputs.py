"""The annealer's settings: arrays checked like numbers, integral numbers, params dtypes."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax


def sphere(x):
    return jnp.sum(jnp.square(x)).astype(jnp.float32)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", jnp.array(-1.0)),
        ("temperature", jnp.array(jnp.nan)),
        ("step_size", np.float32(0.0)),
    ],
)
def test_out_of_range_arrays_raise_naming_the_argument(name, value):
    with pytest.raises(ValueError, match=rf"`{name}` must be"):
        annealax.metropolis(4, key=0, **{name: value})


@pytest.mark.parametrize(
    ("option", "name", "value"),
    [
        (annealax.adapt_step_size, "target", jnp.array(1.5)),
        (annealax.adapt_step_size, "rate", jnp.array(-0.1)),
        (annealax.adapt_step_size, "steps", 0),
        (annealax.jumps, "probability", jnp.array(1.0)),
        (annealax.jumps, "probability", float("nan")),
        (annealax.jumps, "box_share", jnp.array(2.0)),
        (annealax.auto_temperature, "num_steps", -3),
        (annealax.auto_temperature, "cooling", 0.5),
    ],
)
def test_out_of_range_options_raise_naming_the_argument(option, name, value):
    with pytest.raises(ValueError, match=rf"`{name}` must be"):
        option(**{name: value})


def test_injected_hyperparameters_are_checked_at_init():
    tx = optax.inject_hyperparams(annealax.metropolis, static_args=("num_chains",))(
        num_chains=4, key=0, temperature=-2.0
    )
    with pytest.raises(ValueError, match="`temperature` must be finite and > 0"):
        tx.init(jnp.zeros(2))
    good = optax.inject_hyperparams(annealax.metropolis, static_args=("num_chains",))(
        num_chains=4, key=0, temperature=2.0
    )
    state = good.init(jnp.zeros(2))
    assert float(state.inner_state.temperature) == 2.0


@pytest.mark.parametrize("integer", [np.int64(4), np.int32(4), jnp.array(4), np.array(4)])
def test_integral_numbers_are_accepted_where_an_int_is_asked_for(integer):
    result = annealax.anneal(
        sphere,
        jnp.ones(2),
        key=0,
        num_steps=integer,
        num_chains=integer,
        polish=annealax.polish(integer, num_chains=integer, every=integer),
        replica_exchange=annealax.replica_exchange(2, swap_every=integer),
        patience=integer,
    )
    assert int(result.state.count) <= 4
    assert result.state.values.shape == (4,)
    schedule = annealax.geometric_temperature(1.0, 0.1, integer)
    assert float(schedule(4)) == pytest.approx(0.1)


@pytest.mark.parametrize("not_integral", [4.0, True, np.float64(4), jnp.array([4]), "4"])
def test_non_integral_numbers_are_rejected(not_integral):
    with pytest.raises(ValueError, match="`num_chains` must be a positive int"):
        annealax.metropolis(not_integral, key=0)


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
@pytest.mark.parametrize("proposal", ["gaussian", "cauchy", annealax.random_walk(count=1)])
def test_built_in_proposals_need_floating_params(dtype, proposal):
    with pytest.raises(ValueError, match=r"`proposal` .* floating-point params only.*dtype"):
        annealax.anneal(sphere, jnp.zeros(3, dtype), key=0, num_steps=3, proposal=proposal)
    with pytest.raises(ValueError, match=r"`proposal`"):
        annealax.metropolis(4, key=0, proposal=proposal).init(jnp.zeros(3, dtype))


def test_polish_needs_floating_params():
    with pytest.raises(ValueError, match=r"`polish` .*floating-point params.*int32"):
        annealax.anneal(
            sphere,
            jnp.zeros(3, jnp.int32),
            key=0,
            num_steps=3,
            proposal=lambda key, x, step: x,
            polish=annealax.polish(3),
        )


def flip_one(key, spins, step_size):
    del step_size
    index = jax.random.randint(key, (), 0, spins.size)
    return spins.at[index].set(~spins[index])


def test_custom_proposals_on_integer_and_boolean_params_work():
    def ones(spins):
        return jnp.sum(spins.astype(jnp.float32))

    result = annealax.anneal(ones, jnp.ones(6, bool), key=0, num_steps=200, proposal=flip_one)
    assert float(result.best_value) == 0.0
    assert result.best_params.dtype == jnp.bool_

    def step(key, x, step_size):
        del step_size
        return x + jax.random.randint(key, x.shape, -1, 2)

    counts = annealax.anneal(
        lambda x: jnp.sum(jnp.abs(x - 3)).astype(jnp.float32),
        jnp.zeros(3, jnp.int32),
        key=0,
        num_steps=300,
        proposal=step,
        bounds=(-5, 5),
    )
    assert counts.best_params.tolist() == [3, 3, 3]
