r"""The minibatch Barker test: an acceptance test that accounts for the noise of a batch.

On a minibatch, the loss difference of a proposal is an estimate
$\hat\Delta = \frac{1}{b} \sum_{i \in B} (\ell_i(x') - \ell_i(x))$ of the full-data difference
$\Delta = E(x') - E(x)$ of the mean loss $E = \frac{1}{N} \sum_i \ell_i$. The Metropolis rule
applied to $\hat\Delta$ accepts uphill moves whose noise made them look downhill, and the chains
sample a broader law than $\exp(-E / T)$.

The Barker rule accepts with probability $1 / (1 + e^{\Delta / T})$: it is the test
$\Delta / T + X < 0$ with $X$ standard logistic. By the central limit theorem
$\hat\Delta / T \approx \Delta / T + \mathcal{N}(0, s^2)$, where $s^2$ is the batch's estimate of
the variance of $\hat\Delta / T$. When $s \le 1$ the test adds a normal draw of variance
$1 - s^2$, which brings the noise to $\mathcal{N}(0, 1)$, and a draw of the correction
$X_c$, whose law convolved with $\mathcal{N}(0, 1)$ is the logistic law (Seita, Pan, Chen and
Canny, "An Efficient Minibatch Acceptance Test for Metropolis-Hastings", UAI 2017):

$$
\text{accept} \iff \frac{\hat\Delta}{T} + \sqrt{1 - s^2}\, \xi + X_c < 0 .
$$

The approximations, which the tests measure: $\hat\Delta$ is taken as normal with the
estimated variance, and $X_c$ is the regularised least-squares solution of the deconvolution
on a grid (the CDF of $\mathcal{N}(0, 1) + X_c$ is within $10^{-3}$ of the logistic CDF). A
proposal whose noise exceeds the bound, $s > 1$, is rejected: $s$ has the same law for the
move $x \to x'$ as for $x' \to x$, so these rejections keep detailed balance, and with the
adaptation of step sizes the steps shrink until the noise fits.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from annealax import _checks

GRID_SPACING = 0.02
GRID_HALF_WIDTH = 10.0
REGULARISATION = 1e-4


@functools.cache
def correction_law() -> tuple[np.ndarray, np.ndarray]:
    r"""The law of $X_c$ on a grid: the points and their cumulative probabilities.

    It minimises $\lVert \phi * c - f_{\text{logistic}} \rVert^2 + \lambda \lVert c \rVert^2$
    over densities $c$ on the grid ($\phi$ the standard normal density), clipped at 0.
    """
    points = np.arange(-GRID_HALF_WIDTH, GRID_HALF_WIDTH + GRID_SPACING / 2, GRID_SPACING)
    outer = GRID_HALF_WIDTH + 4
    targets = np.arange(-outer, outer + GRID_SPACING / 2, GRID_SPACING)
    normal = np.exp(-0.5 * (targets[:, None] - points[None, :]) ** 2) / math.sqrt(2 * math.pi)
    normal *= GRID_SPACING
    logistic = np.exp(-np.abs(targets)) / (1 + np.exp(-np.abs(targets))) ** 2
    gram = normal.T @ normal + REGULARISATION * np.eye(len(points))
    density = np.clip(np.linalg.solve(gram, normal.T @ logistic), 0, None)
    return points, np.cumsum(density) / density.sum()


@dataclasses.dataclass(frozen=True)
class MinibatchBarker:
    """The minibatch Barker test; see `minibatch_barker`. Hashable."""

    num_examples: int | None = None

    def accept(
        self,
        current: jax.Array,
        proposed: jax.Array,
        temperature: jax.Array,
        keys: jax.Array,
    ) -> jax.Array:
        """Whether each chain accepts, from per-example losses of shape ``(chains, batch)``."""
        dtype = current.dtype
        batch = current.shape[-1]
        difference = proposed - current
        mean = jnp.mean(difference, axis=-1)
        variance = jnp.var(difference, axis=-1, ddof=1) / batch
        if self.num_examples is not None:
            variance = variance * max(0.0, 1 - batch / self.num_examples)
        points, cumulative = correction_law()
        normal_keys, correction_keys = jnp.moveaxis(jax.vmap(jax.random.split)(keys), 1, 0)
        xi = jax.vmap(lambda key: jax.random.normal(key, dtype=dtype))(normal_keys)
        u = jax.vmap(lambda key: jax.random.uniform(key, dtype=jnp.float32))(correction_keys)
        index = jnp.searchsorted(jnp.asarray(cumulative, jnp.float32), u)
        correction = jnp.asarray(points, dtype)[jnp.minimum(index, len(points) - 1)]
        scaled_variance = variance / temperature**2
        fits = scaled_variance <= 1
        top_up = jnp.sqrt(jnp.maximum(1 - scaled_variance, 0)) * xi
        barker = fits & (mean / temperature + top_up + correction < 0)
        # Without a positive temperature: downhill moves only, like the Metropolis test.
        positive = temperature > 0
        downhill = mean < 0
        finite = jnp.all(jnp.isfinite(proposed), axis=-1)
        # A chain whose own loss is not finite takes any finite proposal.
        escapes = ~jnp.all(jnp.isfinite(current), axis=-1)
        return finite & (escapes | jnp.where(positive, barker, downhill))

    def check_batch(self, shape: tuple[int, ...]) -> None:
        """Raise unless ``value_fn`` returned one loss per example, of at least two examples."""
        if len(shape) != 1 or shape[0] < 2:
            raise ValueError(
                "with `minibatch=annealax.minibatch_barker(...)`, `value_fn` must return the "
                "per-example losses of the batch, shape (batch,) with batch >= 2, got shape "
                f"{shape}"
            )
        if self.num_examples is not None and shape[0] > self.num_examples:
            raise ValueError(
                f"the batch of {shape[0]} examples is larger than `num_examples`="
                f"{self.num_examples}"
            )


def minibatch_barker(num_examples: int | None = None) -> MinibatchBarker:
    r"""An acceptance test for minibatches that corrects for the noise of the batch.

    For ``annealax.metropolis(..., minibatch=annealax.minibatch_barker(num_examples))``: the
    ``value_fn`` returns the per-example losses $\ell_i$ of the current batch, shape
    ``(batch,)``, the energy is their mean, and each chain accepts by the Barker rule with the
    noise correction of Seita et al. (2017): with the step's draws $\xi \sim \mathcal{N}(0, 1)$
    and $X_c$ (the correction law),

    $$
    \text{accept} \iff \frac{\hat\Delta}{T} + \sqrt{1 - s^2}\,\xi + X_c < 0, \qquad
    s^2 = \frac{\widehat{\operatorname{Var}}(\ell_i(x') - \ell_i(x))}{b\, T^2}
          \left(1 - \frac{b}{N}\right),
    $$

    and rejects when $s > 1$. At a fixed temperature the chains then sample, approximately, the
    Boltzmann law $\exp(-E / T)$ of the full-data mean loss $E$, where the Metropolis test on
    noisy batch losses samples a broader one. The approximation holds while the batch mean is
    close to normal (batches of tens of examples or more); the rejections for $s > 1$ grow as
    $T$ falls, so anneal with a batch large enough for the final temperature. The Barker rule
    accepts at most half of the level moves, so acceptance rates are lower than Metropolis'.

    Args:
        num_examples: The size $N$ of the data set the batches are drawn from without
            replacement (for the factor $1 - b / N$); None for an infinite one.

    Returns:
        A `MinibatchBarker`, for ``minibatch=``.

    Raises:
        ValueError: For a ``num_examples`` that is not a positive int.

    Examples:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import annealax
        >>> data = jax.random.normal(jax.random.key(0), (1000,))
        >>> tx = annealax.metropolis(
        ...     16, key=0, temperature=0.05, step_size=0.2,
        ...     minibatch=annealax.minibatch_barker(num_examples=1000),
        ... )
        >>> def batch_losses(x, batch):  # the per-example losses of one batch
        ...     return 0.5 * (x - data[batch]) ** 2
        >>> params, state = jnp.zeros(()), tx.init(jnp.zeros(()))
        >>> batch = jnp.arange(100)
        >>> updates, state = tx.update(
        ...     None, state, params, value_fn=lambda x: batch_losses(x, batch)
        ... )
        >>> state.values.shape
        (16,)
    """
    if num_examples is not None:
        num_examples = _checks.check_positive_int("num_examples", num_examples)
    return MinibatchBarker(num_examples=num_examples)
