"""CoolMomentum: momentum SGD whose momentum coefficient is cooled (Borysenko & Byshkin, 2021)."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from annealax import _checks
from annealax._cooling import momentum_schedule
from annealax._temperature import accumulation_dtype, mean_square


class ScaleByCoolMomentumState(NamedTuple):
    r"""State of `scale_by_coolmomentum`.

    Attributes:
        count: Number of updates done so far (int32, saturating).
        rho: The momentum coefficient $\rho_t$ used by the last update ($\rho_0$ before the
            first).
        velocity: The velocity, in units of the learning rate, one leaf per parameter leaf.
    """

    count: jax.Array
    rho: jax.Array
    velocity: optax.Updates


class CoolMomentumState(NamedTuple):
    r"""State of `coolmomentum`.

    Attributes:
        inner: The states of the chain ``add_decayed_weights`` (``optax.identity`` for a Python
            ``weight_decay`` of 0, with the same empty state), `scale_by_coolmomentum` and
            ``scale_by_learning_rate``: its structure does not depend on ``weight_decay``.
        temperature: The rescaled temperature $T \, dt^2$ of the last update whose number is a
            multiple of ``temperature_every`` (every update by default): the mean over every scalar
            parameter of $|\theta_{t+1} - \theta_t|^2$ (0 before the first such update).
    """

    inner: tuple
    temperature: jax.Array


def scale_by_coolmomentum(
    momentum: jax.typing.ArrayLike = 0.99,
    cooling_rate: jax.typing.ArrayLike | None = None,
    *,
    total_steps: jax.typing.ArrayLike | None = None,
    cooling: str = "exponential",
    accumulator_dtype: jax.typing.DTypeLike | None = None,
) -> optax.GradientTransformation:
    r"""Scale updates by CoolMomentum's cooled heavy-ball velocity, without the learning rate.

    With the momentum coefficient $\rho_t$ of the chosen cooling law (see
    `annealax.momentum_schedule`) and the incoming updates $g_t$:

    $$
    m_{t+1} = \rho_t \, m_t + \frac{1 + \rho_t}{2} \, g_t
    $$

    and the output is $m_{t+1}$. Followed by ``optax.scale_by_learning_rate(lr)`` this is the
    authors' rule $v_{t+1} = \rho_t v_t - \eta_t g_t$ with $\eta_t = lr (1 + \rho_t) / 2$ and
    $v = -lr \cdot m$, exactly, for a constant ``lr``.

    Args:
        momentum: The initial momentum coefficient $\rho_0$, in [0, 1).
        cooling_rate: The cooling rate $\alpha$ of the exponential law, in (0, 1].
        total_steps: The planned number of updates $S$ (see `annealax.momentum_schedule`).
        cooling: ``"exponential"``, ``"linear"`` or ``"friction"``.
        accumulator_dtype: The dtype of the velocity, floating-point or complex; ``None`` uses
            each parameter's dtype.

    Returns:
        An `optax.GradientTransformation` whose state is a `ScaleByCoolMomentumState`.

    Raises:
        ValueError: For a hyperparameter outside its range (see `annealax.momentum_schedule`;
            traced values are not checked and make $\rho_t$ NaN when out of range), an
            ``accumulator_dtype`` that is not floating-point or complex, or, at ``init``,
            parameters of an integer or boolean dtype.

    Examples:
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import annealax
        >>> tx = annealax.scale_by_coolmomentum(momentum=0.9, total_steps=100)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> updates, state = tx.update(jnp.array([1.0, 1.0]), state, params)
        >>> updates
        Array([0.95, 0.95], dtype=float32)
    """
    rho_schedule = momentum_schedule(
        momentum, cooling_rate, total_steps=total_steps, cooling=cooling
    )
    accumulator_dtype = _velocity_dtype(accumulator_dtype)

    def init_fn(params: optax.Params) -> ScaleByCoolMomentumState:
        _check_params_dtype(params)
        count = jnp.zeros([], jnp.int32)
        return ScaleByCoolMomentumState(
            count=count,
            rho=rho_schedule(count),
            velocity=optax.tree.zeros_like(params, dtype=accumulator_dtype),
        )

    def update_fn(
        updates: optax.Updates, state: ScaleByCoolMomentumState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, ScaleByCoolMomentumState]:
        del params
        rho = rho_schedule(state.count)
        gradient_scale = (1.0 + rho) / 2.0

        def advance(gradient: jax.Array, velocity: jax.Array) -> jax.Array:
            dtype = velocity.dtype
            return rho.astype(dtype) * velocity + gradient_scale.astype(dtype) * gradient.astype(
                dtype
            )

        velocity = jax.tree.map(advance, updates, state.velocity)
        new_updates = jax.tree.map(lambda v, g: v.astype(g.dtype), velocity, updates)
        new_state = ScaleByCoolMomentumState(
            count=optax.safe_increment(state.count),
            rho=rho,
            velocity=velocity,
        )
        return new_updates, new_state

    return optax.GradientTransformation(init_fn, update_fn)


def coolmomentum(
    learning_rate: optax.ScalarOrSchedule = 0.01,
    momentum: jax.typing.ArrayLike = 0.99,
    cooling_rate: jax.typing.ArrayLike | None = None,
    *,
    total_steps: jax.typing.ArrayLike | None = None,
    cooling: str = "exponential",
    weight_decay: jax.typing.ArrayLike = 0.0,
    accumulator_dtype: jax.typing.DTypeLike | None = None,
    temperature_every: jax.typing.ArrayLike = 1,
) -> optax.GradientTransformationExtraArgs:
    r"""CoolMomentum: Langevin dynamics with simulated annealing, as an Optax optimizer.

    Momentum SGD is a discretised Langevin equation with time step $dt = \sqrt{lr}$ and friction
    $(1 - \rho) / dt$. CoolMomentum lowers the momentum coefficient $\rho_t$ during training, which
    raises the friction and cools the system towards a minimum. For $t = 0, 1, \dots$ with the
    gradient $g_t$ at $\theta_t$:

    $$
    \begin{aligned}
    \rho_t &= \max\left(0,\ 1 - (1 - \rho_0) / \alpha^t\right) \\
    v_{t+1} &= \rho_t \, v_t - lr \, \frac{1 + \rho_t}{2} \left(g_t + wd \, \theta_t\right) \\
    \theta_{t+1} &= \theta_t + v_{t+1}
    \end{aligned}
    $$

    (the exponential law; see `annealax.momentum_schedule` for the others). With
    ``total_steps=S`` the cooling rate is $\alpha = (1 - \rho_0)^{1/S}$, so that $\rho$ reaches 0
    at the last update; after that the rule is gradient descent with step $lr / 2$.

    The state holds the $\rho_t$ of the last update and the authors' rescaled temperature
    $T \, dt^2$, the mean over every scalar parameter of $|\theta_{t+1} - \theta_t|^2$:
    ``optax.tree.get(opt_state, "rho")`` and ``optax.tree.get(opt_state, "temperature")``. The
    temperature is that of CoolMomentum's own update; transformations chained after it that
    rescale the update (such as ``optax.contrib.reduce_on_plateau``) are not seen, and
    `annealax.track_temperature` placed last records the displacement they give. On a CPU the
    temperature costs one more read of the velocity per update it is computed at; with
    ``temperature_every=k`` it is computed at updates $k, 2k, 3k, \dots$ only (counting from 1),
    and the state holds the value of the last of them.

    Args:
        learning_rate: $lr = dt^2$, a float or an `optax.Schedule`. A schedule scales the whole
            velocity at each step (as in optax's SGD), not only the newest gradient.
        momentum: The initial momentum coefficient $\rho_0$, in [0, 1).
        cooling_rate: The cooling rate $\alpha$ of the exponential law, in (0, 1] (the authors'
            PyTorch ``beta``). Give this or ``total_steps``; with neither, 0.99997.
        total_steps: The planned number of updates $S$, at least 1.
        cooling: The cooling law: ``"exponential"`` (the paper's), ``"linear"`` or
            ``"friction"`` (both need ``total_steps``).
        weight_decay: Coupled L2 coefficient $wd$, added to the gradient before the velocity
            update (the authors' PyTorch ``weight_decay``), >= 0.
        accumulator_dtype: The dtype of the velocity, floating-point or complex; ``None`` uses
            each parameter's dtype.
        temperature_every: Compute the temperature at every ``temperature_every``-th update
            only, an integer >= 1. The updates do not depend on it.

    Returns:
        An `optax.GradientTransformationExtraArgs` whose state is a `CoolMomentumState`. Its
        updates are those of ``optax.chain(optax.add_decayed_weights(weight_decay),
        scale_by_coolmomentum(...), optax.scale_by_learning_rate(learning_rate))``.

    Raises:
        ValueError: For a ``learning_rate`` (unless a schedule) or ``weight_decay`` below 0, a
            ``momentum``, ``cooling_rate``, ``total_steps``, ``cooling`` or ``temperature_every``
            outside its range, both ``cooling_rate`` and ``total_steps``, an
            ``accumulator_dtype`` that is not floating-point or complex, or, at ``init``,
            parameters of an integer or boolean dtype. Hyperparameters are checked when they
            are Python numbers or concrete arrays, as ``optax.inject_hyperparams`` passes them
            at ``init``. A traced value (one changed inside a jitted step) cannot be checked: an
            out-of-range ``momentum``, ``cooling_rate`` or ``total_steps`` then makes $\rho_t$,
            and so the parameters, NaN; a negative ``learning_rate`` or ``weight_decay`` is used
            as it is.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import annealax
        >>> def loss(x):
        ...     return jnp.sum(x**2)
        >>> tx = annealax.coolmomentum(learning_rate=0.1, momentum=0.9, total_steps=100)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = tx.init(params)
        >>> for _ in range(120):
        ...     updates, state = tx.update(jax.grad(loss)(params), state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> bool(loss(params) < 1e-6), float(optax.tree.get(state, "rho"))
        (True, 0.0)

    References:
        S. Borysenko and M. Byshkin, "CoolMomentum: a method for stochastic optimization by
        Langevin dynamics with simulated annealing", Scientific Reports 11, 10705 (2021),
        [doi:10.1038/s41598-021-90144-3](https://doi.org/10.1038/s41598-021-90144-3).
    """
    if not callable(learning_rate):
        _checks.check_non_negative("learning_rate", learning_rate)
    _checks.check_non_negative("weight_decay", weight_decay)
    _checks.check_count("temperature_every", temperature_every)
    if _checks.is_python_number(weight_decay) and weight_decay == 0:
        decay = optax.identity()
    else:
        decay = optax.add_decayed_weights(weight_decay)
    inner = optax.chain(
        decay,
        scale_by_coolmomentum(
            momentum,
            cooling_rate,
            total_steps=total_steps,
            cooling=cooling,
            accumulator_dtype=accumulator_dtype,
        ),
        optax.scale_by_learning_rate(learning_rate),
    )
    every_update = _checks.is_python_number(temperature_every) and temperature_every == 1

    def init_fn(params: optax.Params) -> CoolMomentumState:
        return CoolMomentumState(
            inner=inner.init(params), temperature=jnp.zeros([], accumulation_dtype(params))
        )

    def update_fn(
        updates: optax.Updates,
        state: CoolMomentumState,
        params: optax.Params | None = None,
        **extra_args,
    ) -> tuple[optax.Updates, CoolMomentumState]:
        count = state.inner[1].count
        updates, inner_state = inner.update(updates, state.inner, params, **extra_args)
        dtype = state.temperature.dtype

        def temperature() -> jax.Array:
            # The update is -lr_t * velocity. Reducing the stored velocity rather than the update
            # lets XLA's CPU backend fuse the reduction without materialising the update.
            rate = learning_rate(count) if callable(learning_rate) else learning_rate
            velocity_square = mean_square(inner_state[1].velocity, dtype)
            return jnp.square(jnp.asarray(jnp.real(rate), dtype)) * velocity_square

        if every_update:
            new_temperature = temperature()
        else:
            every = jnp.asarray(temperature_every, jnp.int32)
            due = inner_state[1].count % every == 0
            new_temperature = jax.lax.cond(due, temperature, lambda: state.temperature)
        return updates, CoolMomentumState(inner=inner_state, temperature=new_temperature)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _velocity_dtype(accumulator_dtype: jax.typing.DTypeLike | None) -> jnp.dtype | None:
    if accumulator_dtype is None:
        return None
    dtype = jnp.dtype(accumulator_dtype)
    if not jnp.issubdtype(dtype, jnp.inexact):
        raise ValueError(
            f"`accumulator_dtype` must be a floating-point or complex dtype, got {dtype}"
        )
    return dtype


def _check_params_dtype(params: optax.Params) -> None:
    """A ValueError for integer or boolean parameters, which CoolMomentum's updates cannot move."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            where = f"params{jax.tree_util.keystr(path)}"
            raise ValueError(
                f"CoolMomentum needs floating-point or complex parameters, got {where} of dtype "
                f"{dtype}; cast them, e.g. with params.astype(jnp.float32)"
            )
