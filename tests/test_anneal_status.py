"""`AnnealResult.status`: why a run ended, testable inside and outside jit."""

import jax
import jax.numpy as jnp
import pytest

import annealax
from annealax import AnnealStatus


def sphere(x):
    return jnp.sum(jnp.square(x))


def run(value_fn=sphere, **settings):
    settings = {"key": 0, "num_steps": 400, "num_chains": 4, **settings}
    return annealax.anneal(value_fn, jnp.ones(2), **settings)


def test_all_steps_done():
    result = run()
    assert int(result.state.count) == 400
    assert int(result.status) == AnnealStatus.COMPLETED
    assert result.status.dtype == jnp.int32


def test_target_reached_stops_early():
    result = run(target_value=1e-2)
    assert int(result.state.count) < 400
    assert float(result.best_value) <= 1e-2
    assert AnnealStatus(int(result.status)) is AnnealStatus.TARGET_REACHED


def test_patience_exhausted():
    result = run(patience=5, temperature=1e-9, step_size=1e-9, target_value=-1.0)
    assert int(result.state.count) < 400
    assert AnnealStatus(int(result.status)) is AnnealStatus.PATIENCE_EXHAUSTED


def test_no_finite_loss_seen():
    result = run(lambda x: jnp.sum(x) * jnp.nan, num_steps=20)
    assert float(result.best_value) == float("inf")
    assert AnnealStatus(int(result.status)) is AnnealStatus.NO_FINITE_LOSS


@pytest.mark.parametrize(
    "settings",
    [
        {"temperature": lambda count: 1.0 - count.astype(jnp.float32) / 10.0},
        {"temperature": lambda count: jnp.where(count < 5, 1.0, jnp.nan)},
        {
            "temperature": annealax.auto_temperature(
                cooling=lambda count: 1.0 - count.astype(jnp.float32) / 10.0
            )
        },
    ],
    ids=["negative", "nan", "negative-cooling"],
)
def test_invalid_temperature_from_a_schedule_is_reported(settings):
    result = run(num_steps=30, **settings)
    assert AnnealStatus(int(result.status)) is AnnealStatus.INVALID_TEMPERATURE


def test_invalid_traced_temperature_is_reported_under_vmap():
    statuses = jax.vmap(lambda t: run(num_steps=20, temperature=t).status)(jnp.array([1.0, -1.0]))
    assert statuses.tolist() == [AnnealStatus.COMPLETED, AnnealStatus.INVALID_TEMPERATURE]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", jnp.array(-1.0)),
        ("temperature", float("nan")),
        ("temperature", lambda count: -1.0),
        ("step_size", jnp.array(jnp.inf)),
    ],
)
def test_invalid_temperature_known_before_the_run_raises(name, value):
    with pytest.raises(ValueError, match=rf"`{name}(\(0\))?` must be finite"):
        run(**{name: value})


def test_invalid_cooling_known_before_the_run_raises():
    with pytest.raises(ValueError, match=r"`cooling\(0\)` must be finite"):
        annealax.auto_temperature(cooling=lambda count: jnp.nan)
