"""Helpers of the Metropolis tests: scanned updates, and a rotated Gaussian target."""

import jax
import jax.numpy as jnp
import numpy as np

import annealax


def run_chains(tx, params, value_fn, num_steps):
    """``num_steps`` jitted updates; returns the final state."""

    def body(state, _):
        _, state = tx.update(None, state, params, value_fn=value_fn)
        return state, None

    state, _ = jax.jit(lambda s: jax.lax.scan(body, s, length=num_steps))(tx.init(params))
    return state


PRECISION = np.array([[50.0, 49.0], [49.0, 50.0]])
"""The precision matrix of a Gaussian rotated by 45 degrees, condition number 99."""


def rotated_energy(x):
    """$x^T P x / 2$ for `PRECISION` $P$: the Boltzmann law at $T$ has covariance $T P^{-1}$."""
    return 0.5 * x @ jnp.asarray(PRECISION, jnp.float32) @ x


def check_boltzmann_samples(samples, temperature, starts):
    """Assert that ``samples`` have the mean and covariance of the Boltzmann law at T, and that
    ``starts``, drawn at another temperature, fail the same check (the chains moved)."""
    covariance = temperature * np.linalg.inv(PRECISION)
    samples = np.asarray(samples, dtype=np.float64)
    standard_error = np.sqrt(np.diag(covariance) / len(samples))
    np.testing.assert_array_less(np.abs(samples.mean(axis=0)), 5 * standard_error)
    np.testing.assert_allclose(np.cov(samples.T), covariance, rtol=0.08)
    assert not np.allclose(np.cov(np.asarray(starts, np.float64).T), covariance, rtol=0.08)


def boltzmann_samples(proposal, temperature, *, num_chains, key, seed, num_steps=300):
    """The chains of `metropolis` with ``proposal`` at a fixed temperature on `rotated_energy`,
    and their starts.

    They start from the exact distribution at twice the temperature, so they must move to it.
    """
    tx = annealax.metropolis(
        num_chains,
        key=key,
        temperature=temperature,
        step_size=1.0,
        proposal=proposal,
        adaptation=None,
        per_chain_init=True,
    )
    covariance = temperature * np.linalg.inv(PRECISION)
    starts = np.random.default_rng(seed).multivariate_normal(
        np.zeros(2), 2 * covariance, num_chains
    )
    state = run_chains(tx, jnp.asarray(starts, jnp.float32), rotated_energy, num_steps)
    return state.chains, starts
