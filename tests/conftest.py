"""Strict JAX numerics for every test: no silent rank or dtype promotion."""

import jax
import pytest


@pytest.fixture(autouse=True)
def strict_jax_numerics():
    with (
        jax.numpy_rank_promotion("raise"),
        jax.numpy_dtype_promotion("strict"),
    ):
        yield
