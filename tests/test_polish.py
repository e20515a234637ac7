"""The local polish of `anneal`: reaches minima, keeps the bounds, counts evaluations, no NaN."""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import annealax
from annealax._annealing import polish as _polish


def rosenbrock(x):
    return jnp.sum(100.0 * jnp.square(x[1:] - jnp.square(x[:-1])) + jnp.square(1.0 - x[:-1]))


def sphere(x):
    return jnp.sum(jnp.square(x - 0.5))


PROBLEMS = {"rosenbrock": (rosenbrock, np.ones(10)), "sphere": (sphere, np.full(10, 0.5))}
NUM_CHAINS, NUM_STEPS = 64, 300
POLISH = annealax.polish(100, num_chains=4)


@functools.cache
def run(name, polished):
    loss, _ = PROBLEMS[name]
    return annealax.anneal(
        loss,
        jnp.zeros(10),
        key=0,
        num_steps=NUM_STEPS,
        num_chains=NUM_CHAINS,
        bounds=(-5.0, 5.0),
        polish=POLISH if polished else None,
    )


@pytest.mark.parametrize("name", PROBLEMS)
def test_polish_reaches_the_minimum_that_annealing_alone_does_not(name):
    loss, minimum = PROBLEMS[name]
    polished, plain = run(name, True), run(name, False)
    assert float(polished.best_value) < 1e-5
    np.testing.assert_allclose(polished.best_params, minimum, atol=1e-3)
    assert float(loss(polished.best_params)) == pytest.approx(float(polished.best_value), abs=1e-7)
    # The same annealing run without the polish stays well above the minimum.
    assert float(plain.best_value) > 1e-4


def test_a_final_polish_changes_only_the_end_of_the_trace():
    polished, plain = run("sphere", True), run("sphere", False)
    # The annealing steps are the same; the trace ends with the polished best value.
    np.testing.assert_array_equal(polished.trace.best_value[:-1], plain.trace.best_value[:-1])
    assert float(polished.trace.best_value[-1]) == float(polished.best_value)
    assert float(plain.trace.best_value[-1]) == float(plain.best_value)


def test_num_evaluations_counts_the_polish():
    plain, polished = run("sphere", False), run("sphere", True)
    # Without a polish: every chain's start, then one evaluation per chain and step.
    assert int(plain.num_evaluations) == NUM_CHAINS * (NUM_STEPS + 1)
    # A polish costs at least one evaluation per iteration and polished chain.
    extra = int(polished.num_evaluations) - NUM_CHAINS * (NUM_STEPS + 1)
    assert extra >= POLISH.steps * POLISH.num_chains


def test_polish_keeps_the_bounds_and_stops_on_the_wall():
    # The minimum, at 3 in every coordinate, lies outside the box [-2, 2]: the best point in
    # the box is its corner at 2, with loss 4 * 1^2.
    def loss(x):
        return jnp.sum(jnp.square(x - 3.0))

    result = annealax.anneal(
        loss,
        jnp.zeros(4),
        key=1,
        num_steps=100,
        num_chains=16,
        bounds=(-2.0, 2.0),
        polish=annealax.polish(50, num_chains=8, every=25),
    )
    np.testing.assert_allclose(result.best_params, np.full(4, 2.0), atol=1e-6)
    assert float(result.best_value) == pytest.approx(4.0, rel=1e-5)
    chains = np.asarray(result.state.chains)
    assert (chains >= -2.0).all() and (chains <= 2.0).all()
    # Some polished chains went on annealing from the wall.
    assert (np.abs(chains - 2.0) < 1e-6).all(axis=1).any()


def test_polish_every_k_steps_polishes_during_the_run():
    every, steps, num_steps, num_chains = 40, 30, 120, 32
    polish = annealax.polish(steps, num_chains=4, every=every)
    result = annealax.anneal(
        sphere, jnp.full(10, -3.0), key=2, num_steps=num_steps, num_chains=num_chains, polish=polish
    )
    best = np.asarray(result.trace.best_value)
    # trace[i] is the best after step i + 1; the first polish runs after step 40 (trace[39]),
    # so trace[38] is annealing alone (39 steps from loss 122.5) and trace[40] comes after it.
    assert best[every - 2] > 1.0
    assert best[every] < 1e-8
    assert int(result.state.count) == num_steps
    # Three polishes during the run (after steps 40, 80, 120) and one at the end.
    extra = int(result.num_evaluations) - num_chains * (num_steps + 1)
    assert extra >= 4 * steps * polish.num_chains


def walled(x):
    """(x - 2)^2 where every coordinate is below 1, NaN elsewhere: downhill leads into NaN."""
    return jnp.where(jnp.all(x < 1.0), jnp.sum(jnp.square(x - 2.0)), jnp.nan)


class RecomputeState(NamedTuple):
    inner: Any
    value: jax.Array
    grad: Any


def recomputing(optimizer):
    """``optimizer`` behind an update that demands the extra arguments, in a state with value inf.

    `optax.value_and_grad_from_state` then always recomputes the value and gradient, so any
    optimizer (not only line searches, which store them) can polish despite the bug below.
    """

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return RecomputeState(optimizer.init(params), jnp.asarray(jnp.inf, jnp.float32), zeros)

    def update(updates, state, params=None, *, value, grad, value_fn, **extra_args):
        # Every polish iteration passes the loss, its gradient and the loss function.
        assert callable(value_fn)
        assert jax.tree.structure(grad) == jax.tree.structure(updates)
        del value, extra_args
        updates, inner = optimizer.update(updates, state.inner, params)
        return updates, state._replace(inner=inner)

    return optax.GradientTransformationExtraArgs(init, update)


def test_polish_into_nan_territory_never_makes_the_best_value_nan():
    # Gradient steps of 10 x the gradient from near the wall at 1 land far beyond it, in NaN.
    polish = annealax.polish(20, num_chains=4, every=25, optimizer=recomputing(optax.sgd(10.0)))
    result = annealax.anneal(
        walled, jnp.zeros(3), key=0, num_steps=100, num_chains=16, polish=polish
    )
    assert bool(jnp.all(jnp.isfinite(result.trace.best_value)))
    assert bool(jnp.isfinite(result.best_value))
    assert bool(jnp.all(result.best_params < 1.0))
    assert float(walled(result.best_params)) == pytest.approx(float(result.best_value))
    assert bool(jnp.all(jnp.isfinite(result.state.values)))
    assert bool(jnp.all(result.state.chains < 1.0))
    # The scenario is real: polishing the best point jumps over the wall into NaN.
    _, values, _ = _polish.polish_points(
        polish, walled, result.best_params[None], None, jnp.float32
    )
    assert float(values[0]) == np.inf


def anneal_small_sphere(polish):
    return annealax.anneal(
        sphere, jnp.zeros(4), key=3, num_steps=50, num_chains=8, bounds=(-5.0, 5.0), polish=polish
    )


@pytest.mark.parametrize(
    ("optimizer", "line_search"),
    [
        (optax.sgd(0.1, momentum=0.5), False),
        (recomputing(optax.sgd(0.1, momentum=0.5)), False),
        (
            optax.chain(
                optax.sgd(1.0),
                optax.scale_by_backtracking_linesearch(max_backtracking_steps=20, store_grad=True),
            ),
            True,
        ),
    ],
    ids=["momentum", "momentum-recomputing", "sgd-backtracking"],
)
def test_custom_optimizer_polishes(optimizer, line_search):
    plain = anneal_small_sphere(None)
    polished = anneal_small_sphere(annealax.polish(200, num_chains=2, optimizer=optimizer))
    assert float(plain.best_value) > 1e-2
    assert float(polished.best_value) < 1e-6
    assert float(sphere(polished.best_params)) == pytest.approx(
        float(polished.best_value), abs=1e-7
    )
    # Each of the 2 chains: one evaluation per iteration, then one of the polished point; a
    # line search adds its own.
    extra = int(polished.num_evaluations) - int(plain.num_evaluations)
    if line_search:
        assert extra > 2 * (200 + 1)
    else:
        assert extra == 2 * (200 + 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(steps=0), r"`steps` must be a positive int, got 0"),
        (dict(steps=2.5), r"`steps` must be a positive int, got 2.5"),
        (dict(num_chains=0), r"`num_chains` must be a positive int, got 0"),
        (dict(every=0), r"`every` must be a positive int or None, got 0"),
        (dict(every=True), r"`every` must be a positive int or None, got True"),
        (
            dict(optimizer=3),
            r"`optimizer` must be an optax.GradientTransformation or None, got 3",
        ),
    ],
)
def test_bad_polish_arguments_raise_naming_argument_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        annealax.polish(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(polish=5), r"`polish` must be annealax.polish\(...\) or None, got 5"),
        (dict(polish=optax.lbfgs()), r"`polish` must be annealax.polish\(...\) or None, got"),
        (
            dict(polish=annealax.polish(num_chains=8)),
            r"`polish` refines 8 chains, more than `num_chains`=4",
        ),
    ],
)
def test_bad_polish_of_anneal_raises_naming_argument_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        annealax.anneal(sphere, jnp.zeros(2), key=0, num_steps=5, num_chains=4, **kwargs)
