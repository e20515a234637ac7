"""Eager checks of static hyperparameters, with errors that name the argument and the value.

Only Python numbers are checked: arrays may be traced (under `optax.inject_hyperparams` or `jit`),
and reading them back would stall the device.
"""

from __future__ import annotations

import numbers
from typing import Any


def is_python_number(value: Any) -> bool:
    """Whether ``value`` is a plain real number (Python or NumPy scalar), not an array."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_momentum(momentum: Any) -> None:
    if is_python_number(momentum) and not 0.0 <= momentum < 1.0:
        raise ValueError(f"`momentum` must be in [0, 1), got {momentum!r}")


def check_cooling_rate(cooling_rate: Any) -> None:
    if is_python_number(cooling_rate) and not 0.0 < cooling_rate <= 1.0:
        raise ValueError(f"`cooling_rate` must be in (0, 1], got {cooling_rate!r}")


def check_total_steps(total_steps: Any) -> None:
    if isinstance(total_steps, bool) or (
        is_python_number(total_steps) and (total_steps < 1 or total_steps != int(total_steps))
    ):
        raise ValueError(f"`total_steps` must be an integer >= 1, got {total_steps!r}")


def check_non_negative(name: str, value: Any) -> None:
    if is_python_number(value) and not value >= 0.0:
        raise ValueError(f"`{name}` must be >= 0, got {value!r}")


def check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}")


def check_optional_positive_int(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"`{name}` must be a positive int or None, got {value!r}")
