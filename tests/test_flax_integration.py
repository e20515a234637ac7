"""Every annealax transformation trains Flax models through Flax's own optimizer APIs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen, nnx
from flax.training import train_state
from optax_contract import CASES

parametrize_cases = pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])

INPUTS = jnp.linspace(-1.0, 1.0, 32, dtype=jnp.float32).reshape(16, 2)
TARGETS = INPUTS @ jnp.array([[2.0], [-1.0]], dtype=jnp.float32) + 0.5


def nnx_loss(model):
    return jnp.mean(jnp.square(model(INPUTS) - TARGETS))


@parametrize_cases
@jax.numpy_dtype_promotion("standard")
def test_nnx_optimizer_update(case):
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(jax.random.key(0)))
    tx = case.make(**case.converge["parabola"][0])
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    initial = float(nnx_loss(model))

    graphdef = nnx.graphdef(model)

    def params_loss(params):
        return nnx_loss(nnx.merge(graphdef, params))

    @nnx.jit
    def train_step(model, optimizer):
        loss, grads = nnx.value_and_grad(nnx_loss)(model)
        optimizer.update(model, grads, **case.extra_args(params_loss))
        return loss

    for _ in range(300):
        train_step(model, optimizer)
    assert float(nnx_loss(model)) < 1e-2 * initial
    opt_state = nnx.to_pure_dict(nnx.state(optimizer, nnx.optimizer.OptState))
    temperature = optax.tree.get(opt_state, "temperature")
    assert np.isfinite(float(temperature)) and float(temperature) > 0.0


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if case.uses_gradients],
    ids=[case.name for case in CASES if case.uses_gradients],
)
@jax.numpy_dtype_promotion("standard")
def test_linen_train_state_apply_gradients(case):
    module = linen.Dense(1)
    params = module.init(jax.random.key(0), INPUTS)
    state = train_state.TrainState.create(
        apply_fn=module.apply, params=params, tx=case.make(**case.converge["parabola"][0])
    )

    def loss(params):
        return jnp.mean(jnp.square(state.apply_fn(params, INPUTS) - TARGETS))

    @jax.jit
    def train_step(state):
        grads = jax.grad(loss)(state.params)
        return state.apply_gradients(grads=grads)

    initial = float(loss(state.params))
    for _ in range(100):
        state = train_step(state)
    assert float(loss(state.params)) < 1e-2 * initial
    assert int(state.step) == 100
