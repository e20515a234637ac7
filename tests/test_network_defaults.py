"""`anneal`'s defaults for a network's weights: which params get them, and that they train."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import annealax
from annealax._annealing.anneal import is_network

VECTOR_MOVES = annealax.jumps(annealax.random_walk(count=1), probability=0.5, box_share=0.25)


def mlp_params(key, sizes=(4, 16, 2)):
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
    ("shapes", "per_chain_init", "expected"),
    [
        ({"kernel": (30, 10), "bias": (10,)}, False, True),
        ({"kernel": (30, 10)}, False, False),  # one leaf: a matrix, not a network
        ((100, 3), False, False),  # points in space
        ({"a": (300,), "b": (400,)}, False, False),  # vectors only
        ({"kernel": (4, 4), "bias": (4,)}, False, False),  # 20 coordinates: too few
        ({"kernel": (30, 10), "scale": (), "none": None}, False, True),
        ({"kernel": (5, 30, 10), "bias": (5, 10)}, True, True),
        ({"kernel": (5, 300), "bias": (5, 10)}, True, False),
    ],
)
def test_which_params_are_a_network(shapes, per_chain_init, expected):
    params = jax.tree.map(jnp.zeros, shapes, is_leaf=lambda x: isinstance(x, tuple))
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
        loss, jnp.ones(5), key=4, num_steps=50, num_chains=64, proposal=VECTOR_MOVES
    )
    assert defaults.state.chains.shape == (64, 5)
    np.testing.assert_array_equal(defaults.state.chains, explicit.state.chains)


def test_per_chain_init_takes_the_number_of_chains_from_the_params():
    starts = jax.random.normal(jax.random.key(5), (6, 3))
    result = annealax.anneal(
        lambda x: jnp.sum(x**2), starts, key=6, num_steps=5, per_chain_init=True
    )
    assert result.state.chains.shape == (6, 3)
    uneven = {"a": jnp.zeros((6, 3)), "b": jnp.zeros((5, 3))}
    with pytest.raises(ValueError, match=r"leading axis of every params leaf, got .*\[5, 6\]"):
        annealax.anneal(lambda p: 0.0, uneven, key=0, num_steps=5, per_chain_init=True)


@pytest.mark.parametrize(
    ("settings", "num_chains"),
    [
        ({"polish": annealax.polish(steps=5)}, 4),
        ({"replica_exchange": annealax.replica_exchange(8)}, 8),
        ({"proposal": annealax.differential_evolution()}, 4),
        ({"proposal": "gaussian"}, 1),
    ],
)
def test_a_network_gets_as_few_chains_as_the_other_settings_allow(settings, num_chains):
    params = mlp_params(jax.random.key(7))
    inputs, labels = two_moons_like(jax.random.key(2), n=8)
    result = annealax.anneal(
        lambda p: cross_entropy(p, inputs, labels), params, key=0, num_steps=5, **settings
    )
    assert jax.tree.leaves(result.state.chains)[0].shape[0] == num_chains


def test_metropolis_refuses_the_proposal_of_anneal():
    with pytest.raises(ValueError, match=r'`proposal="auto"` is annealax.anneal\'s'):
        annealax.metropolis(4, key=0, proposal="auto")


def test_network_defaults_train_further_than_the_vector_defaults_at_equal_evaluations():
    params = mlp_params(jax.random.key(8))
    inputs, labels = two_moons_like(jax.random.key(9))

    def loss(p):
        return cross_entropy(p, inputs, labels)

    evaluations = 64 * 60
    network = annealax.anneal(loss, params, key=10, num_steps=evaluations - 1)
    vector = annealax.anneal(
        loss, params, key=10, num_steps=evaluations // 64 - 1, num_chains=64,
        proposal=VECTOR_MOVES,
    )  # fmt: skip
    assert int(network.num_evaluations) == int(vector.num_evaluations) == evaluations
    # Both improve on the start; the network defaults end at less than a tenth of the loss
    # (measured: 2e-8 against 0.33).
    assert float(vector.best_value) < float(loss(params))
    assert float(network.best_value) < 0.1 * float(vector.best_value)
