"""Random keys: accept an int, a typed `jax.random.key` or a legacy uint32 key; store key data."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def as_typed_key(key: Any, name: str = "key") -> jax.Array:
    """A typed scalar key from a seed, a typed key or a legacy ``uint32[2]`` key."""
    if isinstance(key, bool) or key is None:
        raise _key_error(name, key)
    if isinstance(key, numbers.Integral):
        return jax.random.key(int(key))
    if not isinstance(key, jax.Array | np.ndarray):
        raise _key_error(name, key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"`{name}` must be a single key, got a key array of shape {key.shape}")
        return key
    if key.dtype == jnp.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(key)
    if jnp.issubdtype(key.dtype, jnp.integer) and key.shape == ():
        return jax.random.key(key)
    raise _key_error(name, key)


def _key_error(name: str, key: Any) -> ValueError:
    return ValueError(
        f"`{name}` must be an int seed, a typed jax.random.key or a legacy uint32 key of shape "
        f"(2,), got {key!r}"
    )
