"""Population moves: a user's, and differential evolution, which keeps the Boltzmann law."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from chains import boltzmann_samples, check_boltzmann_samples

import annealax


@pytest.mark.slow
@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_differential_evolution_samples_the_boltzmann_distribution(temperature):
    samples, starts = boltzmann_samples(
        annealax.differential_evolution(), temperature, num_chains=4096, key=5, seed=0
    )
    check_boltzmann_samples(samples, temperature, starts)


def test_differential_evolution_moves_one_half_and_holds_the_other():
    tx = annealax.metropolis(
        8, key=0, step_size=1.0, proposal=annealax.differential_evolution(), per_chain_init=True
    )
    starts = jnp.arange(16.0).reshape(8, 2)
    state = tx.init(starts)
    _, state = tx.update(None, state, starts, value_fn=lambda x: jnp.sum(x) * 0.0)
    moved = np.any(np.asarray(state.chains) != np.asarray(starts), axis=1)
    assert moved.tolist() in ([True] * 4 + [False] * 4, [False] * 4 + [True] * 4)
    assert int(state.info.num_accepted) == 8  # a flat loss accepts every proposal


@pytest.mark.slow
def test_differential_evolution_beats_coordinate_moves_on_a_rotated_ellipsoid():
    def ellipsoid(x):
        rotation = jnp.asarray(np.linalg.qr(np.random.default_rng(1).normal(size=(8, 8)))[0])
        z = rotation.astype(jnp.float32) @ x
        return jnp.sum(10.0 ** (4 * jnp.arange(8) / 7) * z**2)

    settings = dict(key=0, num_steps=1500, num_chains=32, bounds=(-5.0, 5.0))
    population = annealax.anneal(
        ellipsoid,
        jnp.full(8, 3.0),
        proposal=annealax.differential_evolution(),
        step_size=1.0,
        **settings,
    )
    coordinates = annealax.anneal(ellipsoid, jnp.full(8, 3.0), **settings)
    assert float(population.best_value) < 1e-3 * float(coordinates.best_value)


def test_a_population_move_of_ones_own_reads_the_other_chains():
    seen = []

    def towards_others(key, chains, step_size):
        seen.append(chains.shape)
        shifted = jnp.roll(chains, 1, axis=0)
        noise = jax.random.normal(key, chains.shape)
        return chains + step_size[:, None] * (0.0 * shifted + noise)

    tx = annealax.metropolis(6, key=1, proposal=annealax.population_move(towards_others))
    params = jnp.zeros(3)
    state = tx.init(params)
    _, state = tx.update(None, state, params, value_fn=lambda x: jnp.sum(x**2))
    assert seen == [(6, 3)]
    assert int(state.count) == 1
    assert bool(jnp.any(state.chains != 0.0))
    with pytest.raises(ValueError, match="`fn` must be callable"):
        annealax.population_move(3)


def test_differential_evolution_needs_four_chains():
    with pytest.raises(ValueError, match="`num_chains` must be >= 4"):
        annealax.metropolis(3, key=0, proposal=annealax.differential_evolution())
    with pytest.raises(ValueError, match="`noise` must be a float >= 0"):
        annealax.differential_evolution(noise=-1.0)


class FlipWithLocalFields:
    """A model's own move: one spin flip of a ferromagnetic ring, scored by its energy change.

    The chains carry the spins and their energy; the move reads the two neighbours of the
    flipped spin instead of re-evaluating the whole ring.
    """

    def propose(self, keys, chains, step_size, context):
        def flip(key, chain):
            spins = chain["spins"]
            site = jax.random.randint(key, (), 0, spins.size)
            neighbours = spins[(site - 1) % spins.size] + spins[(site + 1) % spins.size]
            delta = 2.0 * spins[site] * neighbours
            new = {"spins": spins.at[site].multiply(-1.0), "energy": chain["energy"] + delta}
            return new

        proposed = jax.vmap(flip)(keys.proposal, chains)
        none = jnp.zeros(step_size.shape, bool)
        return annealax.Proposal(proposed, proposed["energy"], step_size, none, none)

    def check_params(self, params):
        del params


def ring_energy(chain):
    spins = chain["spins"]
    return -jnp.sum(spins * jnp.roll(spins, 1))


def test_a_model_that_supplies_its_own_energies_plugs_into_the_kernel():
    spins = jnp.asarray(np.random.default_rng(2).choice([-1.0, 1.0], 16), jnp.float32)
    start = {"spins": spins, "energy": ring_energy({"spins": spins})}
    counted = []

    def value_fn(chain):
        counted.append(1)
        return chain["energy"]

    result = annealax.anneal(
        value_fn,
        start,
        key=0,
        num_steps=400,
        num_chains=8,
        proposal=FlipWithLocalFields(),
        temperature=annealax.geometric_temperature(2.0, 0.05, 400),
        adaptation=None,
    )
    assert float(result.best_value) == -16.0
    assert float(ring_energy(result.best_params)) == -16.0
    assert counted == [1]  # traced once: the starting energies; proposals bring their own
