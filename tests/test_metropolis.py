"""The Metropolis annealer: correct sampling, safe acceptance, caching, determinism, bad input."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from chains import run_chains
from scipy import integrate, stats

import annealax
from annealax._annealing import kernel


def double_well(x):
    return jnp.sum(jnp.square(jnp.square(x) - 1.0))


def chi_square_p_value(samples, log_density, edges):
    """Goodness of fit of ``samples`` to the density ``exp(log_density)`` on the bins ``edges``."""
    weights = np.array(
        [
            integrate.quad(lambda x: np.exp(log_density(x)), a, b)[0]
            for a, b in itertools.pairwise(edges)
        ]
    )
    expected = weights / weights.sum() * len(samples)
    observed, _ = np.histogram(samples, bins=edges)
    assert observed.sum() == len(samples), "samples outside the binned range"
    return stats.chisquare(observed, expected).pvalue


@pytest.mark.parametrize(("proposal", "step_size"), [("gaussian", 0.8), ("cauchy", 0.4)])
def test_fixed_temperature_samples_the_boltzmann_distribution_in_1d(proposal, step_size):
    temperature = 0.3
    tx = annealax.metropolis(
        4096,
        key=jax.random.key(7),
        temperature=temperature,
        step_size=step_size,
        proposal=proposal,
        adaptation=None,
    )
    state = run_chains(tx, jnp.zeros(1), double_well, 400)
    samples = np.asarray(state.chains[:, 0], dtype=np.float64)
    edges = np.linspace(-2.2, 2.2, 23)
    p_value = chi_square_p_value(samples, lambda x: -((x * x - 1.0) ** 2) / temperature, edges)
    assert p_value > 1e-3
    # The same samples are far from the distribution at twice the temperature.
    wrong = chi_square_p_value(samples, lambda x: -((x * x - 1.0) ** 2) / (2 * temperature), edges)
    assert wrong < 1e-6


def test_fixed_temperature_samples_the_boltzmann_distribution_in_2d():
    temperature = 0.5
    precision = np.array([[2.0, 1.2], [1.2, 1.5]])

    def energy(x):
        return 0.5 * x @ jnp.asarray(precision, jnp.float32) @ x

    tx = annealax.metropolis(8192, key=3, temperature=temperature, step_size=0.7, adaptation=None)
    state = run_chains(tx, jnp.zeros(2), energy, 400)
    samples = np.asarray(state.chains, dtype=np.float64)
    covariance = temperature * np.linalg.inv(precision)
    standard_error = np.sqrt(np.diag(covariance) / len(samples))
    np.testing.assert_array_less(np.abs(samples.mean(axis=0)), 5 * standard_error)
    np.testing.assert_allclose(np.cov(samples.T), covariance, rtol=0.08, atol=0.02)


def test_reflection_at_the_bounds_keeps_the_uniform_distribution():
    tx = annealax.metropolis(
        4096, key=5, temperature=1.0, step_size=0.7, bounds=(0.0, 1.0), adaptation=None
    )
    state = run_chains(tx, jnp.full(1, 0.1), lambda x: jnp.zeros(()), 50)
    samples = np.asarray(state.chains[:, 0], dtype=np.float64)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    assert stats.kstest(samples, "uniform").pvalue > 1e-3


def test_bounds_as_pytrees_keep_every_coordinate_inside():
    params = {"a": jnp.zeros(3), "b": jnp.zeros(())}
    lower = {"a": jnp.array([-1.0, 0.0, -3.0]), "b": jnp.asarray(-0.5)}
    upper = {"a": jnp.array([1.0, 0.5, 3.0]), "b": jnp.asarray(0.25)}
    tx = annealax.metropolis(64, key=0, step_size=10.0, bounds=(lower, upper))
    state = run_chains(tx, params, lambda p: jnp.sum(p["a"]) + p["b"], 20)
    for name in params:
        chains = np.asarray(state.chains[name])
        assert (chains >= np.asarray(lower[name])).all()
        assert (chains <= np.asarray(upper[name])).all()
        assert chains.std() > 0


def test_at_zero_temperature_no_uphill_move_is_accepted():
    tx = annealax.metropolis(256, key=1, temperature=lambda count: jnp.zeros([]), step_size=0.5)
    params = jnp.full(2, 2.0)
    state = tx.init(params)
    update = jax.jit(lambda s: tx.update(None, s, params, value_fn=double_well)[1])
    state = update(state)
    for _ in range(20):
        previous = state.values
        state = update(state)
        assert bool(jnp.all(state.values <= previous))
    assert float(jnp.mean(state.acceptance_rate)) > 0.0


def test_acceptance_is_tested_in_log_space():
    current = jnp.array([0.0, 0.0, 0.0, 1e30, 0.0])
    proposed = jnp.array([1e30, -1e30, 1e-3, 0.0, 1.0])
    log_u = jnp.log(jnp.full(5, 0.5))
    for temperature in (1e-30, 1.0, 1e30):
        accepted = kernel.accept(current, proposed, jnp.asarray(temperature), log_u)
        assert accepted.tolist()[:4] == [False, True, temperature >= 1.0, True]
    # exp(-1 / T) against u = 0.5: accepted exactly when T > 1 / log(2).
    for temperature, expected in (
        (1.0 / np.log(2.0) * 0.99, False),
        (1.0 / np.log(2.0) * 1.01, True),
    ):
        accepted = kernel.accept(current, proposed, jnp.asarray(temperature), log_u)
        assert bool(accepted[4]) is expected


def test_non_finite_proposals_are_never_accepted():
    def loss(x):
        value = jnp.sum(jnp.square(x))
        return jnp.where(x[0] > 0.0, jnp.nan, jnp.where(x[1] > 0.0, jnp.inf, value))

    tx = annealax.metropolis(512, key=2, temperature=1e6, step_size=1.0)
    state = run_chains(tx, jnp.full(2, -3.0), loss, 30)
    assert bool(jnp.all(jnp.isfinite(state.values)))
    assert bool(jnp.all(state.chains <= 0.0))
    assert float(jnp.mean(state.acceptance_rate)) > 0.1


def test_nan_start_counts_as_infinite_energy_that_a_finite_proposal_replaces():
    def loss(x):
        return jnp.where(jnp.abs(x[0]) < 1e-6, jnp.nan, jnp.sum(jnp.square(x)))

    tx = annealax.metropolis(32, key=4, temperature=1e-3, step_size=0.1)
    params = jnp.zeros(2)
    state = tx.init(params)
    updates, state = jax.jit(lambda s: tx.update(None, s, params, value_fn=loss))(state)
    assert bool(jnp.all(jnp.isfinite(state.values)))
    assert bool(jnp.all(state.chains[:, 0] != 0.0))
    assert bool(jnp.isfinite(state.best_value))
    assert bool(jnp.all(jnp.isfinite(updates)))


def count_evaluations(minibatch, num_steps, num_chains=8):
    calls = []

    def loss(x):
        jax.debug.callback(lambda value: calls.append(1), x)
        return jnp.sum(jnp.square(x))

    tx = annealax.metropolis(num_chains, key=0, minibatch=minibatch)
    run_chains(tx, jnp.zeros(3), loss, num_steps)
    jax.effects_barrier()
    return len(calls)


def test_cached_energies_cost_one_evaluation_per_chain_and_step():
    assert count_evaluations(minibatch=False, num_steps=5) == 8 * (5 + 1)
    assert count_evaluations(minibatch=True, num_steps=5) == 8 * 2 * 5


@pytest.mark.parametrize("minibatch", [False, True])
def test_minibatch_mode_compares_current_and_proposed_on_the_same_batch(minibatch):
    """With a loss that changes between steps, only minibatch mode keeps values up to date."""
    tx = annealax.metropolis(64, key=6, temperature=0.5, step_size=0.3, minibatch=minibatch)
    params = jnp.zeros(2)
    state = tx.init(params)

    def loss_for(batch):
        return lambda x: jnp.sum(jnp.square(x - batch))

    @jax.jit
    def update(state, batch):
        return tx.update(None, state, params, value_fn=loss_for(batch))[1]

    up_to_date = []
    for batch in (0.0, 1.0, 2.0, 3.0):
        state = update(state, jnp.full(2, batch, jnp.float32))
        fresh = jax.vmap(loss_for(jnp.full(2, batch, jnp.float32)))(state.chains)
        up_to_date.append(bool(jnp.allclose(state.values, fresh)))
    # The first step evaluates the starting points on its own batch in both modes; afterwards
    # the cached values of the rejected chains are those of an earlier batch.
    assert up_to_date == [True, minibatch, minibatch, minibatch]


def test_updates_move_params_to_the_best_chain_of_the_step():
    tx = annealax.metropolis(32, key=8, temperature=0.1, step_size=0.3)
    params = jnp.full(3, 1.5)
    state = tx.init(params)
    update = jax.jit(lambda state, params: tx.update(None, state, params, value_fn=double_well))
    for _ in range(5):
        updates, state = update(state, params)
        params = optax.apply_updates(params, updates)
        best = int(jnp.argmin(state.values))
        np.testing.assert_allclose(params, state.chains[best], atol=1e-6)
        assert float(state.best_value) <= float(jnp.min(state.values))
        assert float(double_well(state.best_params)) == pytest.approx(float(state.best_value))


def test_same_key_is_bit_identical_and_other_keys_differ():
    def final(key):
        return run_chains(annealax.metropolis(16, key=key), jnp.zeros(3), double_well, 20)

    first, again, other = final(0), final(0), final(1)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again), strict=True):
        assert bool(jnp.array_equal(a, b))
    assert not bool(jnp.array_equal(first.chains, other.chains))
    assert len({tuple(np.asarray(c).tolist()) for c in first.chains}) == 16  # chains differ


def test_int_typed_and_legacy_keys_agree():
    results = [
        run_chains(annealax.metropolis(8, key=key), jnp.zeros(2), double_well, 5).chains
        for key in (3, jax.random.key(3), jax.random.PRNGKey(3))
    ]
    for chains in results[1:]:
        assert bool(jnp.array_equal(chains, results[0]))


def test_rbg_keys_are_kept_with_their_implementation():
    key = jax.random.key(0, impl="rbg")
    state = run_chains(annealax.metropolis(4, key=key), jnp.zeros(2), double_well, 3)
    assert state.rng_key.shape == (4, *jax.random.key_data(key).shape)
    # By hand: one rbg key per chain, each split at every step and its first part kept.
    keys = jax.random.split(key, 4)
    for _ in range(3):
        keys = kernel.split_keys(keys).next
    np.testing.assert_array_equal(state.rng_key, jax.random.key_data(keys))


FIELDS = {
    "count": lambda state: state.count,
    "rng_key": lambda state: state.walkers.rng_key,
    "chains": lambda state: state.walkers.chains,
    "values": lambda state: state.walkers.values,
    "log_step_factor": lambda state: state.walkers.log_step_factor,
    "acceptance_rate": lambda state: state.walkers.acceptance_rate,
    "rung": lambda state: state.walkers.rung,
    "temperature_scale": lambda state: state.temperature_scale,
    "swap_rate": lambda state: state.swap_rate,
    "best_params": lambda state: state.best_params,
    "best_value": lambda state: state.best_value,
    "best_step": lambda state: state.best_step,
    "temperature": lambda state: state.info.temperature,
    "step_size": lambda state: state.info.chain.step_size,
    "jumped": lambda state: state.info.chain.jumped,
    "num_accepted": lambda state: state.info.num_accepted,
    "evaluations": lambda state: state.info.evaluations,
}
"""Every field of a `MetropolisState`, by name, and where it lies in the nested state."""


def test_state_holds_plain_arrays_readable_with_optax_tree_get():
    params = {"w": jnp.array([1.0, 2.0, 3.0])}
    tx = annealax.metropolis(
        8,
        key=0,
        temperature=annealax.auto_temperature(num_steps=10),
        step_size=0.25,
        replica_exchange=annealax.replica_exchange(2),
    )
    state = tx.init(params)
    for leaf in jax.tree.leaves(state):
        assert not jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)
    # The state before the first step, by hand.
    expected = {
        "count": 0,
        "rng_key": jax.random.key_data(jax.random.split(jax.random.key(0), 8)),
        "chains": {"w": np.tile([1.0, 2.0, 3.0], (8, 1))},
        "values": np.full(8, np.inf),
        "log_step_factor": np.zeros(8),
        "acceptance_rate": np.zeros(8),
        "rung": np.tile([0, 1], 4),
        "temperature_scale": 0.0,  # measured at the first step
        "swap_rate": np.zeros(1),
        "best_params": {"w": np.array([1.0, 2.0, 3.0])},
        "best_value": np.inf,
        "best_step": 0,
        "temperature": 0.0,
        "step_size": np.full(8, 0.25),
        "jumped": np.zeros(8, bool),
        "num_accepted": 0,
        "evaluations": 0,
    }
    assert set(expected) == set(FIELDS)
    for name, where in FIELDS.items():
        found = optax.tree.get(state, name)
        assert jax.tree.structure(found) == jax.tree.structure(where(state)), name
        for leaf, nested, value in zip(
            jax.tree.leaves(found),
            jax.tree.leaves(where(state)),
            jax.tree.leaves(expected[name]),
            strict=True,
        ):
            assert leaf is nested, name
            np.testing.assert_array_equal(leaf, value, err_msg=name)
    # The attributes are the nested fields.
    for name in ("rng_key", "chains", "values", "log_step_factor", "acceptance_rate", "rung"):
        assert getattr(state, name) is getattr(state.walkers, name)
    assert state.temperature is state.info.temperature
    assert state.step_size is state.info.chain.step_size


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(num_chains=0), r"`num_chains` must be a positive int, got 0"),
        (dict(num_chains=2.5), r"`num_chains` must be a positive int, got 2.5"),
        (
            dict(temperature=0.0),
            r"`temperature` must be finite and > 0, an optax.Schedule or annealax.auto.*, got 0.0",
        ),
        (dict(temperature=-1.0), r"`temperature` must be finite and > 0, .* got -1.0"),
        (dict(temperature="hot"), r"`temperature` must be finite and > 0, .* got 'hot'"),
        (
            dict(step_size=0),
            r"`step_size` must be finite and > 0, an optax.Schedule or .auto., got 0",
        ),
        (dict(proposal="levy"), r"`proposal` must be one of \('gaussian', 'cauchy'\).*'levy'"),
        (dict(temperature="auto"), r"`temperature=.auto.` needs the length of the run"),
        (dict(adaptation=0.234), r"`adaptation` must be annealax.adapt_step_size"),
        (
            dict(minibatch=1),
            r"`minibatch` must be True, False or annealax.minibatch_barker\(...\), got 1",
        ),
        (dict(replica_exchange=4), r"`replica_exchange` must be annealax.replica_exchange"),
        (
            dict(num_chains=6, replica_exchange=annealax.replica_exchange(4)),
            r"`num_chains` must be a multiple of the ladder's 4 temperatures, got 6",
        ),
        (dict(bounds=(1.0, 0.0)), r"`bounds` must have lower < upper everywhere, got \(1.0, 0.0\)"),
        (dict(bounds=(jnp.zeros(2), jnp.array([1.0, 0.0]))), r"`bounds` must have lower < upper"),
        (dict(bounds=1.0), r"`bounds` must be a pair \(lower, upper\), got 1.0"),
        (dict(key="seed"), r"`key` must be an int seed, .* got 'seed'"),
        (dict(key=jax.random.split(jax.random.key(0), 2)), r"`key` must be a single key"),
        (dict(acceptance_window=0), r"`acceptance_window` must be a positive int, got 0"),
    ],
)
def test_bad_static_arguments_raise_naming_argument_and_value(kwargs, message):
    arguments = {"num_chains": 4, "key": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        annealax.metropolis(arguments.pop("num_chains"), **arguments)


def test_value_fn_is_required_and_callable():
    tx = annealax.metropolis(4, key=0)
    params = jnp.zeros(2)
    state = tx.init(params)
    with pytest.raises(ValueError, match=r"`value_fn` is required"):
        tx.update(None, state, params)
    with pytest.raises(ValueError, match=r"`value_fn` must be callable, got 3.0"):
        tx.update(None, state, params, value_fn=3.0)
    with pytest.raises(ValueError, match=r"`value_fn` must return a scalar loss, got shape \(2,\)"):
        tx.update(None, state, params, value_fn=lambda x: x)
    with pytest.raises(ValueError, match=r"`params` is required"):
        tx.update(None, state, None, value_fn=double_well)
