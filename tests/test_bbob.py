"""The benchmarks' BBOB functions: the same values as COCO's reference, minimum f_opt at x_opt."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import bbob


@pytest.mark.parametrize("function", bbob.SUITE)
@pytest.mark.parametrize("dimension", [2, 10, 40])
@pytest.mark.parametrize("instance", [1, 3])
def test_values_match_cocoex_on_random_points(function, dimension, instance):
    cocoex = pytest.importorskip("cocoex")
    options = f"dimensions:{dimension} function_indices:{function}"
    reference = cocoex.Suite("bbob", f"instances:{instance}", options)[0]
    mine = bbob.make(function, instance, dimension)
    points = np.random.default_rng(function + dimension).uniform(-5.5, 5.5, (16, dimension))
    expected = np.array([reference(point) for point in points])
    with jax.enable_x64(True):
        got = np.asarray(jax.vmap(mine.value)(jnp.asarray(points, jnp.float64)))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("function", [10, 11, 12, 14, 15, 16, 17])
def test_the_minimum_is_f_opt_at_x_opt(function):
    instance = bbob.make(function, 2, 10)
    constants = bbob._constants(function, 2, 10)
    x_opt = constants["x_opt"]
    with jax.enable_x64(True):
        at_optimum = float(instance.value(jnp.asarray(x_opt)))
        nearby = np.asarray(
            jax.vmap(instance.value)(
                jnp.asarray(x_opt + np.random.default_rng(0).normal(scale=0.1, size=(32, 10)))
            )
        )
    assert at_optimum == pytest.approx(instance.f_opt, abs=1e-9)
    assert np.all(nearby > instance.f_opt)


def test_rotations_are_orthogonal_and_uniforms_in_the_unit_interval():
    rotation = bbob.rotation(10010, 10)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(10), atol=1e-12)
    assert np.all(bbob.uniform(1000, 7) > 0) and np.all(bbob.uniform(1000, 7) <= 1)
    with pytest.raises(ValueError, match="`function` must be one of"):
        bbob.make(1, 1, 10)
