"""Optimizer states are plain pytrees: saved with orbax mid-run, a resumed run is bit-identical."""

import jax
import jax.numpy as jnp
import optax
import orbax.checkpoint as ocp
import pytest
from optax_contract import CASES, TARGETS

parametrize_cases = pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])


@parametrize_cases
def test_resume_from_orbax_checkpoint_is_bit_identical(case, tmp_path):
    target = TARGETS["rosenbrock"]
    tx = case.make(**case.converge["rosenbrock"][0])
    extra_args = case.extra_args(target.loss)

    @jax.jit
    def step(params, state):
        updates, state = tx.update(jax.grad(target.loss)(params), state, params, **extra_args)
        return optax.apply_updates(params, updates), state

    params = target.init()
    state = tx.init(params)
    for _ in range(10):
        params, state = step(params, state)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "checkpoint", {"params": params, "opt_state": state})
    checkpointer.wait_until_finished()

    uninterrupted = (params, state)
    for _ in range(10):
        uninterrupted = step(*uninterrupted)

    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, {"params": params, "opt_state": state})
    restored = checkpointer.restore(tmp_path / "checkpoint", abstract)
    checkpointer.close()
    resumed = (restored["params"], restored["opt_state"])
    assert jax.tree.structure(resumed) == jax.tree.structure(uninterrupted)
    for _ in range(10):
        resumed = step(*resumed)
    for actual, expected in zip(
        jax.tree.leaves(resumed), jax.tree.leaves(uninterrupted), strict=True
    ):
        assert actual.dtype == expected.dtype
        assert bool(jnp.all(jnp.isfinite(actual)))
        assert bool(jnp.array_equal(actual, expected))
