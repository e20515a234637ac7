"""`temperature_every=k`: the temperature of every k-th update, the updates unchanged."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax

PARAMS = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array(3.0)}


def loss(params):
    return jnp.sum(jnp.square(params["w"])) + jnp.square(params["b"] - 1.0)


def trajectory(tx, num_steps=8):
    """Per update: the params, the mean squared update and the recorded temperature."""
    params, state = PARAMS, tx.init(PARAMS)
    update = jax.jit(tx.update)
    records = []
    for _ in range(num_steps):
        updates, state = update(jax.grad(loss)(params), state, params)
        params = optax.apply_updates(params, updates)
        flat = jnp.concatenate([jnp.ravel(u) for u in jax.tree.leaves(updates)])
        records.append(
            (params, float(jnp.mean(flat**2)), float(optax.tree.get(state, "temperature")))
        )
    return records


@pytest.mark.parametrize("every", [2, 3, jnp.array(3), 100])
def test_temperature_is_that_of_the_last_kth_update(every):
    kwargs = dict(learning_rate=0.1, momentum=0.9, total_steps=20)
    exact = trajectory(annealax.coolmomentum(**kwargs))
    sparse = trajectory(annealax.coolmomentum(**kwargs, temperature_every=every))
    k = int(every)
    for number, ((params, mean_square, _), (sparse_params, _, temperature)) in enumerate(
        zip(exact, sparse, strict=True), start=1
    ):
        jax.tree.map(np.testing.assert_array_equal, sparse_params, params)
        last_due = number - number % k
        expected = exact[last_due - 1][1] if last_due else 0.0
        assert temperature == pytest.approx(expected, rel=1e-6)
        if number % k == 0:
            assert temperature == pytest.approx(mean_square, rel=1e-6)


def test_injected_temperature_every_is_read_inside_jit():
    tx = optax.inject_hyperparams(annealax.coolmomentum)(
        learning_rate=0.1, momentum=0.9, total_steps=20, temperature_every=4
    )
    records = trajectory(tx)
    temperatures = [temperature for _, _, temperature in records]
    assert temperatures[:3] == [0.0, 0.0, 0.0]
    assert temperatures[3] == pytest.approx(records[3][1], rel=1e-6)
    assert temperatures[4:7] == [temperatures[3]] * 3
    assert temperatures[7] == pytest.approx(records[7][1], rel=1e-6)


def test_temperature_with_a_learning_rate_schedule_uses_the_rate_of_that_update():
    schedule = optax.linear_schedule(0.1, 0.01, 8)
    records = trajectory(annealax.coolmomentum(schedule, 0.9, total_steps=20, temperature_every=2))
    for number, (_, mean_square, temperature) in enumerate(records, start=1):
        if number % 2 == 0:
            assert temperature == pytest.approx(mean_square, rel=1e-6)


@jax.numpy_dtype_promotion("standard")  # reduce_on_plateau mixes int32 and float32.
def test_reduce_on_plateau_after_coolmomentum_rescales_only_the_tracked_temperature():
    """CoolMomentum's temperature is its own update's; track_temperature last sees the scale."""
    tx = optax.chain(
        annealax.coolmomentum(0.1, 0.9, total_steps=50),
        optax.contrib.reduce_on_plateau(factor=0.5, patience=1, accumulation_size=1),
        annealax.track_temperature(),
    )
    params, state = PARAMS, tx.init(PARAMS)
    for _ in range(6):
        # A constant loss value: a plateau, which halves the scale after every update.
        updates, state = tx.update(jax.grad(loss)(params), state, params, value=jnp.asarray(1.0))
        params = optax.apply_updates(params, updates)
    scale = float(state[1].scale)
    assert scale < 1.0
    assert float(state[2].temperature) == pytest.approx(scale**2 * float(state[0].temperature))
