"""The public API under ``jax_enable_x64``: run by ``test_x64.py`` in a subprocess.

Every check runs for float32 and float64 params: with x64 on, JAX's default integers are int64,
which every counter of the annealer must tolerate.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax

pytestmark = pytest.mark.skipif(not jax.config.jax_enable_x64, reason="needs JAX_ENABLE_X64=1")

DTYPES = [jnp.float32, jnp.float64]


def rastrigin(x):
    return 10.0 * x.size + jnp.sum(x**2 - 10.0 * jnp.cos(2.0 * jnp.pi * x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_readme_anneal_call(dtype):
    result = annealax.anneal(
        rastrigin,
        jnp.full(10, 3.0, dtype),
        key=0,
        num_steps=1000,
        bounds=(-5.12, 5.12),
        polish=annealax.polish(30, every=500),
    )
    assert result.best_value.dtype == dtype
    assert result.best_params.dtype == dtype
    assert float(result.best_value) < 1.0
    assert int(result.status) == annealax.AnnealStatus.COMPLETED


@pytest.mark.parametrize("dtype", DTYPES)
def test_anneal_options(dtype):
    result = annealax.anneal(
        rastrigin,
        jax.random.uniform(jax.random.key(0), (8, 3), dtype, -5.0, 5.0),
        key=jax.random.key(1),
        num_steps=200,
        num_chains=8,
        bounds=(jnp.full(3, -5.12, dtype), jnp.array([5.12, 5.12, jnp.inf], dtype)),
        replica_exchange=annealax.replica_exchange(2),
        target_value=-1.0,
        patience=150,
        per_chain_init=True,
    )
    assert result.best_value.dtype == dtype
    population = annealax.anneal(
        rastrigin,
        jnp.full(3, 2.0, dtype),
        key=2,
        num_steps=50,
        num_chains=8,
        step_size=1.0,
        proposal=annealax.differential_evolution(),
    )
    assert population.best_value.dtype == dtype
    assert result.num_evaluations.dtype == jnp.int32


@pytest.mark.parametrize("dtype", DTYPES)
def test_metropolis_update_loop(dtype):
    tx = annealax.metropolis(
        16,
        key=0,
        temperature=annealax.geometric_temperature(1.0, 1e-3, 50),
        step_size="auto",
        proposal=annealax.jumps(probability=0.3),
        bounds=(-5.0, 5.0),
        minibatch=True,
    )
    params = jnp.full(3, 2.0, dtype)
    state = tx.init(params)
    step = jax.jit(lambda p, s: tx.update(None, s, p, value_fn=rastrigin))
    for _ in range(50):
        updates, state = step(params, state)
        params = optax.apply_updates(params, updates)
    assert params.dtype == dtype
    assert float(state.best_value) < float(rastrigin(jnp.full(3, 2.0)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_coolmomentum_and_track_temperature(dtype):
    tx = optax.chain(
        annealax.coolmomentum(learning_rate=0.05, momentum=0.99, total_steps=100),
        annealax.track_temperature(),
    )
    params = jnp.zeros(4, dtype)
    state = tx.init(params)
    for _ in range(100):
        grads = jax.grad(lambda w: jnp.sum((w - 3.0) ** 2))(params)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    assert params.dtype == dtype
    np.testing.assert_allclose(params, 3.0, atol=0.5)
    temperatures = optax.tree.get_all_with_path(state, "temperature")
    assert len(temperatures) == 2
