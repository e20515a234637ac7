"""CoolMomentum reproduces the authors' optimizer: golden trajectories replayed in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from reference import (
    GOLDEN_CASES,
    exponential_rho,
    friction_rho,
    linear_rho,
    load_golden,
    replay,
)

import annealax

TOLERANCE = 1e-12


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


def run(tx, theta_0, grads, jitted):
    """Feed recorded gradients to ``tx``; return params, velocity, rho and temperature per step."""

    def step(carry, grad):
        params, state = carry
        updates, state = tx.update(grad, state, params)
        params = optax.apply_updates(params, updates)
        record = (
            params,
            optax.tree.get(state, "velocity"),
            optax.tree.get(state, "rho"),
            optax.tree.get(state, "temperature"),
        )
        return (params, state), record

    carry = (jnp.asarray(theta_0), tx.init(jnp.asarray(theta_0)))
    if jitted:
        _, records = jax.jit(lambda c, g: jax.lax.scan(step, c, g))(carry, jnp.asarray(grads))
        return [np.asarray(r) for r in records]
    records = []
    for grad in grads:
        carry, record = step(carry, jnp.asarray(grad))
        records.append(record)
    return [np.stack([np.asarray(r[i]) for r in records]) for i in range(4)]


def assert_close(actual, expected, what):
    error = np.max(np.abs(np.asarray(actual) - np.asarray(expected)))
    assert error <= TOLERANCE, f"{what}: max abs error {error:.3e} > {TOLERANCE}"


def assert_trajectory(tx, lr, theta_0, grads, expected):
    exp_params, exp_velocity, exp_rho, exp_temperature = expected
    for jitted in (False, True):
        params, velocity, rho, temperature = run(tx, theta_0, grads, jitted)
        assert params.dtype == np.float64
        assert_close(params, exp_params[1:], f"params (jitted={jitted})")
        assert_close(-lr * velocity, exp_velocity, f"velocity (jitted={jitted})")
        assert_close(rho, exp_rho, f"rho (jitted={jitted})")
        assert_close(temperature, exp_temperature, f"temperature (jitted={jitted})")


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_with_cooling_rate(name):
    golden = load_golden(name)
    tx = annealax.coolmomentum(golden.lr, golden.rho_0, golden.alpha)
    expected = (golden.params, golden.velocity, golden.rho, golden.temperature)
    assert_trajectory(tx, golden.lr, golden.params[0], golden.grads, expected)


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_reference_loop_reproduces_golden(name):
    golden = load_golden(name)
    rho = exponential_rho(golden.rho_0, golden.alpha)
    params, velocity, rhos, temperature = replay(golden.params[0], golden.grads, golden.lr, rho)
    assert_close(params, golden.params, "params")
    assert_close(velocity, golden.velocity, "velocity")
    assert_close(rhos, golden.rho, "rho")
    assert_close(temperature, golden.temperature, "temperature")


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
@pytest.mark.parametrize("fraction", [0.5, 1.0])
def test_golden_gradients_with_total_steps(name, fraction):
    """alpha = (1 - rho_0) ** (1 / S): rho reaches 0 at update S, inside or at the run's end."""
    golden = load_golden(name)
    total_steps = int(fraction * len(golden.grads))
    alpha = (1.0 - golden.rho_0) ** (1.0 / total_steps)
    rho = exponential_rho(golden.rho_0, alpha)
    expected = replay(golden.params[0], golden.grads, golden.lr, rho)
    tx = annealax.coolmomentum(golden.lr, golden.rho_0, total_steps=total_steps)
    assert_trajectory(tx, golden.lr, golden.params[0], golden.grads, expected)
    schedule = annealax.momentum_schedule(golden.rho_0, total_steps=total_steps)
    assert float(schedule(total_steps - 1)) > 0.0
    assert float(schedule(total_steps)) == 0.0


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
@pytest.mark.parametrize(("cooling", "law"), [("linear", linear_rho), ("friction", friction_rho)])
def test_golden_gradients_with_later_cooling_laws(name, cooling, law):
    golden = load_golden(name)
    total_steps = len(golden.grads) // 2
    expected = replay(golden.params[0], golden.grads, golden.lr, law(golden.rho_0, total_steps))
    tx = annealax.coolmomentum(golden.lr, golden.rho_0, total_steps=total_steps, cooling=cooling)
    assert_trajectory(tx, golden.lr, golden.params[0], golden.grads, expected)


@pytest.mark.parametrize("weight_decay", [5e-4, 0.1])
def test_golden_gradients_with_weight_decay(weight_decay):
    golden = load_golden("a_quadratic")
    rho = exponential_rho(golden.rho_0, golden.alpha)
    grads = golden.grads
    expected = replay(golden.params[0], grads, golden.lr, rho, weight_decay=weight_decay)
    tx = annealax.coolmomentum(golden.lr, golden.rho_0, golden.alpha, weight_decay=weight_decay)
    assert_trajectory(tx, golden.lr, golden.params[0], grads, expected)
