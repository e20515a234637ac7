"""Chains sharded over devices with JAX's own sharding: the chain axis over a mesh axis "chains"."""

from __future__ import annotations

from typing import Any

import jax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from annealax._annealing.state import PER_CHAIN_TYPES, MetropolisState

CHAIN_AXIS = "chains"


def check_mesh(mesh: Any, num_chains: int) -> None:
    """Raise unless ``mesh`` is a `Mesh` with a "chains" axis whose size divides ``num_chains``."""
    if not isinstance(mesh, Mesh) or CHAIN_AXIS not in mesh.shape:
        raise ValueError(
            f"`mesh` must be a jax.sharding.Mesh with an axis named {CHAIN_AXIS!r}, got {mesh!r}"
        )
    if num_chains % mesh.shape[CHAIN_AXIS] != 0:
        raise ValueError(
            f"`num_chains` must be a multiple of the mesh's {CHAIN_AXIS!r} axis size "
            f"{mesh.shape[CHAIN_AXIS]}, got {num_chains!r}"
        )


def state_shardings(state: MetropolisState, mesh: Mesh) -> MetropolisState:
    """A `NamedSharding` per state leaf: the per-chain parts split over "chains".

    The leaves of the per-chain parts of the state (`Walkers`, `ChainInfo`) are split, the
    others replicated.

    The shardings use the mesh's devices with automatic axes, so that XLA propagates them
    through the annealer's computation whatever the axis types of the given mesh.
    """
    mesh = _auto(mesh)
    by_chain = NamedSharding(mesh, PartitionSpec(CHAIN_AXIS))
    replicated = NamedSharding(mesh, PartitionSpec())

    def place(node: Any) -> Any:
        sharding = by_chain if isinstance(node, PER_CHAIN_TYPES) else replicated
        return jax.tree.map(lambda _: sharding, node)

    return jax.tree.map(place, state, is_leaf=lambda node: isinstance(node, PER_CHAIN_TYPES))


def constrain(state: MetropolisState, mesh: Mesh) -> MetropolisState:
    """Inside `jit`: keep the chain axis sharded over the mesh."""
    return jax.lax.with_sharding_constraint(state, state_shardings(state, mesh))


def shard_chains(opt_state: Any, mesh: Mesh) -> Any:
    """Place the chains of every `metropolis` state in ``opt_state`` over the devices of ``mesh``.

    The per-chain parts of the state (what the chains carry: ``chains``, ``values``,
    ``rng_key``, ``log_step_factor``, ``acceptance_rate``, ``rung``; and the last step's
    ``step_size``, ``accepted``, ``jumped``) are split along their leading axis over the mesh
    axis ``"chains"``; the rest of the state is replicated. Each chain has its own key,
    so the results are bit-identical to those on one device as long as XLA computes the loss of
    a chain to the same bits for any number of chains per device (see the multi-device guide).
    ``opt_state`` may be a `MetropolisState` or any optax state that holds one (a chain,
    `optax.inject_hyperparams`, ...).

    Args:
        opt_state: The optimizer state.
        mesh: A `jax.sharding.Mesh` with an axis named ``"chains"`` whose size divides the
            number of chains.

    Returns:
        The same state, placed on the mesh.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> mesh = jax.make_mesh((jax.device_count(),), ("chains",))
        >>> tx = annealax.metropolis(8 * jax.device_count(), key=0)
        >>> state = annealax.shard_chains(tx.init(jnp.zeros(3)), mesh)
        >>> state.chains.sharding.spec == jax.sharding.PartitionSpec("chains")
        True
    """

    def place(node: Any) -> Any:
        if isinstance(node, MetropolisState):
            check_mesh(mesh, node.values.shape[0])
            return jax.device_put(node, state_shardings(node, mesh))
        return jax.device_put(node, NamedSharding(_auto(mesh), PartitionSpec()))

    return jax.tree.map(place, opt_state, is_leaf=lambda node: isinstance(node, MetropolisState))


def _auto(mesh: Mesh) -> Mesh:
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))
