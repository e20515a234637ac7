"""The covariance move: the Boltzmann law, the half that moves, rotation invariance, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from chains import boltzmann_samples, check_boltzmann_samples
from scipy import stats

import annealax


@pytest.mark.slow
@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_covariance_move_samples_the_boltzmann_distribution(temperature):
    samples, starts = boltzmann_samples(
        annealax.covariance_move(), temperature, num_chains=2048, key=3, seed=1
    )
    check_boltzmann_samples(samples, temperature, starts)


def test_covariance_move_moves_one_half_along_the_other_halfs_span():
    tx = annealax.metropolis(
        8, key=0, step_size=1.0, proposal=annealax.covariance_move(noise=0.0), per_chain_init=True
    )
    directions = np.array([[1.0, 2.0, -1.0], [2.0, -1.0, 0.5]])
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    # The first half on one line, the second half on another.
    line = np.concatenate(
        [np.arange(4.0)[:, None] * directions[0], np.arange(4.0)[:, None] * directions[1] + 1.0]
    )
    line = jnp.asarray(line, jnp.float32)
    state = tx.init(line)
    _, state = tx.update(None, state, line, value_fn=lambda x: jnp.sum(x) * 0.0)
    moved = np.any(np.asarray(state.chains) != np.asarray(line), axis=1)
    assert moved.tolist() in ([True] * 4 + [False] * 4, [False] * 4 + [True] * 4)
    steps = np.asarray(state.chains - line)[moved]
    # Without noise, every step lies along the line of the other, held half.
    other = directions[1] if moved[0] else directions[0]
    np.testing.assert_allclose(steps - np.outer(steps @ other, other), 0.0, atol=1e-5)
    assert np.all(np.abs(steps @ other) > 0)


def test_coinciding_chains_take_isotropic_steps_of_their_step_size():
    tx = annealax.metropolis(64, key=2, step_size=0.5, proposal=annealax.covariance_move())
    params = jnp.full(4, 1.0)
    state = tx.init(params)
    _, state = tx.update(None, state, params, value_fn=lambda x: jnp.sum(x) * 0.0)
    steps = np.asarray(state.chains) - 1.0
    moved = np.any(steps != 0, axis=1)
    assert moved.sum() == 32
    np.testing.assert_allclose(steps[moved].std(), 0.5, rtol=0.15)


def ellipsoid(x):
    return jnp.sum(10.0 ** (3 * jnp.arange(x.shape[0]) / (x.shape[0] - 1)) * x**2)


ROTATION = np.linalg.qr(np.random.default_rng(7).normal(size=(6, 6)))[0]


def rotated_ellipsoid(y):
    return ellipsoid(jnp.asarray(ROTATION, y.dtype) @ y)


def best_values(value_fn, start, proposal, seeds):
    """Best values of `anneal` runs over ``seeds``, one compiled call vmapped over the keys."""

    def run(key):
        result = annealax.anneal(
            value_fn, start, key=key, num_steps=300, num_chains=16, proposal=proposal
        )
        return result.best_value

    keys = jax.vmap(jax.random.key)(jnp.arange(seeds))
    return np.log10(np.asarray(jax.jit(jax.vmap(run))(keys), np.float64))


@pytest.mark.slow
def test_annealing_with_the_covariance_move_does_not_depend_on_the_axes():
    start = jnp.full(6, 2.0, jnp.float32)
    rotated_start = jnp.asarray(ROTATION.T, jnp.float32) @ start  # the same point, rotated
    move = annealax.covariance_move()
    aligned = best_values(ellipsoid, start, move, 24)
    rotated = best_values(rotated_ellipsoid, rotated_start, move, 24)
    # The same distribution of results over seeds...
    assert stats.ks_2samp(aligned, rotated).pvalue > 0.01
    assert abs(np.median(aligned) - np.median(rotated)) < 0.5  # decades
    # ... which one-coordinate moves do not have: the test can tell the two apart.
    coordinates = annealax.random_walk(count=1)
    aligned_coordinates = best_values(ellipsoid, start, coordinates, 24)
    rotated_coordinates = best_values(rotated_ellipsoid, rotated_start, coordinates, 24)
    assert stats.ks_2samp(aligned_coordinates, rotated_coordinates).pvalue < 1e-3


def test_coinciding_chains_of_mixed_dtypes_take_isotropic_steps():
    # Rounding in the coarser dtype (bfloat16) is not a spread of the chains.
    # Halves of 26 chains: their bfloat16 mean of 3.3 is off by rounding.
    tx = annealax.metropolis(52, key=4, step_size=0.5, proposal=annealax.covariance_move())
    params = {"a": jnp.full(3, 1.0), "b": jnp.full(2, 3.3, jnp.bfloat16)}
    state = tx.init(params)
    _, state = tx.update(None, state, params, value_fn=lambda p: jnp.sum(p["a"]) * 0.0)
    steps = np.asarray(state.chains["a"]) - 1.0
    moved = np.any(steps != 0, axis=1)
    assert moved.sum() == 26
    np.testing.assert_allclose(steps[moved].std(), 0.5, rtol=0.2)


def test_covariance_move_checks_its_input():
    with pytest.raises(ValueError, match="`num_chains` must be >= 4"):
        annealax.metropolis(3, key=0, proposal=annealax.covariance_move())
    with pytest.raises(ValueError, match="`noise`"):
        annealax.covariance_move(noise=-1.0)
    with pytest.raises(ValueError, match=r"covariance_move.*floating-point"):
        annealax.anneal(
            lambda x: jnp.sum(x),
            jnp.arange(3),
            key=0,
            num_steps=2,
            num_chains=8,
            proposal=annealax.covariance_move(),
        )
