"""The kernel: `anneal` is a scanned `metropolis` update; the state's structure and info."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax


def rastrigin(x):
    return 10.0 * x.size + jnp.sum(jnp.square(x) - 10.0 * jnp.cos(2.0 * jnp.pi * x))


SETTINGS = dict(
    temperature=annealax.auto_temperature(num_steps=150),
    step_size="auto",
    proposal=annealax.jumps(annealax.random_walk(count=1)),
    bounds=(-5.12, 5.12),
)


def test_anneal_equals_a_scanned_metropolis_update():
    result = annealax.anneal(
        rastrigin, jnp.full(4, 3.0), key=3, num_steps=150, num_chains=16, **SETTINGS
    )
    tx = annealax.metropolis(16, key=3, **SETTINGS)
    params = jnp.full(4, 3.0)

    def body(state, _):
        _, state = tx.update(None, state, params, value_fn=rastrigin)
        return state, None

    state, _ = jax.jit(lambda s: jax.lax.scan(body, s, length=150))(tx.init(params))
    # The same random streams and the same steps; anneal's bounds are arguments of its compiled
    # run and metropolis's constants of the scan, so XLA may round a few operations apart.
    np.testing.assert_array_equal(result.state.rng_key, state.rng_key)
    assert int(result.state.count) == int(state.count) == 150
    for name in ("chains", "values", "best_params", "best_value", "step_size"):
        np.testing.assert_allclose(
            optax.tree.get(result.state, name),
            optax.tree.get(state, name),
            rtol=1e-3,
            atol=1e-4,
            err_msg=name,
        )


@pytest.mark.parametrize(
    "name",
    [
        "count",
        "rng_key",
        "chains",
        "values",
        "best_params",
        "best_value",
        "temperature",
        "step_size",
        "acceptance_rate",
        "num_accepted",
        "jumped",
        "evaluations",
        "log_step_factor",
    ],
)
def test_every_documented_field_is_found_by_optax_tree_get(name):
    tx = annealax.metropolis(4, key=0)
    state = tx.init(jnp.zeros(2))
    value = optax.tree.get(state, name)
    assert value is not None, name
    assert isinstance(value, jax.Array)


def test_unused_parts_have_empty_sub_states():
    plain = annealax.metropolis(4, key=0).init(jnp.zeros(2))
    assert plain.swap_rate == optax.EmptyState() and plain.walkers.rung == optax.EmptyState()
    assert plain.temperature_scale == optax.EmptyState()
    tempered = annealax.metropolis(
        4,
        key=0,
        temperature=annealax.auto_temperature(num_steps=10),
        replica_exchange=annealax.replica_exchange(2),
    ).init(jnp.zeros(2))
    assert tempered.swap_rate.shape == (1,) and tempered.walkers.rung.tolist() == [0, 1, 0, 1]
    assert float(tempered.temperature_scale) == 0.0


def test_info_records_the_last_step():
    tx = annealax.metropolis(
        8, key=0, step_size=0.5, proposal=annealax.jumps("gaussian", probability=0.5)
    )
    params = jnp.ones(3)
    state = tx.init(params)
    _, state = tx.update(None, state, params, value_fn=lambda x: jnp.sum(x**2))
    info = state.info
    assert int(info.evaluations) == 16  # the first step also scores the start
    jumped = np.asarray(info.chain.jumped)
    assert 0 < jumped.sum() < 8
    np.testing.assert_array_equal(np.asarray(info.chain.step_size)[~jumped], 0.5)
    _, state = tx.update(None, state, params, value_fn=lambda x: jnp.sum(x**2))
    assert int(state.info.evaluations) == 8


def test_sharding_follows_the_state_structure():
    from annealax._annealing import sharding

    mesh = jax.make_mesh((1,), ("chains",))
    state = annealax.metropolis(4, key=0).init(jnp.zeros(3))
    specs = sharding.state_shardings(state, mesh)
    assert specs.walkers.chains.spec == jax.sharding.PartitionSpec("chains")
    assert specs.info.chain.jumped.spec == jax.sharding.PartitionSpec("chains")
    assert specs.best_params.spec == jax.sharding.PartitionSpec()
    assert specs.info.temperature.spec == jax.sharding.PartitionSpec()
