"""Run on 8 simulated CPU devices by test_sharding.py: sharded chains give bit-identical results."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec

import annealax
from annealax._annealing import anneal as _anneal

NUM_CHAINS = 64


def rastrigin(x):
    return 10.0 * x.size + jnp.sum(jnp.square(x) - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def assert_identical(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(np.asarray(x), np.asarray(y)), "results differ"


def check_anneal(mesh):
    kwargs = dict(
        key=jax.random.key(42),
        num_steps=200,
        num_chains=NUM_CHAINS,
        temperature=optax.exponential_decay(5.0, 200, 1e-3),
        step_size=0.3,
        bounds=(-5.12, 5.12),
    )
    init = jnp.full(16, 3.0, dtype=jnp.float32)
    single = annealax.anneal(rastrigin, init, **kwargs)
    sharded = annealax.anneal(rastrigin, init, mesh=mesh, **kwargs)
    assert_identical(sharded, single)
    chains = sharded.state.chains
    assert chains.sharding.spec == PartitionSpec("chains"), chains.sharding
    assert len(chains.sharding.device_set) == 8
    assert chains.addressable_shards[0].data.shape == (NUM_CHAINS // 8, 16)

    # No collective gathers the chains: all-gathers, if any, are of per-chain scalars (the
    # losses, to find the best chain), never of the (num_chains, 16) chains.
    collectives = [
        line
        for line in compiled_text(mesh, init).splitlines()
        if "all-gather(" in line or "all-to-all(" in line
    ]
    assert collectives, "expected the losses to be gathered"
    for line in collectives:
        assert f"[{NUM_CHAINS},16]" not in line.split("all-")[0], line


def check_self_tuning_and_tempering(mesh):
    """The defaults (auto temperature, adapted step sizes, jumps, one-coordinate moves) with
    replica exchange, a punctuated polish and early stopping: still bit-identical."""
    kwargs = dict(
        key=jax.random.key(3),
        num_steps=300,
        num_chains=NUM_CHAINS,
        bounds=(-5.12, 5.12),
        replica_exchange=annealax.replica_exchange(8, swap_every=5),
        polish=annealax.polish(10, every=100),
        patience=150,
    )
    init = jnp.full(16, 3.0, dtype=jnp.float32)
    single = annealax.anneal(rastrigin, init, **kwargs)
    sharded = annealax.anneal(rastrigin, init, mesh=mesh, **kwargs)
    assert_identical(sharded, single)
    assert float(single.state.swap_rate.min()) > 0, single.state.swap_rate
    assert sharded.state.rung.sharding.spec == PartitionSpec("chains"), sharded.state.rung.sharding


def compiled_text(mesh, init):
    captured = {}
    original = _anneal._run

    def capture(*args, static):
        captured["text"] = original.lower(*args, static=static).compile().as_text()
        return original(*args, static=static)

    _anneal._run = capture
    try:
        annealax.anneal(
            rastrigin,
            init,
            key=jax.random.key(42),
            num_steps=10,
            num_chains=NUM_CHAINS,
            temperature=optax.exponential_decay(5.0, 200, 1e-3),
            step_size=0.3,
            bounds=(-5.12, 5.12),
            mesh=mesh,
        )
    finally:
        _anneal._run = original
    return captured["text"]


def check_transformation(mesh):
    tx = annealax.metropolis(NUM_CHAINS, key=7, temperature=0.5, step_size=0.2)
    params = jnp.zeros(8, dtype=jnp.float32)

    @jax.jit
    def train_step(params, state):
        updates, state = tx.update(None, state, params, value_fn=rastrigin)
        return optax.apply_updates(params, updates), state

    results = []
    for sharded in (False, True):
        state = tx.init(params)
        if sharded:
            state = annealax.shard_chains(state, mesh)
        p = params
        for _ in range(30):
            p, state = train_step(p, state)
        if sharded:
            assert state.chains.sharding.spec == PartitionSpec("chains"), state.chains.sharding
        results.append((p, state))
    assert_identical(results[1], results[0])


def check_errors(mesh):
    try:
        annealax.anneal(rastrigin, jnp.zeros(2), key=0, num_steps=2, num_chains=12, mesh=mesh)
    except ValueError as error:
        assert "multiple of the mesh's 'chains' axis size 8, got 12" in str(error), error
    else:
        raise AssertionError("12 chains over 8 devices did not raise")


def main():
    assert jax.device_count() == 8, jax.devices()
    for axis_type in (jax.sharding.AxisType.Auto, jax.sharding.AxisType.Explicit):
        mesh = jax.make_mesh((8,), ("chains",), axis_types=(axis_type,))
        check_anneal(mesh)
        check_self_tuning_and_tempering(mesh)
        check_transformation(mesh)
        check_errors(mesh)
    print("sharded chains: OK")


if __name__ == "__main__":
    main()
