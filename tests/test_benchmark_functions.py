"""The benchmarks' test functions: minimum 0 at the known minimiser, in NumPy and in JAX."""

import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from test_functions import FUNCTIONS, HELD_OUT, TUNED, make_problem

MINIMISERS = {
    "sphere": 0.0,
    "rosenbrock": 1.0,
    "rastrigin": 0.0,
    "ackley": 0.0,
    "griewank": 0.0,
    "levy": 1.0,
    "schwefel": 420.9687463,
    "styblinski_tang": -2.903534,
    "alpine": 0.0,
    "salomon": 0.0,
    "expanded_schaffer_f6": 0.0,
    "xin_she_yang_2": 0.0,
    "happy_cat": -1.0,
}


def test_every_function_is_tuned_or_held_out_and_has_a_known_minimiser():
    assert set(TUNED) | set(HELD_OUT) == set(FUNCTIONS) == set(MINIMISERS)
    assert not set(TUNED) & set(HELD_OUT)


@pytest.mark.parametrize("name", sorted(MINIMISERS))
@pytest.mark.parametrize("dim", [2, 10])
def test_minimum_is_zero_at_the_minimiser_and_below_random_points(name, dim):
    problem = make_problem(name, dim)
    minimiser = np.full(dim, MINIMISERS[name])
    assert problem.lower <= MINIMISERS[name] <= problem.upper
    np.testing.assert_allclose(problem.numpy_fn(minimiser), 0.0, atol=1e-8 * dim)
    value32 = float(problem.jax_fn(jnp.asarray(minimiser, jnp.float32)))
    assert abs(value32) <= 1e-6 * problem.typical
    points = np.random.default_rng(0).uniform(problem.lower, problem.upper, (200, dim))
    values = np.array([problem.numpy_fn(point) for point in points])
    assert values.min() > 1e-6 * problem.typical  # random points are above the minimum


@pytest.mark.parametrize("name", sorted(MINIMISERS))
def test_numpy_and_jax_versions_agree(name):
    problem = make_problem(name, 7)
    points = np.random.default_rng(1).uniform(problem.lower, problem.upper, (20, 7))
    numpy_values = np.array([problem.numpy_fn(point) for point in points])
    jax_values = np.array([float(problem.jax_fn(jnp.asarray(p, jnp.float32))) for p in points])
    np.testing.assert_allclose(jax_values, numpy_values, rtol=1e-4, atol=1e-4 * problem.typical)
