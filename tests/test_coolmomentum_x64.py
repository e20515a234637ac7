"""CoolMomentum, its building blocks and the cooling laws run under ``JAX_ENABLE_X64=1``.

x64 is a process-wide flag read at startup, so each check runs in a fresh interpreter, with the
strict numerics of conftest.py.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

CHECKS = textwrap.dedent(
    """
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    import annealax

    assert jax.config.jax_enable_x64

    def loss(params):
        return sum(jnp.sum(jnp.abs(leaf - 1.0) ** 2) for leaf in jax.tree.leaves(params))

    def dtypes(tree):
        return jax.tree.map(lambda leaf: leaf.dtype, tree)

    factories = {
        "coolmomentum": lambda: annealax.coolmomentum(0.1, 0.9, total_steps=30),
        "coolmomentum-linear-decay-every": lambda: annealax.coolmomentum(
            0.1, 0.9, total_steps=30, cooling="linear", weight_decay=1e-3, temperature_every=2
        ),
        "coolmomentum-friction": lambda: annealax.coolmomentum(
            0.1, 0.9, total_steps=30, cooling="friction"
        ),
        "coolmomentum-cooling-rate": lambda: annealax.coolmomentum(0.1, 0.9, 0.9),
        "inject_hyperparams": lambda: optax.inject_hyperparams(annealax.coolmomentum)(
            0.1, 0.9, total_steps=30
        ),
        "scale_by_coolmomentum": lambda: optax.chain(
            annealax.scale_by_coolmomentum(0.9, total_steps=30), optax.scale_by_learning_rate(0.1)
        ),
        "track_temperature": lambda: optax.chain(
            optax.sgd(0.1, 0.9), annealax.track_temperature()
        ),
    }
    for dtype in (jnp.float32, jnp.float64, jnp.bfloat16, jnp.complex128):
        for name, make in factories.items():
            tx = make()
            params = {"w": jnp.zeros(3, dtype), "b": jnp.full((2, 2), 3.0, dtype)}
            state = tx.init(params)
            step = jax.jit(lambda p, s: tx.update(jax.grad(loss)(p), s, p))
            for _ in range(100):
                updates, new_state = step(params, state)
                assert dtypes(updates) == dtypes(params), (name, dtype)
                assert dtypes(new_state) == dtypes(state), (name, dtype)
                params, state = optax.apply_updates(params, updates), new_state
            assert float(loss(params)) < 1e-2, (name, dtype, float(loss(params)))
            temperature = optax.tree.get(state, "temperature")
            if name == "scale_by_coolmomentum":
                assert temperature is None
                continue
            wide = dtype in (jnp.float64, jnp.complex128)
            assert temperature.dtype == (jnp.float64 if wide else jnp.float32), (name, dtype)
            assert np.isfinite(float(temperature)), (name, dtype)

    for cooling in ("exponential", "linear", "friction"):
        schedule = annealax.momentum_schedule(0.99, total_steps=1000, cooling=cooling)
        rho = jax.jit(jax.vmap(schedule))(jnp.arange(1001))
        assert rho.dtype == jnp.float64
        assert abs(float(rho[0]) - 0.99) < 1e-15 and float(rho[-1]) == 0.0, cooling
        assert bool(jnp.all(jnp.diff(rho) <= 0))
    print("x64 checks passed")
    """
)


def run_under_x64(code):
    env = {
        **os.environ,
        "JAX_ENABLE_X64": "1",
        "JAX_NUMPY_DTYPE_PROMOTION": "strict",
        "JAX_NUMPY_RANK_PROMOTION": "raise",
        "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"),
    }
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_coolmomentum_blocks_and_schedules_run_under_x64():
    result = run_under_x64(CHECKS)
    assert result.returncode == 0, result.stderr
    assert "x64 checks passed" in result.stdout


def test_readme_coolmomentum_quickstart_runs_under_x64():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    quickstart = next(block for block in blocks if "annealax.coolmomentum(" in block)
    code = quickstart + textwrap.dedent(
        """
        assert params.dtype == jnp.float64, params.dtype
        assert float(jnp.max(jnp.abs(params - 3.0))) < 1e-3
        assert optax.tree.get(state, "temperature").dtype == jnp.float64
        print("quickstart passed")
        """
    )
    result = run_under_x64(code)
    assert result.returncode == 0, result.stderr
    assert "quickstart passed" in result.stdout
