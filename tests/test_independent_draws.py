"""covariance_move(independent=p): draws from the held half's Gaussian, with a Hastings test."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from chains import boltzmann_samples, check_boltzmann_samples

import annealax
from annealax._annealing import kernel


@pytest.mark.slow
@pytest.mark.parametrize("independent", [0.5, 1.0])
def test_draws_keep_the_boltzmann_distribution(independent):
    # Without the Hastings correction, draws from the population's Gaussian shrink it: the
    # chains' covariance ends at 0.44 (p = 0.5) and 0.005 (p = 1) of the Boltzmann law's.
    move = annealax.covariance_move(independent=independent)
    samples, starts = boltzmann_samples(move, 0.5, num_chains=2048, key=3, seed=1)
    check_boltzmann_samples(samples, 0.5, starts)


def draw_everything(bounds):
    """One proposal of ``covariance_move(independent=1)`` for chains uniform in [0, 1]^2."""
    move = annealax.covariance_move(independent=1.0)
    chains = jnp.asarray(np.random.default_rng(2).uniform(size=(1024, 2)), jnp.float32)
    context = kernel.Context(
        value_fn=jnp.sum,
        dtype=jnp.float32,
        bounds=bounds,
        bounds_finite=bounds is not None,
        initial_step_size=jnp.asarray(0.1),
        width=None,
    )
    keys = kernel.split_keys(jax.random.split(jax.random.key(5), 1024))
    return move.propose(keys, chains, jnp.full(1024, 0.1), context)


def test_draws_outside_the_bounds_are_rejected_not_reflected():
    # The held half's Gaussian, N(0.5, 1/12) on each side, puts about 16% of the draws outside
    # the box [0, 1]^2: those get an infinite loss (reflected, they would be scored inside).
    proposal = draw_everything((0.0, 1.0))
    moved = ~np.asarray(proposal.held)
    rejected = ~np.isfinite(np.asarray(proposal.values))
    assert not np.any(rejected[~moved])
    assert 0.08 < rejected[moved].mean() < 0.25
    assert np.all(np.isfinite(np.asarray(draw_everything(None).values)))


def test_the_hastings_correction_enters_the_test_times_the_temperature():
    current, proposed = jnp.zeros(4), jnp.ones(4)
    log_u = jnp.array([-0.3, -0.2, -0.3, -0.2])
    log_ratio = jnp.full(4, 0.25)
    # At T = 2: accept iff 2 log u < -(1 - 2 * 0.25), that is log u < -0.25.
    accepted = kernel.accept(current, proposed, jnp.full(4, 2.0), log_u, log_ratio)
    assert accepted.tolist() == [True, False, True, False]
    # At T = 0, or a NaN one, only the loss decides: a downhill move passes, an uphill one
    # does not, whatever the correction.
    for temperature in (0.0, jnp.nan):
        t = jnp.full(2, temperature)
        assert kernel.accept(
            jnp.zeros(2), jnp.array([-1.0, 1.0]), t, jnp.full(2, -1.0), jnp.array([-1e9, 1e9])
        ).tolist() == [True, False]
    # A non-finite proposal never passes.
    assert not kernel.accept(
        jnp.zeros(1), jnp.full(1, jnp.inf), jnp.ones(1), jnp.full(1, -5.0), jnp.full(1, 1e9)
    )[0]


def test_draws_lead_from_a_local_minimum_to_the_populations_basin():
    # A rotated Rastrigin function in 4 dimensions: the draws reach the global minimum where
    # steps from each chain's own point stay in the local minimum they start beside.
    rotation = jnp.asarray(np.linalg.qr(np.random.default_rng(3).normal(size=(4, 4)))[0])

    def rastrigin(x):
        z = rotation @ x
        return jnp.sum(z**2 - 10 * jnp.cos(2 * jnp.pi * z)) + 40

    def best(independent):
        result = annealax.anneal(
            rastrigin,
            jnp.full(4, 2.5),
            key=jax.random.key(0),
            num_steps=1500,
            num_chains=32,
            bounds=(-5.0, 5.0),
            proposal=annealax.covariance_move(independent=independent),
        )
        return float(result.best_value)

    assert best(0.5) < 0.5 * best(0.0)


def test_independent_draws_check_their_input():
    with pytest.raises(ValueError, match=r"`independent` must be a float in \[0, 1\], got 1.5"):
        annealax.covariance_move(independent=1.5)
    with pytest.raises(ValueError, match=r"num_chains=8 for 4 coordinates; pass num_chains >= 10"):
        annealax.anneal(
            lambda x: jnp.sum(x**2),
            jnp.ones(4),
            key=0,
            num_steps=2,
            num_chains=8,
            proposal=annealax.covariance_move(independent=0.5),
        )
    with pytest.raises(ValueError, match=r"not symmetric.*needs the Metropolis test"):
        tx = annealax.metropolis(
            16,
            key=0,
            proposal=annealax.covariance_move(independent=0.5),
            minibatch=annealax.minibatch_barker(100),
        )
        params = jnp.ones(2)
        tx.update(None, tx.init(params), params, value_fn=lambda x: jnp.full(10, jnp.sum(x**2)))
