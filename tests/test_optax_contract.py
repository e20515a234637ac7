"""Every annealax transformation honours the Optax contract (see optax_contract.py)."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optax_contract import CASES, TARGETS, parabola

case_ids = [case.name for case in CASES]
parametrize_cases = pytest.mark.parametrize("case", CASES, ids=case_ids)
gradient_cases = [case for case in CASES if case.uses_gradients]
parametrize_gradient_cases = pytest.mark.parametrize(
    "case", gradient_cases, ids=[case.name for case in gradient_cases]
)


def scanned(tx, loss, num_steps, extra_args):
    """``num_steps`` updates under `lax.scan`, jitted: ``(params, state) -> (params, state)``."""

    def step(carry, _):
        params, state = carry
        updates, state = tx.update(jax.grad(loss)(params), state, params, **extra_args)
        return (optax.apply_updates(params, updates), state), None

    return jax.jit(lambda params, state: jax.lax.scan(step, (params, state), length=num_steps)[0])


def run_steps(tx, loss, params, num_steps, extra_args, state=None):
    """``num_steps`` jitted updates under `lax.scan`; returns the final params and state."""
    state = tx.init(params) if state is None else state
    return scanned(tx, loss, num_steps, extra_args)(params, state)


SHORT_RUN = 20
"""The steps of the runs that compare injected and plain hyperparameters."""


@functools.cache
def short_runner(case, injected):
    """The case's transformation (its hyperparams injected or not) and its compiled short run
    on the parabola: one compilation shared by the tests of `inject_hyperparams`."""
    factory = optax.inject_hyperparams(case.factory) if injected else case.factory
    tx = factory(**case.hyperparams)
    target = TARGETS["parabola"]
    return tx, scanned(tx, target.loss, SHORT_RUN, case.extra_args(target.loss))


@functools.cache
def short_run(case, injected):
    """The short run from the parabola's start: the final params and state."""
    tx, run = short_runner(case, injected)
    params = TARGETS["parabola"].init()
    return run(params, tx.init(params))


@parametrize_cases
@pytest.mark.parametrize("target_name", sorted(TARGETS))
def test_converges_under_jit_and_scan(case, target_name):
    target = TARGETS[target_name]
    overrides, num_steps, tolerance = case.converge[target_name]
    tx = case.make(**overrides)
    params, _ = run_steps(tx, target.loss, target.init(), num_steps, case.extra_args(target.loss))
    chex.assert_trees_all_close(params, target.solution(), atol=tolerance)


@parametrize_cases
def test_update_does_not_recompile(case):
    tx = case.make()
    params = TARGETS["parabola"].init()
    extra_args = case.extra_args(parabola)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state):
        updates, state = tx.update(jax.grad(parabola)(params), state, params, **extra_args)
        return optax.apply_updates(params, updates), state

    state = tx.init(params)
    for _ in range(3):
        params, state = step(params, state)
    chex.clear_trace_counter()


@parametrize_cases
def test_unknown_extra_args_are_ignored(case):
    tx = case.make()
    params = TARGETS["parabola"].init()
    grads = jax.grad(parabola)(params)
    state = tx.init(params)
    extra_args = case.extra_args(parabola)

    @jax.jit
    def with_and_without(state, unknown):
        expected = tx.update(grads, state, params, **extra_args)
        actual = tx.update(grads, state, params, **extra_args, unknown_argument=unknown)
        return actual, expected

    actual, expected = with_and_without(state, jnp.ones(3))
    chex.assert_trees_all_equal(actual, expected)
    # A second update from the new state, where every case's state has moved.
    actual, expected = with_and_without(expected[1], jnp.ones(3))
    chex.assert_trees_all_equal(actual, expected)


@parametrize_cases
def test_inject_hyperparams_gives_the_same_results(case):
    """Same params and same state (structure included), up to float32 rounding: a Python
    hyperparameter's logarithm is taken in float64. Defaults are injected too (as arrays)."""
    expected, expected_state = short_run(case, injected=False)
    actual, state = short_run(case, injected=True)
    chex.assert_trees_all_close(actual, expected, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(state.inner_state, expected_state, rtol=1e-5, atol=1e-6)
    assert set(state.hyperparams) >= set(case.hyperparams)


@parametrize_cases
def test_injected_hyperparams_can_change_between_steps(case):
    """Changing an injected hyperparameter changes the run (it is really read)."""
    injected, run = short_runner(case, injected=True)
    params = TARGETS["parabola"].init()
    state = injected.init(params)
    baseline = short_run(case, injected=True)
    for name, value in case.hyperparams.items():
        halved = jnp.asarray(value * 0.5, state.hyperparams[name].dtype)
        changed_state = state._replace(hyperparams={**state.hyperparams, name: halved})
        changed = run(params, changed_state)
        with pytest.raises(AssertionError):
            chex.assert_trees_all_close(
                (changed[0], changed[1].inner_state),
                (baseline[0], baseline[1].inner_state),
                atol=1e-7,
            )


@parametrize_cases
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
def test_dtypes_are_preserved(case, dtype):
    tx = case.make()
    params = jax.tree.map(lambda x: x.astype(dtype), TARGETS["parabola"].init())
    grads = jax.grad(parabola)(params)
    state = tx.init(params)
    # The types of the jitted update's outputs, traced without compiling it.
    updates, new_state = jax.eval_shape(
        lambda g, s, p: tx.update(g, s, p, **case.extra_args(parabola)), grads, state, params
    )
    chex.assert_trees_all_equal_dtypes(updates, params)
    chex.assert_trees_all_equal_dtypes(new_state, state)
    chex.assert_trees_all_equal_shapes(new_state, state)


@parametrize_cases
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
def test_state_is_stable_under_lax_cond(case, dtype):
    tx = case.make()
    params = jax.tree.map(lambda x: x.astype(dtype), TARGETS["parabola"].init())
    grads = jax.grad(parabola)(params)
    extra_args = case.extra_args(parabola)

    @jax.jit
    def maybe_update(flag, state):
        return jax.lax.cond(
            flag, lambda s: tx.update(grads, s, params, **extra_args)[1], lambda s: s, state
        )

    state = tx.init(params)
    stepped = maybe_update(True, state)
    kept = maybe_update(False, stepped)
    chex.assert_trees_all_equal(kept, stepped)


@parametrize_cases
@jax.numpy_dtype_promotion("standard")  # MultiSteps divides its float sums by an int32 count.
def test_multi_steps_accumulates_before_updating(case):
    """The inner transformation runs every k-th step only; params stay put in between."""
    every_k = 3
    target = TARGETS["parabola"]
    tx = optax.MultiSteps(case.make(), every_k_schedule=every_k)
    params = target.init()
    state = tx.init(params)
    extra_args = case.extra_args(target.loss)
    update = jax.jit(lambda g, s, p: tx.update(g, s, p, **extra_args))
    inner_counts, unchanged = [], []
    for _ in range(2 * every_k):
        updates, state = update(jax.grad(target.loss)(params), state, params)
        new_params = optax.apply_updates(params, updates)
        unchanged.append(all(jax.tree.leaves(jax.tree.map(jnp.array_equal, new_params, params))))
        # optax's SGD keeps no count: then MultiSteps's count of inner updates.
        count = optax.tree.get(state.inner_opt_state, "count")
        inner_counts.append(int(state.gradient_step if count is None else count))
        params = new_params
    assert inner_counts == [0, 0, 1, 1, 1, 2]
    assert unchanged[:2] == unchanged[3:5] == [True, True]
    assert not all(unchanged)


@parametrize_gradient_cases
def test_masked_leaves_pass_through(case):
    target = TARGETS["parabola"]
    tx = optax.masked(case.make(), {"w": True, "b": False})
    params = target.init()
    grads = jax.grad(target.loss)(params)
    updates, _ = tx.update(grads, tx.init(params), params, **case.extra_args(target.loss))
    chex.assert_trees_all_equal(updates["b"], grads["b"])
    assert not np.allclose(updates["w"], grads["w"])


@parametrize_gradient_cases
def test_apply_if_finite_skips_non_finite_gradients(case):
    target = TARGETS["parabola"]
    tx = optax.apply_if_finite(case.make(), max_consecutive_errors=3)
    params = target.init()
    state = tx.init(params)
    extra_args = case.extra_args(target.loss)
    bad = jax.tree.map(lambda g: g.at[0].set(jnp.nan), jax.grad(target.loss)(params))
    updates, bad_state = tx.update(bad, state, params, **extra_args)
    chex.assert_trees_all_equal(optax.apply_updates(params, updates), params)
    chex.assert_trees_all_equal(bad_state.inner_state, state.inner_state)
    assert int(bad_state.notfinite_count) == 1
    updates, good_state = tx.update(jax.grad(target.loss)(params), bad_state, params, **extra_args)
    assert int(good_state.notfinite_count) == 0
    chex.assert_tree_all_finite(updates)


@parametrize_gradient_cases
def test_after_clip_by_global_norm_equals_clipped_gradients(case):
    target = TARGETS["parabola"]
    max_norm = 0.5
    params = target.init()
    grads = jax.grad(target.loss)(params)
    extra_args = case.extra_args(target.loss)
    chained = optax.chain(optax.clip_by_global_norm(max_norm), case.make())
    actual, _ = chained.update(grads, chained.init(params), params, **extra_args)
    clipped = jax.tree.map(lambda g: g * (max_norm / optax.tree.norm(grads)), grads)
    tx = case.make()
    expected, _ = tx.update(clipped, tx.init(params), params, **extra_args)
    chex.assert_trees_all_close(actual, expected, rtol=1e-6)
    assert float(optax.tree.norm(grads)) > max_norm
