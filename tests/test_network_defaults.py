"""`anneal`'s defaults for a network's weights: which params get them, and that they train."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import annealax
from annealax._annealing.anneal import DEFAULT_PROPOSAL, is_network


def mlp_params(key, sizes=(4, 8, 2)):
    keys = jax.random.split(key, len(sizes) - 1)
    return {
        f"layer{i}": {
            "kernel": jax.random.normal(k, (m, n)) / jnp.sqrt(m),
            "bias": jnp.zeros(n),
        }
        for i, (k, m, n) in enumerate(zip(keys, sizes[:-1], sizes[1:], strict=True))
    }


def mlp(params, x):
    for i in range(len(params)):
        layer = params[f"layer{i}"]
        x = x @ layer["kernel"] + layer["bias"][None, :]
        if i < len(params) - 1:
            x = jnp.tanh(x)
    return x


def two_moons_like(key, n=128):
    """Two noisy interleaved arcs in 4 dimensions (the last two pure noise)."""
    angle_key, label_key, noise_key = jax.random.split(key, 3)
    angle = jax.random.uniform(angle_key, (n,), maxval=jnp.pi)
    label = jax.random.bernoulli(label_key, 0.5, (n,)).astype(jnp.int32)
    x = jnp.where(label, 1 - jnp.cos(angle), jnp.cos(angle))
    y = jnp.where(label, 0.5 - jnp.sin(angle), jnp.sin(angle))
    noise = 0.1 * jax.random.normal(noise_key, (n, 4))
    return jnp.stack([x, y, jnp.zeros(n), jnp.zeros(n)], axis=1) + noise, label


def cross_entropy(params, inputs, labels):
    logits = mlp(params, inputs)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))


@pytest.mark.parametrize(
    ("params", "per_chain_init", "expected"),
    [
        (mlp_params(jax.random.key(0)), False, True),
        ({"kernel": jnp.zeros((3, 4))}, False, False),  # one leaf: a matrix, not a network
        (jnp.zeros((10, 3)), False, False),  # points in space
        ({"a": jnp.zeros(3), "b": jnp.zeros(4)}, False, False),  # vectors only
        ({"kernel": jnp.zeros((5, 3, 4)), "bias": jnp.zeros((5, 4))}, True, True),
        ({"kernel": jnp.zeros((5, 3)), "bias": jnp.zeros((5, 4))}, True, False),
    ],
)
def test_which_params_are_a_network(params, per_chain_init, expected):
    assert is_network(params, per_chain_init) is expected


def test_a_network_defaults_to_one_chain_of_sparse_per_leaf_moves():
    params = mlp_params(jax.random.key(1))
    inputs, labels = two_moons_like(jax.random.key(2))

    def loss(p):
        return cross_entropy(p, inputs, labels)

    defaults = annealax.anneal(loss, params, key=3, num_steps=200)
    explicit = annealax.anneal(
        loss,
        params,
        key=3,
        num_steps=200,
        num_chains=1,
        proposal=annealax.random_walk(per_leaf=True, fraction=0.1),
    )
    assert jax.tree.leaves(defaults.state.chains)[0].shape[0] == 1
    for a, b in zip(jax.tree.leaves(defaults), jax.tree.leaves(explicit), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_vector_keeps_64_chains_of_coordinate_moves_and_jumps():
    def loss(x):
        return jnp.sum(x**2)

    defaults = annealax.anneal(loss, jnp.ones(5), key=4, num_steps=50)
    explicit = annealax.anneal(
        loss, jnp.ones(5), key=4, num_steps=50, num_chains=64, proposal=DEFAULT_PROPOSAL
    )
    assert defaults.state.chains.shape == (64, 5)
    np.testing.assert_array_equal(defaults.state.chains, explicit.state.chains)


def test_per_chain_init_takes_the_number_of_chains_from_the_params():
    starts = jax.random.normal(jax.random.key(5), (6, 3))
    result = annealax.anneal(
        lambda x: jnp.sum(x**2), starts, key=6, num_steps=5, per_chain_init=True
    )
    assert result.state.chains.shape == (6, 3)


def test_polish_of_more_chains_than_a_network_default_says_what_to_pass():
    params = mlp_params(jax.random.key(7))
    with pytest.raises(ValueError, match=r"more than `num_chains`=1; pass num_chains >= 4"):
        annealax.anneal(
            lambda p: jnp.sum(mlp(p, jnp.ones((1, 4))) ** 2),
            params,
            key=0,
            num_steps=5,
            polish=annealax.polish(5),
        )


def test_network_defaults_train_further_than_coordinate_moves_at_equal_evaluations():
    params = mlp_params(jax.random.key(8))
    inputs, labels = two_moons_like(jax.random.key(9))

    def loss(p):
        return cross_entropy(p, inputs, labels)

    evaluations = 64 * 60
    network = annealax.anneal(loss, params, key=10, num_steps=evaluations - 1)
    coordinates = annealax.anneal(
        loss, params, key=10, num_steps=evaluations // 64 - 1, num_chains=64,
        proposal=DEFAULT_PROPOSAL,
    )  # fmt: skip
    assert int(network.num_evaluations) == int(coordinates.num_evaluations) == evaluations
    # Both improve on the start; the network defaults end at less than a tenth of the loss.
    assert float(coordinates.best_value) < float(loss(params))
    assert float(network.best_value) < 0.1 * float(coordinates.best_value)
