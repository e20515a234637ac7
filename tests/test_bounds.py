"""Bounds: checked against the params, infinite on some coordinates, reflection at finite walls."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import annealax
from annealax._annealing import bounds as _bounds

TARGET = jnp.array([3.0, -2.0, 1.0])


def shifted_sphere(x):
    return jnp.sum(jnp.square(x - TARGET))


@pytest.mark.parametrize(
    "bounds",
    [
        (jnp.array([-1.0, -jnp.inf, -jnp.inf]), jnp.array([jnp.inf, 0.0, jnp.inf])),
        (-jnp.inf, jnp.inf),
        (jnp.array([-5.0, -5.0, -jnp.inf]), jnp.array([5.0, 5.0, jnp.inf])),
    ],
    ids=["half-open", "unbounded", "one-unbounded-coordinate"],
)
def test_unbounded_coordinates_move_to_the_minimum(bounds):
    result = annealax.anneal(
        shifted_sphere, jnp.zeros(3), key=0, num_steps=1500, num_chains=16, bounds=bounds
    )
    np.testing.assert_allclose(result.best_params, TARGET, atol=2e-3)
    assert float(jnp.mean(result.trace.acceptance)) > 0.05
    assert int(result.status) == annealax.AnnealStatus.COMPLETED


def test_reflection_folds_at_the_finite_walls_only():
    x = jnp.array([-3.0, 7.5, 2.5, -9.0, 4.0])
    lower = jnp.array([-1.0, -jnp.inf, 0.0, -jnp.inf, 0.0])
    upper = jnp.array([jnp.inf, 5.0, 2.0, jnp.inf, 5.0])
    folded = _bounds.reflect(x, (lower, upper))
    np.testing.assert_allclose(folded, [1.0, 2.5, 1.5, -9.0, 4.0])
    finite = _bounds.reflect(jnp.array([6.0, -1.0]), (0.0, 5.0), finite=True)
    np.testing.assert_array_equal(finite, _bounds.reflect(jnp.array([6.0, -1.0]), (0.0, 5.0)))


@pytest.mark.slow
def test_half_open_reflection_keeps_the_boltzmann_distribution():
    # E(x) = x on [0, inf) at T = 1 is the exponential distribution: mean 1, variance 1.
    tx = annealax.metropolis(
        512, key=3, temperature=1.0, step_size=1.0, bounds=(0.0, jnp.inf), adaptation=None
    )
    update = jax.jit(lambda s, p: tx.update(None, s, p, value_fn=jnp.sum)[1])
    params = jnp.full(1, 1.0)
    state = tx.init(params)
    samples = []
    for step in range(600):
        state = update(state, params)
        if step >= 100 and step % 5 == 0:
            samples.append(state.chains[:, 0])
    samples = jnp.concatenate(samples)
    assert float(jnp.min(samples)) >= 0.0
    assert float(jnp.mean(samples)) == pytest.approx(1.0, abs=0.03)
    assert float(jnp.var(samples)) == pytest.approx(1.0, abs=0.08)


def test_mean_width_counts_finite_coordinates_only():
    params = jnp.zeros(4)
    bounds = (jnp.array([0.0, 0.0, -jnp.inf, 0.0]), jnp.array([2.0, 4.0, 1.0, jnp.inf]))
    assert float(_bounds.mean_width(params, bounds)) == 3.0
    assert bool(jnp.isnan(_bounds.mean_width(params, (-jnp.inf, jnp.inf))))


def test_unbounded_box_falls_back_to_the_unbounded_auto_step():
    tx = annealax.metropolis(4, key=0, step_size="auto", bounds=(-jnp.inf, jnp.inf))
    state = tx.init(jnp.zeros(3))
    np.testing.assert_allclose(state.step_size, 0.1)
    np.testing.assert_array_equal(
        state.step_size,
        annealax.metropolis(4, key=0, step_size="auto").init(jnp.zeros(3)).step_size,
    )


@pytest.mark.parametrize(
    ("bounds", "match"),
    [
        ((jnp.nan, 1.0), "must not be NaN"),
        ((0.0, jnp.array([1.0, jnp.nan, 1.0])), "must not be NaN"),
        ((2.0, 1.0), "lower < upper"),
        ((jnp.zeros(3), jnp.array([1.0, -1.0, 1.0])), "lower < upper"),
        ((jnp.zeros(2), 1.0), r"broadcast to each params leaf, got shape \(2,\)"),
        (({"a": 0.0, "b": 0.0}, 1.0), "structure of the params"),
        ("box", "pair"),
    ],
)
def test_bad_bounds_raise_naming_bounds(bounds, match):
    with pytest.raises(ValueError, match=r"`bounds`") as error:
        annealax.anneal(shifted_sphere, jnp.zeros(3), key=0, num_steps=3, bounds=bounds)
    assert error.match(match)
    with pytest.raises(ValueError, match=r"`bounds`"):
        annealax.metropolis(4, key=0, bounds=bounds).init(jnp.zeros(3))


def test_bounds_pytree_like_the_params():
    params = {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)}
    bounds = ({"w": -1.0, "b": jnp.full(3, -0.5)}, {"w": jnp.ones((1, 3)), "b": 0.5})
    tx = annealax.metropolis(8, key=0, step_size=5.0, bounds=bounds)
    state = tx.init(params)
    state = tx.update(None, state, params, value_fn=lambda p: jnp.sum(p["w"]) + jnp.sum(p["b"]))[1]
    assert bool(jnp.all(jnp.abs(state.chains["w"]) <= 1.0))
    assert bool(jnp.all(jnp.abs(state.chains["b"]) <= 0.5))
    with pytest.raises(ValueError, match=r"`bounds` \(upper\) must broadcast"):
        annealax.metropolis(8, key=0, bounds=(-1.0, {"w": jnp.ones(2), "b": 1.0})).init(params)
