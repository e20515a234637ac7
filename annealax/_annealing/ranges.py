"""Range checks of numeric settings that hold for Python numbers and for arrays known at the call.

An array is checked when it is concrete (not traced): given directly, or passed at ``init`` by
`optax.inject_hyperparams`. A traced value (under `jax.jit`, or a schedule's output) cannot be
read without stalling the device; the annealer reports such values in its result instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def concrete(value: Any) -> np.ndarray | None:
    """``value`` as a float NumPy array when it is a number or an array known now; else None."""
    if isinstance(value, jax.core.Tracer | str | bool) or value is None or callable(value):
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def check_real(
    name: str,
    value: Any,
    valid: Callable[[np.ndarray], np.ndarray],
    allowed: str,
    *,
    optional: bool = False,
) -> None:
    """Raise unless ``value`` is a traced array or a number (or array) with ``valid`` true.

    ``allowed`` completes the message "`name` must be ..."; NaN is never valid.
    """
    if value is None and optional:
        return
    if isinstance(value, jax.core.Tracer):
        return
    values = concrete(value)
    if values is None or np.isnan(values).any() or not np.all(valid(values)):
        raise ValueError(f"`{name}` must be {allowed}, got {value!r}")
