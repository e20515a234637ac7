"""Strict JAX numerics for every test, and the `run_example` fixture for the examples' tests.

Under ``jax_enable_x64`` (the subprocess of ``test_x64.py``) dtype promotion stays standard:
optax's own L-BFGS mixes float32 params with float64 constants there, as users' code may.
"""

import runpy
from pathlib import Path

import jax
import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture(autouse=True)
def strict_jax_numerics():
    promotion = "standard" if jax.config.jax_enable_x64 else "strict"
    with (
        jax.numpy_rank_promotion("raise"),
        jax.numpy_dtype_promotion(promotion),
    ):
        yield


@pytest.fixture
def run_example(tmp_path, capsys, monkeypatch):
    """Run ``examples/<name>.py --quick --out <tmp>``; return its summary, stdout and folder."""
    # As `python examples/<name>.py` does, so that the examples import their shared modules.
    monkeypatch.syspath_prepend(str(EXAMPLES))

    def run(name: str, *args: str):
        module = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")
        with jax.numpy_dtype_promotion("standard"):
            summary = module["main"](["--quick", "--out", str(tmp_path), *args])
        return summary, capsys.readouterr().out, tmp_path

    return run
