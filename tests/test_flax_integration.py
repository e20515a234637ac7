"""Every annealax transformation trains Flax models through Flax's own optimizer APIs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen, nnx
from flax.training import train_state
from optax_contract import CASES

import annealax

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

    def params():
        return nnx.to_pure_dict(nnx.state(model, nnx.Param))

    def temperatures():
        """The temperature read from the optimizer's state and the one expected by hand."""
        opt_state = nnx.to_pure_dict(nnx.state(optimizer, nnx.optimizer.OptState))
        recorded = float(optax.tree.get(opt_state, "temperature"))
        displacement = jax.tree.map(jnp.subtract, params(), before)
        return recorded, expected_temperature(case, opt_state, displacement)

    for update in range(1, 301):
        before = params()
        train_step(model, optimizer)
        if update == 3:  # an update whose temperature every case records (temperature_every=3)
            recorded, expected = temperatures()
            assert recorded == pytest.approx(expected, rel=1e-4)
            assert expected > 0.0
    assert float(nnx_loss(model)) < 1e-2 * initial
    if not case.uses_gradients:
        # (The last updates of the gradient methods are below the float32 resolution of the
        # params, so their displacement no longer gives the temperature.)
        recorded, expected = temperatures()
        assert recorded == pytest.approx(expected, rel=1e-5)


def expected_temperature(case, opt_state, displacement):
    """The temperature of the last update: from the displacement of the params or the settings."""
    if case.uses_gradients:
        # The mean squared update (here the displacement of the params).
        flat = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(displacement)])
        return float(np.mean(np.square(flat.astype(np.float64))))
    # Metropolis: the temperature setting at the step count of the update.
    settings = {**case.factory.keywords, **case.hyperparams, **case.converge["parabola"][0]}
    temperature = settings["temperature"]
    step = int(optax.tree.get(opt_state, "count")) - 1
    if isinstance(temperature, annealax.AutoTemperature):
        scale = float(optax.tree.get(opt_state, "temperature_scale"))
        assert scale > 0.0
        return scale * float(temperature.cooling(step))
    return float(temperature(step)) if callable(temperature) else float(temperature)


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
