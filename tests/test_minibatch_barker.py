"""The minibatch Barker test: its correction law, its acceptance probability, and sampling the
full-data Boltzmann law from noisy minibatch losses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit, ndtr

import annealax
from annealax._annealing.barker import correction_law


def test_normal_plus_correction_is_logistic():
    points, cumulative = correction_law()
    probabilities = np.diff(cumulative, prepend=0.0)
    x = np.linspace(-12, 12, 2401)
    convolved = ndtr(x[:, None] - points[None, :]) @ probabilities
    np.testing.assert_array_less(np.abs(convolved - expit(x)), 1e-3)
    # The logistic law has variance pi^2 / 3; N(0, 1) brings 1 of it.
    variance = probabilities @ points**2 - (probabilities @ points) ** 2
    np.testing.assert_allclose(variance, np.pi**2 / 3 - 1, rtol=0.05)


def acceptance_rate(test, mean, noise, temperature, *, batch=100, trials=40_000, seed=0):
    """The share of ``trials`` accepted by ``test`` for a level of per-example losses whose
    batch mean difference is ``mean`` with standard deviation ``noise`` (per example: noise
    times sqrt(batch))."""
    noise_key, accept_key = jax.random.split(jax.random.key(seed))
    spread = jax.random.normal(noise_key, (trials, batch))
    spread = spread - spread.mean(axis=1, keepdims=True)
    per_example = noise * np.sqrt(batch) * spread / spread.std(axis=1, ddof=1, keepdims=True)
    shift = mean + noise * jax.random.normal(jax.random.fold_in(noise_key, 1), (trials, 1))
    proposed = per_example + shift
    current = jnp.zeros_like(proposed)
    keys = jax.random.split(accept_key, trials)
    temperatures = jnp.full((trials,), temperature)
    return float(jnp.mean(test.accept(current, proposed, temperatures, keys)))


@pytest.mark.parametrize("noise", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("delta", [-2.0, 0.0, 1.0, 3.0])
def test_acceptance_is_barker_whatever_the_noise(delta, noise):
    temperature = 0.1
    test = annealax.minibatch_barker()
    rate = acceptance_rate(test, delta * temperature, noise * temperature, temperature)
    barker = expit(-delta)
    standard_error = np.sqrt(barker * (1 - barker) / 40_000)
    assert abs(rate - barker) < 4 * standard_error + 2e-3


def test_noise_beyond_the_temperature_is_rejected():
    test = annealax.minibatch_barker()
    assert acceptance_rate(test, -1.0, 1.2, 1.0, trials=2000) == 0.0


def test_without_a_positive_temperature_only_downhill_moves_pass():
    test = annealax.minibatch_barker()
    current = jnp.zeros((3, 4))
    proposed = jnp.array([[-1.0, -1, -1, 0.5], [1.0, 1, 1, -0.5], [0.0, 0, 0, 0]])
    keys = jax.random.split(jax.random.key(0), 3)
    for temperature in (0.0, jnp.nan):
        accepted = test.accept(current, proposed, jnp.full((3,), temperature), keys)
        np.testing.assert_array_equal(accepted, [True, False, False])


def test_non_finite_losses():
    test = annealax.minibatch_barker()
    current = jnp.array([[0.0, 0.0], [jnp.inf, 0.0], [jnp.inf, 0.0]])
    proposed = jnp.array([[jnp.inf, -5.0], [3.0, 3.0], [jnp.nan, 0.0]])
    keys = jax.random.split(jax.random.key(0), 3)
    accepted = test.accept(current, proposed, jnp.ones(3), keys)
    # Never a non-finite proposal; any finite one from a non-finite chain.
    np.testing.assert_array_equal(accepted, [False, True, False])


def sample(minibatch, *, per_example, data, batch, temperature, num_chains, num_steps, seed):
    """Chains of `metropolis` at a fixed temperature on random minibatches of the losses
    ``(x - y_i)^2 / 2``, started at twice the temperature; their states after a burn-in."""
    tx = annealax.metropolis(
        num_chains,
        key=seed,
        temperature=temperature,
        step_size=0.25,
        adaptation=None,
        per_chain_init=True,
        minibatch=minibatch,
    )
    starts = float(data.mean()) + np.sqrt(2 * temperature) * np.random.default_rng(seed).normal(
        size=num_chains
    )
    params = jnp.asarray(starts, jnp.float32)

    def body(state, key):
        examples = data[jax.random.choice(key, len(data), (batch,), replace=False)]

        def losses(x):
            per_example_losses = 0.5 * (x - examples) ** 2
            return per_example_losses if per_example else per_example_losses.mean()

        _, state = tx.update(None, state, params, value_fn=losses)
        return state, state.chains

    keys = jax.random.split(jax.random.key(seed + 1), num_steps)
    _, chains = jax.jit(lambda s: jax.lax.scan(body, s, keys))(tx.init(params))
    # Every 20th step after the burn-in: all chains see the same batch at a step, which
    # correlates them, so the check pools many steps.
    return np.asarray(chains)[num_steps // 4 :: 20].ravel(), starts


def test_chains_sample_the_full_data_boltzmann_law_from_minibatches():
    """The full-data mean loss is (x - mean(y))^2 / 2 + const: its Boltzmann law at T is
    N(mean(y), T). Batches of 300 of 4,000 examples give the loss difference of a step a noise
    of about 0.8 T; the Barker test samples the law, the Metropolis test a 1.3 times broader
    one."""
    temperature, num_examples, batch = 0.05, 4000, 300
    data = jnp.asarray(np.random.default_rng(0).normal(0.0, 3.0, num_examples), jnp.float32)
    settings = dict(
        data=data, batch=batch, temperature=temperature, num_chains=256, num_steps=800, seed=0
    )
    samples, starts = sample(annealax.minibatch_barker(num_examples), per_example=True, **settings)
    centred = samples - float(data.mean())
    assert abs(centred.mean()) < 0.2 * np.sqrt(temperature)
    np.testing.assert_allclose(centred.var(), temperature, rtol=0.06)
    assert not np.isclose(starts.var(), temperature, rtol=0.06)

    noisy, _ = sample(True, per_example=False, **settings)
    assert noisy.var() > 1.15 * temperature


def test_anneal_on_minibatches_reaches_the_minimum():
    """Cooling with the test on batches of a regression brings the chains near the full-data
    least-squares solution."""
    rng = np.random.default_rng(3)
    inputs = jnp.asarray(rng.normal(size=(2000, 3)), jnp.float32)
    truth = jnp.array([1.0, -2.0, 0.5])
    targets = inputs @ truth + jnp.asarray(rng.normal(0, 0.1, 2000), jnp.float32)
    num_steps = 1500
    tx = annealax.metropolis(
        32,
        key=0,
        temperature=annealax.geometric_temperature(1.0, 1e-3, num_steps),
        step_size=0.3,
        minibatch=annealax.minibatch_barker(num_examples=2000),
    )
    params = jnp.zeros(3)

    def body(state, key):
        index = jax.random.choice(key, 2000, (200,), replace=False)

        def losses(w):
            return (inputs[index] @ w - targets[index]) ** 2

        _, state = tx.update(None, state, params, value_fn=losses)
        return state, None

    keys = jax.random.split(jax.random.key(1), num_steps)
    state, _ = jax.jit(lambda s: jax.lax.scan(body, s, keys))(tx.init(params))
    solution = np.linalg.lstsq(np.asarray(inputs), np.asarray(targets), rcond=None)[0]
    np.testing.assert_allclose(np.median(np.asarray(state.chains), axis=0), solution, atol=0.05)


def test_input_checks():
    with pytest.raises(ValueError, match="num_examples"):
        annealax.minibatch_barker(num_examples=0)
    with pytest.raises(ValueError, match="minibatch"):
        annealax.metropolis(4, key=0, minibatch="barker")
    tx = annealax.metropolis(4, key=0, minibatch=annealax.minibatch_barker(num_examples=10))
    params = jnp.zeros(2)
    state = tx.init(params)
    with pytest.raises(ValueError, match=r"per-example losses .* got shape \(\)"):
        tx.update(None, state, params, value_fn=lambda x: jnp.sum(x**2))
    with pytest.raises(ValueError, match="larger than `num_examples`=10"):
        tx.update(None, state, params, value_fn=lambda x: jnp.zeros(11) + jnp.sum(x))
