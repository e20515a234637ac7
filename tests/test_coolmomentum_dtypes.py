"""CoolMomentum on complex parameters records mean |dθ|²; integer parameters raise at init."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax

COMPLEX_PARAMS = {
    "w": jnp.array([1.0 + 2.0j, -0.5 + 0.25j, 3.0 - 1.0j], jnp.complex64),
    "b": jnp.array(0.5 - 0.5j, jnp.complex64),
}


def complex_loss(params):
    return sum(jnp.sum(jnp.abs(leaf - 1.0j) ** 2) for leaf in jax.tree.leaves(params))


def mean_abs_square_displacement(new, old):
    """By hand, in NumPy: the mean over the 4 complex scalars of |new - old|²."""
    differences = np.concatenate(
        [np.ravel(np.asarray(n) - np.asarray(o)) for n, o in zip(new, old, strict=True)]
    )
    return float(np.mean(differences.real**2 + differences.imag**2))


@pytest.mark.parametrize(
    "tx",
    [
        annealax.coolmomentum(0.1, 0.9, total_steps=10),
        annealax.coolmomentum(0.1, 0.9, total_steps=10, weight_decay=0.1, temperature_every=1),
        optax.chain(optax.sgd(0.1, 0.9), annealax.track_temperature()),
    ],
    ids=["coolmomentum", "coolmomentum-weight-decay", "track_temperature"],
)
def test_complex_temperature_is_the_mean_square_modulus_of_the_displacement(tx):
    params = COMPLEX_PARAMS
    state = tx.init(params)
    for _ in range(3):
        grads = jax.grad(complex_loss)(params)
        updates, state = jax.jit(tx.update)(grads, state, params)
        new_params = optax.apply_updates(params, updates)
        expected = mean_abs_square_displacement(
            jax.tree.leaves(new_params), jax.tree.leaves(params)
        )
        temperature = optax.tree.get(state, "temperature")
        assert temperature.dtype == jnp.float32
        assert expected > 0.01
        assert float(temperature) == pytest.approx(expected, rel=1e-5)
        params = new_params


def test_complex128_temperature_is_float64():
    with jax.enable_x64(True):
        params = jnp.array([1.0 + 1.0j, 2.0 - 3.0j], jnp.complex128)
        tx = annealax.coolmomentum(0.1, 0.9, total_steps=10)
        updates, state = tx.update(params, tx.init(params), params)
        temperature = optax.tree.get(state, "temperature")
        assert temperature.dtype == jnp.float64
        assert float(temperature) == pytest.approx(float(np.mean(np.abs(updates) ** 2)), rel=1e-14)


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.int8, jnp.uint8, jnp.bool_])
@pytest.mark.parametrize(
    "make",
    [
        lambda: annealax.coolmomentum(0.1),
        lambda: annealax.coolmomentum(0.1, accumulator_dtype=jnp.float32),
        lambda: annealax.scale_by_coolmomentum(0.9),
    ],
    ids=["coolmomentum", "coolmomentum-float-velocity", "scale_by_coolmomentum"],
)
def test_integer_params_raise_at_init_naming_the_dtype(make, dtype):
    tx = make()
    params = {"w": jnp.ones(3), "layer": {"count": jnp.ones(2, dtype)}}
    name = jnp.dtype(dtype).name
    with pytest.raises(ValueError, match=rf"params\['layer'\]\['count'\] of dtype {name}"):
        tx.init(params)


def test_integer_params_error_says_what_is_allowed():
    with pytest.raises(ValueError, match=r"needs floating-point or complex parameters, got params"):
        annealax.coolmomentum().init(jnp.arange(3))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32, jnp.complex64])
def test_floating_and_complex_params_keep_their_dtype(dtype):
    params = jnp.array([1.0, -2.0], dtype)
    tx = annealax.coolmomentum(0.1, 0.9, total_steps=10)
    state = tx.init(params)
    updates, new_state = jax.jit(tx.update)(params, state, params)
    assert updates.dtype == dtype
    assert optax.tree.get(new_state, "velocity").dtype == dtype
    chex_dtypes = jax.tree.map(lambda x: x.dtype, new_state)
    assert chex_dtypes == jax.tree.map(lambda x: x.dtype, state)
