"""`anneal`: one compiled run, its trace, no recompilation, vmap over keys and hyperparameters."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax
from annealax._annealing import anneal as _anneal


def rastrigin(x):
    return 10.0 * x.size + jnp.sum(jnp.square(x) - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def test_result_and_trace_are_consistent():
    schedule = optax.exponential_decay(5.0, 300, 1e-3)
    result = annealax.anneal(
        rastrigin, jnp.full(3, 2.5), key=0, num_steps=300, num_chains=32, temperature=schedule
    )
    assert isinstance(result, annealax.AnnealResult)
    assert result.trace.best_value.shape == result.trace.acceptance.shape == (300,)
    assert bool(jnp.all(jnp.diff(result.trace.best_value) <= 0))
    assert float(result.trace.best_value[-1]) == float(result.best_value)
    assert float(rastrigin(result.best_params)) == pytest.approx(float(result.best_value))
    np.testing.assert_allclose(result.trace.temperature, jax.vmap(schedule)(jnp.arange(300)))
    assert bool(jnp.all((result.trace.acceptance >= 0) & (result.trace.acceptance <= 1)))
    assert int(result.state.count) == 300
    assert result.state.chains.shape == (32, 3)
    # The final state: each chain's cached loss is its loss, none below the best one.
    chains, values = result.state.chains, result.state.values
    np.testing.assert_allclose(values, jax.vmap(rastrigin)(chains), rtol=1e-6, atol=1e-5)
    assert float(result.best_value) <= float(jnp.min(values))
    # The trace's last acceptance is the fraction of the chains accepted at the last step.
    num_accepted = int(result.state.info.num_accepted)
    assert float(result.trace.acceptance[-1]) == pytest.approx(num_accepted / 32)


def test_repeated_calls_do_not_recompile():
    def run(init, temperature, step_size, key):
        return annealax.anneal(
            rastrigin,
            init,
            key=key,
            num_steps=20,
            num_chains=8,
            temperature=temperature,
            step_size=step_size,
            bounds=(-5.12, 5.12),
        )

    run(jnp.ones(2), 1.0, 0.1, 0)
    compiled = _anneal._run._cache_size()
    run(jnp.full(2, 2.0), 0.5, 0.3, 1)
    run(jnp.zeros(2), 2.0, 0.2, jax.random.key(5))
    assert _anneal._run._cache_size() == compiled


def test_vmap_over_keys_and_temperatures_matches_single_runs():
    keys = jax.random.split(jax.random.key(0), 3)
    temperatures = jnp.array([0.1, 1.0, 10.0])

    def best(key, temperature):
        return annealax.anneal(
            rastrigin,
            jnp.full(2, 3.0),
            key=key,
            num_steps=50,
            num_chains=8,
            temperature=temperature,
        ).best_value

    batched = jax.vmap(best)(keys, temperatures)
    singles = jnp.stack([best(k, t) for k, t in zip(keys, temperatures, strict=True)])
    np.testing.assert_allclose(batched, singles, rtol=1e-6)
    assert len(set(np.asarray(batched).tolist())) == 3


def test_callback_sees_every_step():
    seen = []
    result = annealax.anneal(
        rastrigin,
        jnp.ones(2),
        key=0,
        num_steps=25,
        num_chains=4,
        callback=lambda step, info: seen.append((int(step), info)),
    )
    jax.effects_barrier()
    assert sorted(step for step, _ in seen) == list(range(1, 26))
    # Each step's info is that step's entry of the trace.
    for step, info in seen:
        for name, value in info._asdict().items():
            assert float(value) == float(getattr(result.trace, name)[step - 1]), (step, name)


def test_progress_bar_reaches_the_end(capsys):
    annealax.anneal(rastrigin, jnp.ones(2), key=0, num_steps=200, num_chains=4, progress=True)
    err = capsys.readouterr().err
    assert "anneal" in err and "200/200" in err


def test_progress_bar_under_vmap_is_refused():
    def best(key):
        return annealax.anneal(rastrigin, jnp.ones(2), key=key, num_steps=5, progress=True)

    with pytest.raises(ValueError, match=r"`progress=True` needs a call of anneal outside"):
        jax.vmap(best)(jax.random.split(jax.random.key(0), 2))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(num_steps=0), ValueError, r"`num_steps` must be a positive int, got 0"),
        (dict(value_fn="loss"), ValueError, r"`value_fn` must be callable, got 'loss'"),
        (dict(callback=1), ValueError, r"`callback` must be callable or None, got 1"),
        (dict(mesh="cpu"), ValueError, r"`mesh` must be a jax.sharding.Mesh with an axis named"),
        (dict(num_chains=-2), ValueError, r"`num_chains` must be a positive int, got -2"),
        (dict(temperature=-0.5), ValueError, r"`temperature` must be finite and > 0"),
        (
            dict(target_value="low"),
            ValueError,
            r"`target_value` must be a float or None, got 'low'",
        ),
        (dict(patience=0), ValueError, r"`patience` must be a positive int or None, got 0"),
        (
            dict(jump_probability=0.5),
            TypeError,
            r"unexpected keyword arguments \['jump_probability'\]",
        ),
        (dict(minibatch=True), ValueError, r"`minibatch` is not a setting of anneal"),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(kwargs, error, message):
    arguments = {"value_fn": rastrigin, "num_steps": 5, **kwargs}
    with pytest.raises(error, match=message):
        annealax.anneal(arguments.pop("value_fn"), jnp.ones(2), key=0, **arguments)


def sphere(x):
    return jnp.sum(jnp.square(x - 1.0))


def test_defaults_tune_themselves_on_losses_of_any_scale():
    results = [
        annealax.anneal(
            lambda x, scale=scale: scale * sphere(x),
            jnp.full(4, -3.0),
            key=2,
            num_steps=3000,
            bounds=(-5.0, 5.0),
        )
        for scale in (1e-6, 1.0, 1e6)
    ]
    for result, scale in zip(results, (1e-6, 1.0, 1e6), strict=True):
        assert float(result.best_value) / scale < 1e-3
    scales = [float(result.state.temperature_scale) for result in results]
    np.testing.assert_allclose(scales[2] / scales[1], 1e6, rtol=1e-3)
    np.testing.assert_allclose(scales[0] / scales[1], 1e-6, rtol=1e-3)


def test_stops_inside_the_compiled_loop_at_the_target_value():
    result = annealax.anneal(
        sphere, jnp.full(3, 4.0), key=0, num_steps=2000, bounds=(-5.0, 5.0), target_value=0.1
    )
    stopped_at = int(result.state.count)
    assert 0 < stopped_at < 2000
    assert float(result.best_value) <= 0.1 < float(result.trace.best_value[stopped_at - 2])
    np.testing.assert_array_equal(result.trace.best_value[stopped_at:], result.best_value)
    np.testing.assert_array_equal(result.trace.acceptance[stopped_at:], 0.0)
    assert int(result.num_evaluations) == 64 * (stopped_at + 1)


def test_stops_after_patience_steps_without_improvement():
    flat = annealax.anneal(
        lambda x: jnp.sum(x) * 0.0, jnp.zeros(2), key=0, num_steps=500, patience=40
    )
    # The first step finds the first finite value; nothing improves on it afterwards.
    assert int(flat.state.best_step) == 1
    assert int(flat.state.count) == 41
    improving = annealax.anneal(sphere, jnp.full(2, 4.0), key=0, num_steps=300, patience=40)
    assert int(improving.state.count) > 41


def test_target_value_does_not_recompile():
    def run(target):
        return annealax.anneal(sphere, jnp.zeros(2), key=0, num_steps=50, target_value=target)

    run(0.5)
    compiled = _anneal._run._cache_size()
    run(0.1)
    run(1e-3)
    assert _anneal._run._cache_size() == compiled


def test_evaluations_are_counted():
    result = annealax.anneal(sphere, jnp.zeros(2), key=0, num_steps=100, num_chains=16)
    assert int(result.num_evaluations) == 16 * 101
    seen = []
    counted = annealax.anneal(
        lambda x: jax.pure_callback(
            lambda v: (seen.append(1), v)[1],
            jax.ShapeDtypeStruct((), x.dtype),
            sphere(x),
            vmap_method="sequential",
        ),
        jnp.zeros(2),
        key=0,
        num_steps=10,
        num_chains=4,
    )
    jax.effects_barrier()
    assert len(seen) == int(counted.num_evaluations) == 4 * 11
