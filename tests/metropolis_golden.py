"""Golden states of the Metropolis annealer: the configurations, and a recorder of their results.

``python tests/metropolis_golden.py`` writes ``tests/data/metropolis_golden/<name>.npz``; the
tests in ``test_metropolis_golden.py`` reproduce every array bit for bit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import annealax

FOLDER = Path(__file__).parent / "data" / "metropolis_golden"


def rastrigin(x):
    return 10.0 * x.size + jnp.sum(jnp.square(x) - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def rosenbrock(x):
    return jnp.sum(100.0 * jnp.square(x[1:] - jnp.square(x[:-1])) + jnp.square(1.0 - x[:-1]))


def tree_loss(params):
    return rastrigin(params["w"].ravel()) + jnp.sum(jnp.square(params["b"] - 0.5))


TREE = {"w": jnp.full((3, 2), 2.0), "b": jnp.zeros(4)}


def defaults_with_jumps_and_bounds():
    return annealax.anneal(
        rastrigin, jnp.full(6, 3.0), key=0, num_steps=300, num_chains=16, bounds=(-5.12, 5.12)
    )


def replica_exchange():
    return annealax.anneal(
        rastrigin,
        jnp.full(4, 3.0),
        key=1,
        num_steps=200,
        num_chains=16,
        temperature=2.0,
        step_size=0.3,
        replica_exchange=annealax.replica_exchange(4, max_ratio=20.0, swap_every=5),
    )


def polish_every():
    return annealax.anneal(
        rosenbrock,
        jnp.zeros(4),
        key=2,
        num_steps=120,
        num_chains=8,
        bounds=(-5.0, 5.0),
        polish=annealax.polish(20, num_chains=2, every=40),
    )


def auto_temperature_and_step_size():
    return annealax.anneal(
        rosenbrock,
        jnp.full(5, -1.0),
        key=3,
        num_steps=250,
        num_chains=12,
        proposal="gaussian",
        adaptation=annealax.adapt_step_size(0.3, rate=0.1, steps=150),
    )


def dense_pytree():
    return annealax.anneal(
        tree_loss,
        TREE,
        key=4,
        num_steps=150,
        num_chains=8,
        proposal=annealax.jumps(annealax.random_walk(per_leaf=True)),
        bounds=(-5.0, 5.0),
    )


def minibatch():
    """`metropolis` with a minibatch loss, stepped from Python: an optax update loop."""
    data = jax.random.normal(jax.random.key(7), (10, 16, 3)) + 1.5
    tx = annealax.metropolis(
        8,
        key=5,
        temperature=annealax.geometric_temperature(1.0, 1e-3, 40),
        step_size=0.2,
        minibatch=True,
        proposal=annealax.jumps("gaussian", probability=0.2),
    )

    @jax.jit
    def update(params, state, batch):
        def loss(x):
            return jnp.mean(jnp.sum(jnp.square(batch - x[None]), axis=-1))

        updates, state = tx.update(None, state, params, value_fn=loss)
        return optax.apply_updates(params, updates), state

    params = jnp.zeros(3)
    state = tx.init(params)
    for step in range(40):
        params, state = update(params, state, data[step % 10])
    return params, state


CONFIGURATIONS = {
    "defaults_with_jumps_and_bounds": defaults_with_jumps_and_bounds,
    "replica_exchange": replica_exchange,
    "polish_every": polish_every,
    "auto_temperature_and_step_size": auto_temperature_and_step_size,
    "dense_pytree": dense_pytree,
}

STATE_FIELDS = (
    "chains",
    "values",
    "best_params",
    "best_value",
    "temperature",
    "step_size",
    "acceptance_rate",
    "rng_key",
    "count",
)


def arrays(name: str) -> dict[str, np.ndarray]:
    """Every recorded array of a configuration, flattened to ``{path: array}``."""
    if name == "minibatch":
        params, state = minibatch()
        tree = {"params": params, "state": _fields(state)}
    else:
        result = CONFIGURATIONS[name]()
        tree = {
            "best_params": result.best_params,
            "best_value": result.best_value,
            "num_evaluations": result.num_evaluations,
            "trace": result.trace._asdict(),
            "state": _fields(result.state),
        }
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in flat}


def _fields(state) -> dict:
    fields = {field: optax.tree.get(state, field) for field in STATE_FIELDS}
    missing = [field for field, value in fields.items() if value is None]
    assert not missing, f"the state has no {missing}"
    return fields


NAMES = (*CONFIGURATIONS, "minibatch")


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or NAMES:
        np.savez(FOLDER / f"{name}.npz", **arrays(name))
        print("recorded", name)


if __name__ == "__main__":
    main()
