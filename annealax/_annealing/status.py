"""Why an annealing run ended: `AnnealStatus`, the codes of `AnnealResult.status`."""

from __future__ import annotations

import enum


class AnnealStatus(enum.IntEnum):
    """Why `anneal` ended; ``AnnealResult.status`` holds one of these codes as an int32 array.

    The codes compare with the result's status inside and outside `jax.jit` (and elementwise
    after `jax.vmap`), and ``AnnealStatus(int(result.status))`` names the code. When several
    apply, the highest code wins: a run that saw no finite loss says so even if it ran all its
    steps.

    Attributes:
        COMPLETED: All ``num_steps`` steps were done.
        TARGET_REACHED: The best loss reached ``target_value`` (the run stopped early, unless
            it was reached at the last step).
        PATIENCE_EXHAUSTED: ``patience`` steps in a row brought no new best loss.
        NO_FINITE_LOSS: No finite loss was ever seen: ``best_value`` is ``+inf`` and
            ``best_params`` the starting point.
        INVALID_TEMPERATURE: A step's temperature was NaN, infinite or negative (a schedule or a
            traced value that could not be checked before the run): the run is not a valid
            annealing, whatever its best value.

    Examples:
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> result = annealax.anneal(
        ...     lambda x: jnp.sum(x**2), jnp.ones(2), key=0, num_steps=500, target_value=1e-3
        ... )
        >>> annealax.AnnealStatus(int(result.status)).name
        'TARGET_REACHED'
        >>> bool(result.status == annealax.AnnealStatus.TARGET_REACHED)
        True
    """

    COMPLETED = 0
    TARGET_REACHED = 1
    PATIENCE_EXHAUSTED = 2
    NO_FINITE_LOSS = 3
    INVALID_TEMPERATURE = 4
