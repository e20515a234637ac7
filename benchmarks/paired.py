"""Paired comparisons of two methods run on the same seeds."""

from __future__ import annotations

import numpy as np


def relative_gap(ours, theirs) -> tuple[float, float]:
    r"""The mean relative gap $\bar g$ of ``theirs`` over ``ours`` and its standard error.

    With the figures $a_i$ (ours) and $b_i$ (theirs) of the same seeds $i = 1, \dots, n$,
    $g_i = (b_i - a_i) / \bar b$, $\bar g = \frac{1}{n} \sum_i g_i$ and the standard error
    $s_g / \sqrt{n}$, with $s_g$ the sample standard deviation of the $g_i$ (NaN for one
    seed). Pairing by seed removes what the seed changes for both methods alike (the data
    split, the initial weights) from the error.

    Examples:
        >>> gap, error = relative_gap([0.95, 0.97], [0.96, 0.98])
        >>> round(100 * gap, 3), round(100 * error, 3)
        (1.031, 0.0)
    """
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    if ours.shape != theirs.shape or ours.ndim != 1 or len(ours) == 0:
        raise ValueError(
            f"`ours` and `theirs` must be two sequences of the same seeds, got shapes "
            f"{ours.shape} and {theirs.shape}"
        )
    gaps = (theirs - ours) / np.mean(theirs)
    error = np.std(gaps, ddof=1) / np.sqrt(len(gaps)) if len(gaps) > 1 else float("nan")
    return float(np.mean(gaps)), float(error)
