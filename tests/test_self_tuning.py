"""Self-tuning: step sizes adapted to a target acceptance, the measured initial temperature."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats as scipy_stats
from test_metropolis import chi_square_p_value, double_well, run_chains

import annealax
from annealax._annealing import temperature as _temperature_part

LOG_INVERSE_ACCEPTANCE = math.log(1 / 0.8)  # T0 = median uphill move / log(1 / 0.8)


def gaussian_energy(x):
    return 0.5 * jnp.sum(jnp.square(x))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "initial_step_size"),
    [(0.234, 10.0), (0.5, 0.01)],  # from far too large and far too small
)
def test_adaptation_drives_every_chain_to_the_target_acceptance(target, initial_step_size):
    tx = annealax.metropolis(
        256,
        key=jax.random.key(1),
        temperature=1.0,
        step_size=initial_step_size,
        adaptation=annealax.adapt_step_size(target),
    )
    state = run_chains(tx, jnp.zeros(10), gaussian_energy, 1000)
    rates = np.asarray(state.acceptance_rate)
    assert abs(rates.mean() - target) < 0.03
    # Each chain, not just their mean: a running mean over ~100 steps has a binomial spread of
    # sqrt(p (1 - p) / 200) < 0.036, so 9 in 10 chains lie well within 0.1 of the target.
    assert np.quantile(np.abs(rates - target), 0.9) < 0.1
    # The step sizes moved far from where they started, to the scale of the target (about
    # 2.4 / sqrt(10) = 0.75 for 0.234 in 10 dimensions at T = 1).
    median = float(jnp.median(state.step_size))
    assert 0.2 < median < 2.0
    assert median < 0.9 if target == 0.5 else median > 0.5


@functools.cache
def frozen_run():
    """Adapt for 150 steps from a step size 10x too small, then 450 more steps without."""
    adapt_steps, num_steps = 150, 600
    tx = annealax.metropolis(
        4096,
        key=jax.random.key(2),
        temperature=0.3,
        step_size=0.1,
        adaptation=annealax.adapt_step_size(0.5, steps=adapt_steps),
    )
    params = jnp.zeros(1)

    def body(state, _):
        _, state = tx.update(None, state, params, value_fn=double_well)
        return state, state.step_size

    scan = jax.jit(lambda s: jax.lax.scan(body, s, length=num_steps))
    state, step_sizes = scan(tx.init(params))
    return adapt_steps, state, np.asarray(step_sizes)


def test_adapt_steps_freezes_the_step_sizes():
    adapt_steps, state, step_sizes = frozen_run()
    # step_sizes[i] is the step size used at step i, after min(i, adapt_steps) adaptations.
    np.testing.assert_array_equal(
        step_sizes[adapt_steps:], np.broadcast_to(step_sizes[-1], (450, 4096))
    )
    assert (step_sizes[adapt_steps - 1] != step_sizes[adapt_steps]).mean() > 0.9
    assert (step_sizes[0] == np.float32(0.1)).all()
    assert np.median(step_sizes[-1]) > 0.3  # adapted up from 0.1 towards acceptance 0.5
    np.testing.assert_array_equal(state.step_size, step_sizes[-1])


@pytest.mark.slow
def test_after_adapt_steps_the_chains_sample_the_boltzmann_distribution():
    _, state, _ = frozen_run()
    samples = np.asarray(state.chains[:, 0], np.float64)
    edges = np.linspace(-2.2, 2.2, 23)
    assert chi_square_p_value(samples, lambda x: -((x * x - 1.0) ** 2) / 0.3, edges) > 1e-3
    assert chi_square_p_value(samples, lambda x: -((x * x - 1.0) ** 2) / 0.6, edges) < 1e-6


# The initial temperature, by hand: T0 = median(finite uphill moves) / log(1 / 0.8).


@pytest.mark.parametrize(
    ("values", "proposal_values", "spread"),
    [
        # Uphill moves 1, 3, 0.5, 10 (and one downhill): median (1 + 3) / 2 = 2.
        ([1.0, 1.0, 1.0, 1.0, 1.0], [2.0, 4.0, 0.5, 1.5, 11.0], 2.0),
        # Infinite and NaN proposals do not count: uphill 1 and 0.5.
        ([1.0, 1.0, 1.0, 1.0, 1.0], [2.0, np.inf, np.nan, 1.5, 1.0], 0.75),
        # A chain that starts at +inf (a NaN start) has no finite change: uphill 2 only.
        ([np.inf, 1.0, 1.0], [5.0, 3.0, 0.0], 2.0),
        # No uphill move: the median absolute change, |-2|, |-0.5|, |0| -> 0.5.
        ([3.0, 3.0, 3.0], [1.0, 2.5, 3.0], 0.5),
        # No finite change at all: 1.
        ([np.inf, np.inf], [1.0, 2.0], 1.0),
        ([1.0, 1.0], [np.nan, np.inf], 1.0),
        # Nothing changes: a zero spread falls back to 1 too.
        ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 1.0),
    ],
)
def test_initial_temperature_by_hand(values, proposal_values, spread):
    values = jnp.asarray(values, jnp.float32)
    proposal_values = jnp.asarray(proposal_values, jnp.float32)
    for function in (
        _temperature_part.initial_temperature,
        jax.jit(_temperature_part.initial_temperature),
    ):
        temperature = function(values, proposal_values)
        assert temperature.dtype == jnp.float32
        assert float(temperature) == pytest.approx(spread / LOG_INVERSE_ACCEPTANCE, rel=1e-6)
        # The documented rule: the median uphill move is accepted with probability 0.8.
        assert math.exp(-spread / float(temperature)) == pytest.approx(0.8, rel=1e-6)


def test_auto_temperature_is_measured_at_the_first_step_by_the_rule():
    # A deterministic move x + step_size from x = (1, 1, 1): every chain goes uphill by
    # 3 (1.5^2 - 1) = 3.75, so T0 = 3.75 / log(1 / 0.8).
    tx = annealax.metropolis(
        16,
        key=0,
        temperature=annealax.auto_temperature(num_steps=100),
        step_size=0.5,
        proposal=lambda key, x, step_size: x + step_size,
    )
    params = jnp.ones(3)
    state = tx.init(params)
    assert float(state.temperature_scale) == 0.0  # before the first step
    update = jax.jit(lambda s: tx.update(None, s, params, value_fn=lambda x: jnp.sum(x * x))[1])
    state = update(state)
    t0 = 3.75 / LOG_INVERSE_ACCEPTANCE
    assert float(state.temperature_scale) == pytest.approx(t0, rel=1e-6)
    assert float(state.temperature) == pytest.approx(t0, rel=1e-6)  # cooling(0) = 1
    # Measured once: the next steps keep it and cool geometrically to 1e-8 T0 over 100 steps.
    for _ in range(10):
        state = update(state)
    assert float(state.temperature_scale) == pytest.approx(t0, rel=1e-6)
    assert float(state.temperature) == pytest.approx(t0 * 1e-8 ** (10 / 100), rel=1e-5)


def test_auto_temperature_falls_back_to_one_over_log_when_the_start_is_not_finite():
    tx = annealax.metropolis(
        32, key=3, temperature=annealax.auto_temperature(num_steps=50), step_size=0.3
    )

    def loss(x):  # NaN at the start only
        return jnp.where(jnp.all(x == 0.0), jnp.nan, jnp.sum(x * x))

    params = jnp.zeros(2)
    state = jax.jit(lambda s: tx.update(None, s, params, value_fn=loss)[1])(tx.init(params))
    assert float(state.temperature_scale) == pytest.approx(1 / LOG_INVERSE_ACCEPTANCE, rel=1e-6)
    assert bool(jnp.all(jnp.isfinite(state.values)))  # every finite proposal replaced +inf


def rosenbrock(x):
    return jnp.sum(100.0 * jnp.square(x[1:] - jnp.square(x[:-1])) + jnp.square(1.0 - x[:-1]))


@pytest.mark.parametrize("loss", [rosenbrock, double_well], ids=lambda f: f.__name__)
def test_auto_temperature_scales_with_the_loss(loss):
    tx = annealax.metropolis(
        64, key=4, temperature=annealax.auto_temperature(num_steps=100), step_size=0.3
    )
    params = jnp.array([0.5, -0.3, 1.2])

    @jax.jit
    def measured(scale):
        _, state = tx.update(None, tx.init(params), params, value_fn=lambda x: scale * loss(x))
        return state.temperature_scale

    base = float(measured(jnp.float32(1.0)))
    assert base > 0
    # The same key makes the same proposals: only the scale of their losses differs.
    assert float(measured(jnp.float32(1000.0))) == pytest.approx(1000.0 * base, rel=1e-5)
    assert float(measured(jnp.float32(1e-3))) == pytest.approx(1e-3 * base, rel=1e-5)


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        (None, 0.1),
        ((-5.0, 5.0), 1.0),
        # Widths 2, 2, 2 and 20: mean 6.5.
        (({"a": -1.0, "b": -10.0}, {"a": 1.0, "b": 10.0}), 0.65),
        ((-50.0, 50.0), 10.0),
    ],
    ids=["no-bounds", "scalar-bounds", "pytree-bounds", "wide-bounds"],
)
def test_auto_step_size_starts_at_a_tenth_of_the_mean_bound_width(bounds, expected):
    params = {"a": jnp.zeros(3), "b": jnp.zeros(1)}
    tx = annealax.metropolis(4096, key=5, step_size="auto", bounds=bounds, temperature=1.0)
    state = tx.init(params)
    np.testing.assert_allclose(state.step_size, np.full(4096, expected), rtol=1e-6)
    # The first step moves every coordinate by that scale (a flat loss accepts every move).
    _, state = tx.update(None, state, params, value_fn=lambda p: jnp.zeros(()))
    np.testing.assert_allclose(state.step_size, np.full(4096, expected), rtol=1e-6)
    if bounds is None or expected == 10.0:  # no wall within 5 standard deviations
        moved = np.concatenate([np.asarray(leaf).ravel() for leaf in jax.tree.leaves(state.chains)])
        # 16384 normal draws: the sample std has a relative standard error of 0.55 %.
        assert moved.std() == pytest.approx(expected, rel=0.03)


def shifted_sphere(x):
    return jnp.sum(jnp.square(x - 1.0))


def test_auto_temperature_anneals_a_loss_of_any_scale_to_the_same_relative_quality():
    scales = jnp.array([1e-6, 1.0, 1e6], jnp.float32)

    @jax.jit
    @jax.vmap
    def anneal(scale):  # one compilation for the three scales
        result = annealax.anneal(
            lambda x: scale * shifted_sphere(x),
            jnp.full(5, -4.0),
            key=6,
            num_steps=3000,
            num_chains=64,
            bounds=(-5.0, 5.0),
        )
        return result.best_value / scale, result.best_params

    relative, best_params = anneal(scales)
    # The start has relative loss 125; every scale gets within 5e-3 of the minimum (over keys
    # 0-7 the runs reached 1.5e-4 to 8e-4).
    np.testing.assert_array_less(np.asarray(relative), 5e-3)
    np.testing.assert_allclose(best_params, np.ones((3, 5)), atol=0.1)


def test_a_fixed_temperature_does_not_anneal_a_tiny_loss():
    """The contrast: T = 1 is far too hot for a loss of scale 1e-6, which stays far from 0."""
    result = annealax.anneal(
        lambda x: 1e-6 * shifted_sphere(x),
        jnp.full(5, -4.0),
        key=6,
        num_steps=3000,
        num_chains=64,
        bounds=(-5.0, 5.0),
        temperature=1.0,
    )
    assert float(result.best_value) / 1e-6 > 0.1


def test_auto_temperature_with_a_cooling_schedule_follows_it():
    cooling = optax.linear_schedule(1.0, 0.0, 50)
    result = annealax.anneal(
        lambda x: 1e3 * shifted_sphere(x),
        jnp.zeros(2),
        key=7,
        num_steps=60,
        num_chains=16,
        temperature=annealax.auto_temperature(cooling=cooling),
    )
    t0 = float(result.state.temperature_scale)
    assert t0 > 0
    expected = t0 * np.asarray(jax.vmap(cooling)(jnp.arange(60)))
    np.testing.assert_allclose(result.trace.temperature, expected, rtol=1e-5, atol=1e-6 * t0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bounds", "jump_probability", "box_jump_share"),
    [(None, 0.5, 0.25), ((-2.2, 2.2), 0.3, 1.0)],
    ids=["cauchy-length", "box-wide"],
)
def test_jumps_keep_the_boltzmann_distribution(bounds, jump_probability, box_jump_share):
    # Jumps at the initial step size 0.05 times a |Cauchy| length, or (with bounds) box-wide
    # over [-2.2, 2.2], which the double well's mass fills; the other moves at the adapted step
    # (frozen after 150 steps). The mixture is symmetric, so the chains still sample exp(-E / T).
    tx = annealax.metropolis(
        4096,
        key=jax.random.key(4),
        temperature=0.3,
        step_size=0.05,
        adaptation=annealax.adapt_step_size(0.5, steps=150),
        bounds=bounds,
        proposal=annealax.jumps(probability=jump_probability, box_share=box_jump_share),
    )
    state = run_chains(tx, jnp.zeros(1), double_well, 800)
    assert float(jnp.median(jnp.exp(state.log_step_factor))) > 2  # adapted moves are longer
    samples = np.asarray(state.chains[:, 0], np.float64)
    edges = np.linspace(-2.2, 2.2, 23)
    assert chi_square_p_value(samples, lambda x: -((x * x - 1.0) ** 2) / 0.3, edges) > 1e-3
    assert chi_square_p_value(samples, lambda x: -((x * x - 1.0) ** 2) / 0.6, edges) < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("box_jump_share", [1.0, 0.0])
def test_box_wide_jumps_land_uniformly_in_the_box(box_jump_share):
    # At a temperature that accepts every move, one step of jumps from x = 3 in [2, 7]: box-wide
    # jumps land uniformly over the box; Cauchy-length jumps of the initial step 0.5 mostly
    # land within a few steps of the start.
    tx = annealax.metropolis(
        8192,
        key=jax.random.key(6),
        temperature=1e12,
        step_size="auto",
        adaptation=None,
        bounds=(2.0, 7.0),
        proposal=annealax.jumps(probability=0.999, box_share=box_jump_share),
    )
    positions = np.asarray(run_chains(tx, jnp.full(1, 3.0), gaussian_energy, 1).chains[:, 0])
    assert positions.min() >= 2.0 and positions.max() <= 7.0
    counts, _ = np.histogram(positions, bins=10, range=(2.0, 7.0))
    uniform = scipy_stats.chisquare(counts).pvalue
    if box_jump_share:
        assert uniform > 1e-3
    else:
        assert uniform < 1e-6
        assert np.mean(np.abs(positions - 3.0) < 1.0) > 0.5


def one_dimensional_schwefel(x):
    return -jnp.sum(x * jnp.sin(jnp.sqrt(jnp.abs(x))))


@pytest.mark.parametrize(
    ("jump_probability", "box_jump_share", "crosses"),
    [(0.5, 0.25, True), (0.5, 0.0, True), (0.0, 0.25, False)],
)
def test_jumps_reach_a_basin_seven_initial_steps_away(jump_probability, box_jump_share, crosses):
    # From the second-best minimum of Schwefel's function (x = -302.5), the only lower basin is
    # the global one around x = 420.97, 7 steps of 100 away: Gaussian moves of 100 essentially
    # never land there (z > 6.9), the Cauchy-scaled length of the jumps and the box-wide jumps
    # do.
    tx = annealax.metropolis(
        64,
        key=jax.random.key(7),
        temperature=1e-6,
        step_size=100.0,
        adaptation=None,
        bounds=(-500.0, 500.0),
        proposal=annealax.jumps(probability=jump_probability, box_share=box_jump_share),
    )
    state = run_chains(tx, jnp.full(1, -302.52), one_dimensional_schwefel, 500)
    reached = state.chains[:, 0] > 380.0
    if crosses:
        assert float(jnp.mean(reached)) > 0.5
        assert float(state.best_value) < -410.0
    else:
        assert not bool(jnp.any(reached))
        assert float(state.best_value) > -310.0


def test_without_bounds_every_jump_has_a_cauchy_length():
    # box_jump_share needs a box: without bounds it changes nothing, bit for bit.
    def final_chains(box_jump_share):
        tx = annealax.metropolis(
            32,
            key=jax.random.key(8),
            proposal=annealax.jumps(probability=0.5, box_share=box_jump_share),
        )
        return run_chains(tx, jnp.zeros(3), gaussian_energy, 50).chains

    np.testing.assert_array_equal(final_chains(0.0), final_chains(1.0))


def test_injected_hyperparameters_with_jumps_give_the_chains_of_constants():
    # Traced by optax.inject_hyperparams, the temperature and step size give the same chains
    # as constants, jumps included.
    settings = dict(
        key=jax.random.key(9), bounds=(-2.0, 2.0), proposal=annealax.jumps(probability=0.5)
    )
    injected = optax.inject_hyperparams(
        annealax.metropolis, static_args=("num_chains", "key", "proposal")
    )(16, temperature=0.7, step_size=0.3, **settings)
    constant = annealax.metropolis(16, temperature=0.7, step_size=0.3, **settings)
    chains = [
        optax.tree.get(run_chains(tx, jnp.zeros(2), gaussian_energy, 20), "chains")
        for tx in (injected, constant)
    ]
    np.testing.assert_array_equal(chains[0], chains[1])
