"""`anneal`: one compiled run, its trace, no recompilation, vmap over keys and hyperparameters."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax
from annealax import _anneal


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
    annealax.anneal(
        rastrigin,
        jnp.ones(2),
        key=0,
        num_steps=25,
        num_chains=4,
        callback=lambda step, info: seen.append((int(step), float(info.best_value))),
    )
    jax.effects_barrier()
    assert sorted(step for step, _ in seen) == list(range(1, 26))
    assert all(np.isfinite(value) for _, value in seen)


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
        (dict(temperature=-0.5), ValueError, r"`temperature` must be > 0"),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(kwargs, error, message):
    arguments = {"value_fn": rastrigin, "num_steps": 5, **kwargs}
    with pytest.raises(error, match=message):
        annealax.anneal(arguments.pop("value_fn"), jnp.ones(2), key=0, **arguments)
