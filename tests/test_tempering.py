"""Replica exchange: the ladder, the swap rule by hand, and correct sampling on every rung."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_metropolis import chi_square_p_value, double_well, run_chains

import annealax
from annealax._annealing import tempering as _tempering

TEMPERATURE = 0.3
LADDER = (1.0, 2.0, 4.0)


@pytest.mark.parametrize(
    ("kwargs", "ladder"),
    [
        (dict(num_temperatures=4, max_ratio=8.0), (1.0, 2.0, 4.0, 8.0)),
        (dict(num_temperatures=3, max_ratio=100.0), (1.0, 10.0, 100.0)),
        (dict(num_temperatures=2, max_ratio=1.5), (1.0, 1.5)),
        (dict(), tuple(10.0 ** (k / 7) for k in range(8))),
        (dict(num_temperatures=3, ladder=(1, 2.5, 3)), (1.0, 2.5, 3.0)),
    ],
)
def test_ladder_is_geometric_or_as_given(kwargs, ladder):
    tempering = annealax.replica_exchange(**kwargs)
    np.testing.assert_allclose(tempering.ladder, ladder, rtol=1e-12)
    assert all(isinstance(x, float) for x in tempering.ladder)
    assert tempering.num_temperatures == len(ladder)
    assert tempering.swap_every == 10
    assert tempering == annealax.replica_exchange(**kwargs)  # hashable settings, equal by value
    assert hash(tempering) == hash(annealax.replica_exchange(**kwargs))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(num_temperatures=1), r"`num_temperatures` must be >= 2, got 1"),
        (dict(num_temperatures=0), r"`num_temperatures` must be a positive int, got 0"),
        (dict(num_temperatures=2.5), r"`num_temperatures` must be a positive int, got 2.5"),
        (dict(swap_every=0), r"`swap_every` must be a positive int, got 0"),
        (dict(swap_every=1.5), r"`swap_every` must be a positive int, got 1.5"),
        (dict(max_ratio=1.0), r"`max_ratio` must be a float > 1, got 1.0"),
        (dict(max_ratio="big"), r"`max_ratio` must be a float > 1, got 'big'"),
        (
            dict(num_temperatures=3, ladder=(1.0, 2.0)),
            r"`ladder` must be 3 increasing floats starting at 1.0, got \(1.0, 2.0\)",
        ),
        (
            dict(num_temperatures=3, ladder=(2.0, 3.0, 4.0)),
            r"`ladder` must be 3 increasing floats starting at 1.0, got \(2.0, 3.0, 4.0\)",
        ),
        (
            dict(num_temperatures=3, ladder=(1.0, 3.0, 2.0)),
            r"`ladder` must be 3 increasing floats starting at 1.0, got \(1.0, 3.0, 2.0\)",
        ),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        annealax.replica_exchange(**kwargs)


def test_number_of_chains_must_be_a_multiple_of_the_ladder():
    message = r"`num_chains` must be a multiple of the ladder's 3 temperatures, got 10"
    with pytest.raises(ValueError, match=message):
        annealax.metropolis(10, key=0, replica_exchange=annealax.replica_exchange(3))
    with pytest.raises(ValueError, match=message):
        annealax.anneal(
            double_well,
            jnp.zeros(1),
            key=0,
            num_steps=5,
            num_chains=10,
            replica_exchange=annealax.replica_exchange(3),
        )


# Two groups of three chains. Group 0: chain 0 on rung 2, chain 1 on rung 0, chain 2 on rung 1;
# group 1: chain 3 on rung 1, chain 4 on rung 2, chain 5 on rung 0. With inverse temperatures
# (1, 1/2, 1/4) the log-ratio of pair (k, k+1) is (b_k - b_{k+1}) (E_k - E_{k+1}), tested
# against the log u of the chain on the lower rung k.
RUNG = jnp.array([2, 0, 1, 1, 2, 0], jnp.int32)
VALUES = jnp.array([5.0, 3.0, 1.0, 2.0, 6.0, 0.0])
LOG_U = jnp.array([-1.2, -0.1, -0.8, -1.5, -3.0, -0.5])
INVERSE_TEMPERATURES = jnp.array([1.0, 0.5, 0.25])


def test_swap_by_hand_even_pairs():
    # Pair (0, 1). Group 0: chains 1, 2: 0.5 (3 - 1) = 1 > 0, always accepted.
    # Group 1: chains 5, 3: 0.5 (0 - 2) = -1, log u of chain 5 = -0.5 > -1: rejected (chain 3's
    # log u, -1.5, would have accepted it).
    result = _tempering.swap(RUNG, VALUES, INVERSE_TEMPERATURES, LOG_U, jnp.asarray(0))
    np.testing.assert_array_equal(result.rung, [2, 1, 0, 1, 2, 0])
    np.testing.assert_array_equal(result.source, [0, 2, 1, 3, 4, 5])
    np.testing.assert_array_equal(result.accepted, [[True, False], [False, False]])


def test_swap_by_hand_odd_pairs():
    # Pair (1, 2). Group 0: chains 2, 0: 0.25 (1 - 5) = -1, log u of chain 2 = -0.8 > -1:
    # rejected (chain 0's log u, -1.2, would have accepted it).
    # Group 1: chains 3, 4: 0.25 (2 - 6) = -1, log u of chain 3 = -1.5 < -1: accepted.
    result = _tempering.swap(RUNG, VALUES, INVERSE_TEMPERATURES, LOG_U, jnp.asarray(1))
    np.testing.assert_array_equal(result.rung, [2, 0, 1, 2, 1, 0])
    np.testing.assert_array_equal(result.source, [0, 1, 2, 4, 3, 5])
    np.testing.assert_array_equal(result.accepted, [[False, False], [False, True]])


def test_swap_under_jit_with_every_pair_accepted():
    # log u = -inf accepts every tried pair: rungs 0 <-> 1 swap in every group.
    log_u = jnp.full(6, -jnp.inf)
    result = jax.jit(_tempering.swap)(RUNG, VALUES, INVERSE_TEMPERATURES, log_u, jnp.asarray(0))
    np.testing.assert_array_equal(result.rung, [2, 1, 0, 0, 2, 1])
    np.testing.assert_array_equal(result.source, [0, 2, 1, 5, 4, 3])
    np.testing.assert_array_equal(result.accepted, [[True, False], [True, False]])


# Statistical: the chains on each rung sample the Boltzmann distribution of their temperature.


def log_boltzmann(temperature):
    return lambda x: -((x * x - 1.0) ** 2) / temperature


def edges_for(temperature, num_bins=20):
    """Bins of equal probability under the Boltzmann distribution (about 100 samples each).

    Equal-probability bins keep every expected count large: a bin far in the tail, where the
    expected count is 0.01, would turn one legitimate sample into a chi-square of 100.
    """
    grid = np.linspace(-3.0, 3.0, 200_001)
    cdf = np.cumsum(np.exp(-((grid**2 - 1.0) ** 2) / temperature))
    edges = np.interp(np.linspace(0, 1, num_bins + 1), cdf / cdf[-1], grid)
    edges[[0, -1]] = -3.0, 3.0  # E / T > 50 beyond: no sample there
    return edges


@functools.cache
def ladder_run():
    """6144 chains (2048 groups of 3 rungs) from x = 0, 400 steps, a swap round every step."""
    tx = annealax.metropolis(
        3 * 2048,
        key=jax.random.key(21),
        temperature=TEMPERATURE,
        step_size=0.8,
        adaptation=None,
        replica_exchange=annealax.replica_exchange(3, ladder=LADDER, swap_every=1),
    )
    return run_chains(tx, jnp.zeros(1), double_well, 400)


@pytest.mark.parametrize("rung", [0, 1, 2])
def test_each_rung_samples_the_boltzmann_distribution_of_its_temperature(rung):
    state = ladder_run()
    samples = np.asarray(state.chains[:, 0], np.float64)[np.asarray(state.rung) == rung]
    assert len(samples) == 2048
    temperature = TEMPERATURE * LADDER[rung]
    edges = edges_for(temperature)
    assert chi_square_p_value(samples, log_boltzmann(temperature), edges) > 1e-3
    # The same samples are far from the distribution at twice the temperature (for rung 1, that
    # of rung 2): the rungs do not mix up their temperatures.
    assert chi_square_p_value(samples, log_boltzmann(2 * temperature), edges) < 1e-6


def test_rungs_stay_a_permutation_within_each_group():
    state = ladder_run()
    rungs = np.asarray(state.rung).reshape(-1, 3)
    np.testing.assert_array_equal(np.sort(rungs, axis=1), np.broadcast_to([0, 1, 2], rungs.shape))
    # They did swap: most chains are no longer on their starting rung.
    assert (rungs != np.arange(3)).mean() > 0.5
    assert state.swap_rate.shape == (2,)
    # In equilibrium each pair swaps at the exact acceptance rate (see the test below); the
    # average over about 100 rounds of 2048 groups is within about 0.001 of it. A tolerance of
    # 0.01 still tells it from the rates of the rule with the sign flipped.
    temperatures = [TEMPERATURE * x for x in LADDER]
    expected = [expected_swap_rate(1, *temperatures[k : k + 2]) for k in range(2)]
    np.testing.assert_allclose(np.asarray(state.swap_rate), expected, atol=0.01)
    wrong = [expected_swap_rate(-1, *temperatures[k : k + 2]) for k in range(2)]
    assert np.all(np.abs(np.subtract(wrong, expected)) > 5 * 0.01)
    assert float(state.temperature) == pytest.approx(TEMPERATURE)


def boltzmann_samples(temperatures, seed):
    """One exact sample of the double well at each temperature, by inverting the CDF on a grid."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-3.0, 3.0, 200_001)
    samples = np.empty(len(temperatures))
    for temperature in set(temperatures):
        cdf = np.cumsum(np.exp(-((grid**2 - 1.0) ** 2) / temperature))
        where = np.asarray(temperatures) == temperature
        samples[where] = np.interp(rng.uniform(size=where.sum()), cdf / cdf[-1], grid)
    return samples


def expected_swap_rate(sign, t_low, t_high):
    r"""E[min(1, exp(sign (1/T_i - 1/T_j)(E_i - E_j)))], x_i, x_j independent Boltzmann samples."""
    grid = np.linspace(-3.0, 3.0, 2001)
    energy = (grid**2 - 1.0) ** 2
    p_low, p_high = (np.exp(-energy / t) / np.exp(-energy / t).sum() for t in (t_low, t_high))
    log_ratio = sign * (1 / t_low - 1 / t_high) * (energy[:, None] - energy[None, :])
    return p_low @ np.exp(np.minimum(log_ratio, 0.0)) @ p_high


def test_swap_rate_of_each_pair_matches_the_exact_acceptance():
    num_groups, num_steps, swap_every = 1024, 800, 4
    num_chains = 3 * num_groups
    tx = annealax.metropolis(
        num_chains,
        key=jax.random.key(5),
        temperature=TEMPERATURE,
        step_size=0.8,
        adaptation=None,
        acceptance_window=10_000,  # more than the 100 attempts of a pair: a plain mean
        replica_exchange=annealax.replica_exchange(3, ladder=LADDER, swap_every=swap_every),
    )
    params = jnp.zeros(1)
    # Start in equilibrium: chain c (on rung c % 3) holds an exact sample at its temperature.
    temperatures = [TEMPERATURE * LADDER[c % 3] for c in range(num_chains)]
    start = jnp.asarray(boltzmann_samples(temperatures, seed=0), jnp.float32)[:, None]
    state = tx.init(params)
    state = state._replace(walkers=state.walkers._replace(chains=start))

    def body(state, _):
        return tx.update(None, state, params, value_fn=double_well)[1], None

    state, _ = jax.jit(lambda s: jax.lax.scan(body, s, length=num_steps))(state)
    temperatures = [TEMPERATURE * x for x in LADDER]
    expected = [expected_swap_rate(1, *temperatures[k : k + 2]) for k in range(2)]
    # Each pair is tried in every other of the 200 swap rounds: 100 rounds x 1024 groups. As
    # independent trials the standard error is sqrt(p (1 - p) / 102400) < 0.0014; the spread
    # over six seeds matched it (largest deviation 0.0021), as the chains move between rounds.
    # 0.008 is about 6 standard errors.
    np.testing.assert_allclose(np.asarray(state.swap_rate), expected, atol=0.008)
    # The tolerance tells the rule from a wrong one: with the sign of the exponent flipped (the
    # hot chain's higher energy favoured), the rates would be off by far more.
    wrong = [expected_swap_rate(-1, *temperatures[k : k + 2]) for k in range(2)]
    assert np.all(np.abs(np.subtract(wrong, expected)) > 5 * 0.008)
