"""annealax.mixture: one of several moves at each step, chosen at random."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from chains import boltzmann_samples, check_boltzmann_samples, run_chains

import annealax


def shift(amount):
    """A population move that adds ``amount`` to every chain."""
    return annealax.population_move(lambda key, chains, step_size: chains + amount)


def mean_shift(proposal, num_steps=4000):
    """The mean step of chains on a flat loss (every proposal is accepted)."""
    tx = annealax.metropolis(
        2, key=7, temperature=1.0, step_size=1.0, proposal=proposal, adaptation=None
    )
    state = run_chains(tx, jnp.zeros(()), lambda x: 0.0 * x, num_steps)
    return np.asarray(state.chains) / num_steps


@pytest.mark.parametrize(
    ("probabilities", "expected"), [(None, 1.5), ((1, 3), 1.75), ((0.9, 0.1), 1.1)]
)
def test_each_step_takes_one_move_with_its_probability(probabilities, expected):
    # The chains gain 1 or 2 per step; over 4000 steps the mean gain's standard error is at
    # most 0.5 / sqrt(4000) = 0.008. Both chains take the same move at each step.
    gain = mean_shift(annealax.mixture(shift(1.0), shift(2.0), probabilities=probabilities))
    assert gain[0] == gain[1]
    assert abs(gain[0] - expected) < 0.04


@pytest.mark.slow
def test_a_mixture_with_draws_keeps_the_boltzmann_distribution():
    # Random-walk steps mixed with draws from the population's Gaussian (an asymmetric move
    # with its Hastings correction): if the mixture dropped the correction, the draws would
    # shrink the chains' covariance.
    move = annealax.mixture(
        annealax.random_walk(), annealax.covariance_move(independent=1.0), probabilities=(1, 3)
    )
    samples, starts = boltzmann_samples(move, 0.5, num_chains=2048, key=4, seed=2)
    check_boltzmann_samples(samples, 0.5, starts)


def test_a_mixture_of_symmetric_moves_samples_the_boltzmann_distribution():
    move = annealax.mixture(annealax.random_walk(), annealax.covariance_move())
    samples, starts = boltzmann_samples(move, 0.5, num_chains=1024, key=5, seed=3)
    check_boltzmann_samples(samples, 0.5, starts)


def test_coordinate_and_covariance_moves_together_descend_a_rotated_valley():
    # A rotated ellipsoid of condition 1e4 in 6 dimensions: the coordinate moves alone end
    # near 23, the mixture with the covariance move near 0.25.
    rotation = jnp.asarray(np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))[0])
    scales = jnp.asarray(10.0 ** (4 * np.arange(6) / 5), jnp.float32)
    coordinate_moves = annealax.jumps(annealax.random_walk(count=1))

    def best(proposal):
        result = annealax.anneal(
            lambda x: jnp.sum(scales * (rotation @ x) ** 2), jnp.full(6, 3.0), key=0,
            num_steps=1000, num_chains=32, proposal=proposal,
        )  # fmt: skip
        return float(result.best_value)

    mixed = best(annealax.mixture(coordinate_moves, annealax.covariance_move()))
    assert mixed < 0.1 * best(coordinate_moves)


def test_runs_vmapped_over_keys_and_repeats_with_the_same_key():
    move = annealax.mixture("gaussian", annealax.covariance_move(independent=0.5))

    def run(key):
        return annealax.anneal(
            lambda x: jnp.sum(x**2), jnp.ones(2), key=key, num_steps=50, num_chains=8,
            proposal=move,
        ).best_value  # fmt: skip

    keys = jax.random.split(jax.random.key(0), 3)
    vmapped = jax.vmap(run)(keys)
    np.testing.assert_array_equal(vmapped, jnp.stack([run(key) for key in keys]))
    assert len(set(np.asarray(vmapped).tolist())) == 3


def test_the_mixture_needs_the_chains_of_its_most_demanding_move():
    move = annealax.mixture("gaussian", annealax.differential_evolution())
    assert move.min_chains == 4
    with pytest.raises(ValueError, match="num_chains` must be >= 4"):
        annealax.metropolis(2, key=0, proposal=move)


def test_minibatch_tests_take_symmetric_mixtures_and_refuse_asymmetric_ones():
    def losses(x):
        return jnp.stack([x[0] ** 2, x[1] ** 2])

    def run(move):
        tx = annealax.metropolis(
            8, key=0, temperature=1.0, proposal=move, minibatch=annealax.minibatch_barker(2)
        )
        return run_chains(tx, jnp.ones(2), losses, 5)

    symmetric = annealax.mixture("gaussian", annealax.differential_evolution())
    assert np.all(np.isfinite(np.asarray(run(symmetric).values)))
    with pytest.raises(ValueError, match="not symmetric"):
        run(annealax.mixture("gaussian", annealax.covariance_move(independent=0.5)))


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("gaussian",), {}, "two or more proposals, got 1"),
        (("gaussian", "cauchy"), {"probabilities": (1.0,)}, "a tuple of 2 floats"),
        (("gaussian", "cauchy"), {"probabilities": 0.5}, "a tuple of 2 floats"),
        (("gaussian", "cauchy"), {"probabilities": (1.0, 0.0)}, r"> 0, got 0.0 in \(1.0, 0.0\)"),
        (("gaussian", "cauchy"), {"probabilities": (1.0, float("nan"))}, "finite floats > 0"),
        (("gaussian", "cauchy"), {"probabilities": (True, 1.0)}, "got True"),
        (("gaussian", "bogus"), {}, "bogus"),
    ],
)
def test_bad_input_names_the_argument_and_the_value(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        annealax.mixture(*args, **kwargs)
