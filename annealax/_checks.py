"""Eager checks of hyperparameters, with errors that name the argument and the value.

A hyperparameter is checked when it is concrete: a Python or NumPy number, or an array that is not
traced (as `optax.inject_hyperparams` passes them to the factory in an eager ``init``). A traced
value (under `jit`) cannot be read and is not checked.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_python_number(value: Any) -> bool:
    """Whether ``value`` is a plain real number (Python or NumPy scalar), not an array."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_traced(value: Any) -> bool:
    """Whether ``value`` cannot be read now: a tracer, or an array spread over other processes."""
    if isinstance(value, jax.core.Tracer):
        return True
    return isinstance(value, jax.Array) and not value.is_fully_addressable


def check_range(name: str, value: Any, allowed: str, in_range: Callable[[np.ndarray], Any]) -> None:
    """A ValueError unless ``value`` is traced, or real numbers (not bools) all ``in_range``."""
    if is_traced(value):
        return
    values = _real_values(value)
    if values is None or not np.all(in_range(values)):
        raise ValueError(f"`{name}` must be {allowed}, got {value!r}")


def check_momentum(momentum: Any) -> None:
    check_range("momentum", momentum, "in [0, 1)", lambda v: (v >= 0.0) & (v < 1.0))


def check_cooling_rate(cooling_rate: Any) -> None:
    check_range("cooling_rate", cooling_rate, "in (0, 1]", lambda v: (v > 0.0) & (v <= 1.0))


def check_total_steps(total_steps: Any) -> None:
    check_count("total_steps", total_steps)


def check_count(name: str, value: Any) -> None:
    """A ValueError unless ``value`` is traced or integral numbers >= 1 (``10.0`` passes)."""
    check_range(name, value, "an integer >= 1", lambda v: (v >= 1.0) & (v == np.floor(v)))


def check_non_negative(name: str, value: Any) -> None:
    check_range(name, value, ">= 0", lambda v: v >= 0.0)


def _real_values(value: Any) -> np.ndarray | None:
    """``value`` as a float64 NumPy array, or None if it is not real numbers (bools are not).

    Complex numbers with a zero imaginary part are real: `optax.inject_hyperparams` gives the
    hyperparameters the dtype of complex parameters.
    """
    if isinstance(value, bool | np.bool_):
        return None
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if np.issubdtype(array.dtype, np.complexfloating) and not np.any(array.imag):
        array = array.real
    if not (np.issubdtype(array.dtype, np.integer) or jnp.issubdtype(array.dtype, jnp.floating)):
        return None
    return array.astype(np.float64)


def as_int(value: Any) -> int | None:
    """``value`` as a Python int if it is integral, None otherwise (bools included).

    Integral: a Python or NumPy integer, or a 0-d integer array that is not traced.
    """
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if (
        isinstance(value, np.ndarray | jax.Array)
        and not isinstance(value, jax.core.Tracer)
        and value.shape == ()
        and np.issubdtype(value.dtype, np.integer)
    ):
        return int(value)
    return None


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as a Python int, or a ValueError if it is not an integral number >= 1."""
    integer = as_int(value)
    if integer is None or integer < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}")
    return integer


def check_optional_positive_int(name: str, value: Any) -> int | None:
    """``value`` as a Python int or None, or a ValueError if it is neither (or < 1)."""
    if value is None:
        return None
    integer = as_int(value)
    if integer is None or integer < 1:
        raise ValueError(f"`{name}` must be a positive int or None, got {value!r}")
    return integer
