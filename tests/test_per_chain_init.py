"""Per-chain starting points: ``per_chain_init=True`` takes the leading axis as the chain axis."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax


def sphere(x):
    return jnp.sum(jnp.square(x))


def stay(key, params, step_size):
    del key, step_size
    return params


def test_anneal_chains_start_where_given():
    starts = jax.random.uniform(jax.random.key(1), (8, 3), minval=-5.0, maxval=5.0)
    result = annealax.anneal(
        sphere, starts, key=0, num_steps=2, num_chains=8, per_chain_init=True, proposal=stay
    )
    np.testing.assert_array_equal(result.state.chains, starts)
    np.testing.assert_allclose(result.state.values, jax.vmap(sphere)(starts), rtol=1e-6)
    best = int(jnp.argmin(jax.vmap(sphere)(starts)))
    np.testing.assert_array_equal(result.best_params, starts[best])


def test_metropolis_chains_start_where_given_and_updates_move_to_the_best():
    starts = {"a": jnp.arange(4.0)[:, None] * jnp.ones((4, 2)), "b": jnp.arange(4.0) - 1.5}
    tx = annealax.metropolis(4, key=0, proposal=stay, per_chain_init=True)
    state = tx.init(starts)
    jax.tree.map(np.testing.assert_array_equal, state.chains, starts)

    def loss(params):
        return jnp.sum(params["a"]) + 10.0 * jnp.square(params["b"])

    updates, state = tx.update(None, state, starts, value_fn=loss)
    moved = optax.apply_updates(starts, updates)
    # Chain 1 (a = 1, b = -0.5) has the lowest loss, 4.5; every row moves there.
    np.testing.assert_array_equal(moved["a"], jnp.ones((4, 2)))
    np.testing.assert_array_equal(moved["b"], jnp.full(4, -0.5))
    single = {"a": jnp.zeros(2), "b": jnp.zeros([])}
    updates, _ = tx.update(None, state, single, value_fn=loss)
    np.testing.assert_array_equal(optax.apply_updates(single, updates)["b"], -0.5)


def test_random_restarts_in_a_box_differ_from_a_single_start():
    key_starts, key_run = jax.random.split(jax.random.key(2))
    starts = jax.random.uniform(key_starts, (16, 2), minval=-5.12, maxval=5.12)
    result = annealax.anneal(
        sphere,
        starts,
        key=key_run,
        num_steps=300,
        num_chains=16,
        bounds=(-5.12, 5.12),
        per_chain_init=True,
    )
    single = annealax.anneal(
        sphere, starts[0], key=key_run, num_steps=300, num_chains=16, bounds=(-5.12, 5.12)
    )
    assert float(result.best_value) < 1e-3
    assert not np.array_equal(result.state.chains, single.state.chains)


@pytest.mark.parametrize("shape", [(5, 3), (3,), ()])
def test_wrong_leading_axis_names_per_chain_init_and_num_chains(shape):
    with pytest.raises(ValueError, match=r"`per_chain_init=True`.*`num_chains`=8"):
        annealax.anneal(
            sphere, jnp.zeros(shape), key=0, num_steps=3, num_chains=8, per_chain_init=True
        )
    with pytest.raises(ValueError, match=r"`num_chains`=8"):
        annealax.metropolis(8, key=0, per_chain_init=True).init(jnp.zeros(shape))


def test_per_chain_init_must_be_a_bool():
    with pytest.raises(ValueError, match="`per_chain_init` must be True or False"):
        annealax.metropolis(8, key=0, per_chain_init="yes")
