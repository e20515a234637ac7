"""The cooling laws follow the spec's formulas, stay finite for any step count, and check input."""

import decimal
from decimal import Decimal

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from reference import exponential_rho

import annealax

INT32_MAX = np.iinfo(np.int32).max


def exact(law, momentum, total_steps, t):
    """The spec's formula in 40-digit decimal arithmetic: free of the rounding of float64 powers."""
    with decimal.localcontext() as context:
        context.prec = 40
        one, rho_0, s = Decimal(1), Decimal(momentum), Decimal(total_steps)
        if law == "exponential":
            alpha = (one - rho_0) ** (one / s)
            return float(max(Decimal(0), one - (one - rho_0) / alpha**t))
        if law == "friction":
            if t >= total_steps:
                return 0.0
            c = (one - rho_0) / (one + rho_0)
            ratio = c / (c ** (one / s)) ** t
            return float((one - ratio) / (one + ratio))
        u = Decimal(t) / s
        return float(max(Decimal(0), rho_0 * (one - u) / abs(one - rho_0 * u)))


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("total_steps", [1, 7, 100, 312_400])
@pytest.mark.parametrize("cooling", ["exponential", "linear", "friction"])
def test_laws_follow_the_spec_formulas(momentum, total_steps, cooling):
    steps = sorted({0, 1, total_steps // 3, total_steps - 1, total_steps, total_steps + 5})
    expected = np.array([exact(cooling, momentum, total_steps, t) for t in steps])
    with jax.enable_x64(True):
        schedule = annealax.momentum_schedule(momentum, total_steps=total_steps, cooling=cooling)
        actual = np.array([float(schedule(t)) for t in steps])
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)
    assert actual[0] == pytest.approx(momentum, abs=1e-15)
    assert actual[steps.index(total_steps)] == 0.0


@pytest.mark.parametrize("cooling_rate", [1.0, 0.99997, 0.999, 0.5])
def test_exponential_law_with_cooling_rate_follows_the_spec(cooling_rate):
    steps = [0, 1, 10, 1000, 100_000]
    expected = np.array([exponential_rho(0.99, cooling_rate)(t) for t in steps])
    with jax.enable_x64(True):
        schedule = annealax.exponential_cooling(0.99, cooling_rate)
        actual = np.array([float(schedule(t)) for t in steps])
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)


def test_default_cooling_rate_is_the_authors():
    schedule = annealax.momentum_schedule(0.99)
    reference = exponential_rho(0.99, 0.99997)
    for t in (0, 1000, 100_000):
        assert float(schedule(t)) == pytest.approx(reference(t), abs=1e-6)


def test_cooling_rate_for_steps():
    assert annealax.cooling_rate_for_steps(0.99, 312_400) == pytest.approx(0.01 ** (1 / 312_400))
    assert annealax.cooling_rate_for_steps(0.9, 1) == pytest.approx(0.1)


def test_schedules_are_optax_schedules_under_jit_and_vmap():
    schedule = annealax.linear_cooling(0.9, 100)
    counts = jnp.arange(0, 120, dtype=jnp.int32)
    rho = jax.jit(jax.vmap(schedule))(counts)
    assert rho.shape == (120,)
    assert bool(jnp.all(jnp.diff(rho) <= 0))
    assert float(rho[0]) == pytest.approx(0.9)
    assert bool(jnp.all(rho[100:] == 0))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(cooling_rate=1e-30),
        dict(cooling_rate=0.99997),
        dict(total_steps=1),
        dict(total_steps=INT32_MAX),
        dict(total_steps=10, cooling="linear"),
        dict(total_steps=10, cooling="friction"),
    ],
)
@pytest.mark.parametrize("count", [INT32_MAX - 1, INT32_MAX])
def test_schedules_stay_finite_and_clamped_at_the_int32_limit(kwargs, count):
    for x64 in (False, True):
        with jax.enable_x64(x64):
            rho = annealax.momentum_schedule(0.99, **kwargs)(jnp.asarray(count, jnp.int32))
            assert bool(jnp.isfinite(rho))
            assert 0.0 <= float(rho) < 0.99
            if kwargs.get("total_steps", 0) != INT32_MAX and kwargs.get("cooling_rate") != 0.99997:
                assert float(rho) == 0.0


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32, jnp.float64])
@pytest.mark.parametrize("cooling", ["exponential", "linear", "friction"])
def test_long_runs_stay_finite_up_to_the_int32_limit(dtype, cooling):
    with jax.enable_x64(dtype == jnp.float64):
        tx = annealax.coolmomentum(0.1, 0.99, total_steps=1000, cooling=cooling)
        params = jnp.array([3.0, -2.0], dtype=dtype)
        state = optax.tree.set(tx.init(params), count=jnp.asarray(INT32_MAX - 3, jnp.int32))
        update = jax.jit(tx.update)
        for _ in range(6):
            grads = jax.grad(lambda p: jnp.sum(jnp.square(p.astype(jnp.float32))))(params)
            updates, state = update(grads.astype(dtype), state, params)
            params = optax.apply_updates(params, updates)
        assert int(optax.tree.get(state, "count")) == INT32_MAX
        assert float(optax.tree.get(state, "rho")) == 0.0
        assert params.dtype == dtype
        assert bool(jnp.all(jnp.isfinite(params)))
        assert bool(jnp.isfinite(optax.tree.get(state, "temperature")))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(momentum=1.0), r"`momentum` must be in \[0, 1\), got 1.0"),
        (dict(momentum=-0.1), r"`momentum` must be in \[0, 1\), got -0.1"),
        (dict(cooling_rate=0.0), r"`cooling_rate` must be in \(0, 1\], got 0.0"),
        (dict(cooling_rate=1.5), r"`cooling_rate` must be in \(0, 1\], got 1.5"),
        (dict(total_steps=0), r"`total_steps` must be an integer >= 1, got 0"),
        (dict(total_steps=2.5), r"`total_steps` must be an integer >= 1, got 2.5"),
        (
            dict(cooling_rate=0.99, total_steps=10),
            r"only one of `cooling_rate` and `total_steps`, got cooling_rate=0.99 and "
            r"total_steps=10",
        ),
        (dict(cooling="cosine"), r"`cooling` must be one of .*, got 'cosine'"),
        (dict(cooling="linear"), r"cooling='linear' needs `total_steps`, got total_steps=None"),
        (dict(cooling="friction"), r"cooling='friction' needs `total_steps`"),
        (
            dict(cooling="linear", cooling_rate=0.9, total_steps=5),
            r"`cooling_rate` applies to exponential cooling only; .* got cooling_rate=0.9",
        ),
        (dict(weight_decay=-1e-4), r"`weight_decay` must be >= 0, got -0.0001"),
    ],
)
def test_bad_static_arguments_raise_naming_argument_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        annealax.coolmomentum(**kwargs)
    if "weight_decay" not in kwargs:
        with pytest.raises(ValueError, match=message):
            annealax.scale_by_coolmomentum(**kwargs)


def test_rho_and_temperature_are_readable_inside_a_chain():
    tx = optax.chain(optax.clip_by_global_norm(10.0), annealax.coolmomentum(0.1, 0.9, 0.5))
    params = jnp.array([1.0, 2.0])
    state = tx.init(params)
    for t in range(3):
        grads = 2.0 * params
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        assert float(optax.tree.get(state, "rho")) == pytest.approx(1.0 - 0.1 / 0.5**t)
        assert float(optax.tree.get(state, "temperature")) == pytest.approx(
            float(jnp.mean(jnp.square(updates)))
        )
