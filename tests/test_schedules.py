"""Temperature schedules: closed forms, jit, use in `anneal` (without recompiling), bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import annealax
from annealax._annealing import anneal as _anneal

STEPS = np.array([0, 1, 2, 7, 50, 99, 100, 101, 149, 150, 151, 299, 300, 1000, 12345])


def geometric(t0, tf, n):
    return lambda t: np.where(t < n, t0 * (tf / t0) ** (np.minimum(t, n) / n), tf)


def linear(t0, tf, n):
    return lambda t: np.where(t < n, t0 + (tf - t0) * np.minimum(t, n) / n, tf)


def logarithmic(t0):
    return lambda t: t0 / np.log(np.e + t)


def restarting(schedule, period, reheat):
    return lambda t: reheat ** (t // period) * schedule(t % period)


# (name, the annealax schedule, its closed form in NumPy float64)
ZOO = [
    ("geometric", annealax.geometric_temperature(10.0, 0.01, 100), geometric(10.0, 0.01, 100)),
    ("geometric-heating", annealax.geometric_temperature(0.5, 4.0, 150), geometric(0.5, 4.0, 150)),
    ("linear", annealax.linear_temperature(3.0, 0.5, 100), linear(3.0, 0.5, 100)),
    ("linear-to-zero", annealax.linear_temperature(2.0, 0.0, 300), linear(2.0, 0.0, 300)),
    ("logarithmic", annealax.logarithmic_temperature(7.0), logarithmic(7.0)),
    (
        "restarting-geometric",
        annealax.restarting_temperature(
            annealax.geometric_temperature(1.0, 0.01, 100), period=100, reheat=0.5
        ),
        restarting(geometric(1.0, 0.01, 100), 100, 0.5),
    ),
    (
        # A cycle shorter than the schedule it repeats: each cycle is cut at step 30.
        "restarting-linear-cut",
        annealax.restarting_temperature(annealax.linear_temperature(2.0, 0.0, 100), period=30),
        restarting(linear(2.0, 0.0, 100), 30, 1.0),
    ),
    (
        "restarting-logarithmic",
        annealax.restarting_temperature(annealax.logarithmic_temperature(3.0), 7, reheat=0.9),
        restarting(logarithmic(3.0), 7, 0.9),
    ),
]
IDS = [name for name, _, _ in ZOO]


@pytest.mark.parametrize(("name", "schedule", "closed_form"), ZOO, ids=IDS)
def test_schedule_matches_its_closed_form(name, schedule, closed_form):
    expected = closed_form(STEPS.astype(np.float64))
    eager = np.array([float(schedule(int(t))) for t in STEPS])
    np.testing.assert_allclose(eager, expected, rtol=2e-6, atol=1e-7)
    # Under jit and vmap, with traced int32 counts, the same values.
    jitted = jax.jit(jax.vmap(schedule))(jnp.asarray(STEPS, jnp.int32))
    np.testing.assert_allclose(np.asarray(jitted), expected, rtol=2e-6, atol=1e-7)


def test_restarts_reheat_to_a_lower_peak_every_period():
    schedule = annealax.restarting_temperature(
        annealax.geometric_temperature(4.0, 0.04, 50), period=50, reheat=0.5
    )
    peaks = [float(schedule(k * 50)) for k in range(4)]
    ends = [float(schedule(k * 50 + 49)) for k in range(4)]
    np.testing.assert_allclose(peaks, [4.0, 2.0, 1.0, 0.5], rtol=1e-6)
    np.testing.assert_array_less(ends, peaks)
    # Every cycle cools monotonically.
    values = np.asarray(jax.vmap(schedule)(jnp.arange(200)))
    steps_within = np.diff(values.reshape(4, 50), axis=1)
    assert (steps_within < 0).all()


@pytest.mark.parametrize(("name", "schedule", "closed_form"), ZOO, ids=IDS)
def test_schedule_drives_the_temperature_of_anneal(name, schedule, closed_form):
    num_steps = 160
    result = annealax.anneal(
        lambda x: jnp.sum(jnp.square(x)),
        jnp.ones(2),
        key=0,
        num_steps=num_steps,
        num_chains=8,
        temperature=schedule,
    )
    expected = closed_form(np.arange(num_steps, dtype=np.float64))
    np.testing.assert_allclose(np.asarray(result.trace.temperature), expected, rtol=2e-6, atol=1e-7)
    assert float(result.best_value) < 2.0  # it annealed: the start has loss 2


def test_equal_schedules_are_equal_and_reuse_the_compiled_run():
    def make():
        cycle = annealax.geometric_temperature(2.0, 0.02, 40)
        return annealax.restarting_temperature(cycle, period=40, reheat=0.8)

    assert make() == make()
    assert hash(make()) == hash(make())
    assert annealax.logarithmic_temperature(2.0) != annealax.logarithmic_temperature(3.0)
    assert annealax.linear_temperature(2.0, 0.0, 10) != annealax.geometric_temperature(2.0, 0.1, 10)

    def loss(x):
        return jnp.sum(jnp.square(x - 1.0))

    def run(schedule):
        return annealax.anneal(
            loss, jnp.zeros(2), key=0, num_steps=20, num_chains=4, temperature=schedule
        )

    first = run(make())
    compiled = _anneal._run._cache_size()
    again = run(make())
    assert _anneal._run._cache_size() == compiled
    np.testing.assert_array_equal(first.trace.temperature, again.trace.temperature)
    run(annealax.geometric_temperature(2.0, 0.02, 40))  # a different schedule compiles anew
    assert _anneal._run._cache_size() == compiled + 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: annealax.geometric_temperature(0.0, 0.1, 10),
            r"`init_temperature` must be a float > 0, got 0.0",
        ),
        (
            lambda: annealax.geometric_temperature(True, 0.1, 10),
            r"`init_temperature` must be a float > 0, got True",
        ),
        (
            lambda: annealax.geometric_temperature(1.0, -0.1, 10),
            r"`final_temperature` must be a float > 0, got -0.1",
        ),
        (
            lambda: annealax.geometric_temperature(1.0, 0.0, 10),
            r"`final_temperature` must be a float > 0, got 0.0",
        ),
        (
            lambda: annealax.geometric_temperature(1.0, 0.1, 0),
            r"`num_steps` must be a positive int, got 0",
        ),
        (
            lambda: annealax.geometric_temperature(1.0, 0.1, 2.5),
            r"`num_steps` must be a positive int, got 2.5",
        ),
        (
            lambda: annealax.linear_temperature("hot", 0.0, 10),
            r"`init_temperature` must be a float > 0, got 'hot'",
        ),
        (
            lambda: annealax.linear_temperature(1.0, -0.5, 10),
            r"`final_temperature` must be a float >= 0, got -0.5",
        ),
        (
            lambda: annealax.linear_temperature(1.0, 0.0, -3),
            r"`num_steps` must be a positive int, got -3",
        ),
        (
            lambda: annealax.logarithmic_temperature(-2.0),
            r"`init_temperature` must be a float > 0, got -2.0",
        ),
        (
            lambda: annealax.restarting_temperature(3.0, 10),
            r"`schedule` must be an optax.Schedule, got 3.0",
        ),
        (
            lambda: annealax.restarting_temperature(annealax.logarithmic_temperature(1.0), 0),
            r"`period` must be a positive int, got 0",
        ),
        (
            lambda: annealax.restarting_temperature(
                annealax.logarithmic_temperature(1.0), 10, reheat=0.0
            ),
            r"`reheat` must be a float in \(0, 1\], got 0.0",
        ),
        (
            lambda: annealax.restarting_temperature(
                annealax.logarithmic_temperature(1.0), 10, reheat=1.5
            ),
            r"`reheat` must be a float in \(0, 1\], got 1.5",
        ),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()
