"""`random_walk`: sparse, fractional and per-leaf moves; dtypes; bad input; detailed balance."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from test_metropolis import chi_square_p_value, double_well, run_chains

import annealax

TREE = {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2), "s": jnp.zeros(())}
SIZE = 9  # coordinates of TREE


def moved_masks(moves, params, num_keys, seed=0):
    """For each move and each of ``num_keys`` keys, which coordinates it changed.

    All moves are compiled together (one compilation is most of the cost of these tests).
    Returns one boolean array ``(num_keys, size)`` per move.
    """
    keys = jax.random.split(jax.random.key(seed), num_keys)
    step_size = jnp.asarray(0.5, jnp.float32)
    moved = jax.jit(jax.vmap(lambda k: [move(k, params, step_size) for move in moves]))(keys)
    flat_params = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(params)])
    return [
        np.concatenate([np.asarray(leaf).reshape(num_keys, -1) for leaf in jax.tree.leaves(m)], 1)
        != flat_params
        for m in moved
    ]


COUNTS = (1, 3, SIZE, 20)


@functools.cache
def count_masks():
    moves = [annealax.random_walk(count=count) for count in COUNTS]
    return dict(zip(COUNTS, moved_masks(moves, TREE, num_keys=6000, seed=1), strict=True))


@pytest.mark.parametrize("count", COUNTS)
def test_count_moves_exactly_that_many_coordinates_chosen_uniformly(count):
    masks = count_masks()[count]
    moved = min(count, SIZE)
    np.testing.assert_array_equal(masks.sum(axis=1), moved)
    # Each coordinate, in every leaf, moves with probability moved / size, independently over
    # keys: within 5 standard errors of it.
    p = moved / SIZE
    standard_error = np.sqrt(p * (1 - p) / len(masks))
    np.testing.assert_array_less(np.abs(masks.mean(axis=0) - p), 5 * standard_error + 1e-12)


FRACTIONS = (0.2, 0.7)


@functools.cache
def fraction_masks():
    moves = [annealax.random_walk(fraction=fraction) for fraction in FRACTIONS]
    return dict(zip(FRACTIONS, moved_masks(moves, TREE, num_keys=6000, seed=2), strict=True))


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_fraction_moves_a_binomial_number_of_coordinates(fraction):
    moved = fraction_masks()[fraction].sum(axis=1)
    num_keys = len(moved)
    mean, variance = SIZE * fraction, SIZE * fraction * (1 - fraction)
    assert abs(moved.mean() - mean) < 5 * np.sqrt(variance / num_keys)
    # The whole distribution of the count, not just its mean: chi-square against the binomial,
    # with the sparse tails (expected count < 5) pooled into one bin.
    observed = np.bincount(moved, minlength=SIZE + 1)
    expected = stats.binom.pmf(np.arange(SIZE + 1), SIZE, fraction) * num_keys
    sparse = expected < 5
    observed = np.append(observed[~sparse], observed[sparse].sum())
    expected = np.append(expected[~sparse], expected[sparse].sum())
    assert stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3


DENSE = {
    "gaussian": annealax.random_walk(),
    "cauchy": annealax.random_walk("cauchy"),
    "fraction-1": annealax.random_walk(fraction=1.0),
    "per-leaf": annealax.random_walk(per_leaf=True),
}


@functools.cache
def dense_masks():
    return dict(zip(DENSE, moved_masks(tuple(DENSE.values()), TREE, num_keys=500), strict=True))


@pytest.mark.parametrize("name", DENSE)
def test_dense_moves_change_every_coordinate(name):
    assert dense_masks()[name].all()


PER_LEAF_TREE = {
    "matrix": jnp.zeros((30, 4)),  # fan-in 30
    "kernel": jnp.zeros((3, 3, 8)),  # fan-in 9
    "bias": jnp.zeros(4),  # the matrix's bias: fan-in 30
    "offsets": jnp.zeros(5),  # no kernel has 5 outputs: fan-in 1
    "scalar": jnp.zeros(()),  # fan-in 1
}
FAN_IN = {"matrix": 30, "kernel": 9, "bias": 30, "offsets": 1, "scalar": 1}


PER_LEAF_MOVES = {
    "per-leaf": annealax.random_walk(per_leaf=True),
    "per-leaf-count": annealax.random_walk(count=60, per_leaf=True),
    "plain": annealax.random_walk(),
}
PER_LEAF_STEP_SIZE = 0.7


@functools.cache
def per_leaf_displacements():
    """Each move's displacement of every leaf over 20000 keys, as float64 ``(keys, *shape)``."""
    keys = jax.random.split(jax.random.key(3), 20_000)
    step_size = jnp.asarray(PER_LEAF_STEP_SIZE, jnp.float32)
    moves = tuple(PER_LEAF_MOVES.values())
    moved = jax.jit(jax.vmap(lambda k: [m(k, PER_LEAF_TREE, step_size) for m in moves]))(keys)
    return dict(zip(PER_LEAF_MOVES, jax.tree.map(np.float64, moved), strict=True))


@pytest.mark.parametrize("name", PER_LEAF_MOVES)
def test_per_leaf_scales_each_leaf_by_one_over_sqrt_fan_in(name):
    for leaf, steps in per_leaf_displacements()[name].items():
        moved = steps[steps != 0]
        if name == "per-leaf-count":
            # 60 of 202 coordinates move: the scalar leaf in about 5900 of the 20000 draws.
            assert len(moved) > 5000
        else:
            assert moved.size == steps.size  # dense: every coordinate moves
        expected = PER_LEAF_STEP_SIZE / np.sqrt(FAN_IN[leaf] if name != "plain" else 1)
        # The std of n normal draws has relative standard error 1 / sqrt(2 n): at most 1 % here
        # (n > 5000), so 4 % is 4 standard errors from the expected value, while the smallest
        # wrong scale (1 instead of 1 / 3 for the kernel) is off by a factor of 3.
        assert moved.std() == pytest.approx(expected, rel=0.04), leaf
        assert abs(moved.mean()) < 5 * expected / np.sqrt(len(moved)), leaf


def test_biases_take_the_fan_in_of_their_layer():
    """In Flax's layouts (NNX state, Linen variables) a bias sits beside its kernel."""
    from flax import nnx

    from annealax._annealing.random_walk import fan_ins

    params = nnx.split(nnx.Linear(64, 32, rngs=nnx.Rngs(0)))[1]
    assert sorted(fan_ins(params)) == [((32,), 64), ((64, 32), 64)]
    linen_like = {"params": {"Dense_0": {"bias": jnp.zeros(3), "kernel": jnp.zeros((5, 3))}}}
    assert fan_ins(linen_like) == [((3,), 5), ((5, 3), 5)]
    # Vectors of other layers and of other lengths keep fan-in 1.
    two_layers = {"a": {"kernel": jnp.zeros((8, 3))}, "b": {"bias": jnp.zeros(3)}}
    assert fan_ins(two_layers) == [((8, 3), 8), ((3,), 1)]
    assert fan_ins(jnp.zeros(7)) == [((7,), 1)]


@pytest.mark.parametrize(
    "move",
    [
        annealax.random_walk(),
        annealax.random_walk("cauchy", count=2),
        annealax.random_walk(fraction=0.5, per_leaf=True),
    ],
    ids=["gaussian", "cauchy-count", "fraction-per-leaf"],
)
def test_dtype_of_every_leaf_is_kept_for_a_bfloat16_tree(move):
    params = {"w": jnp.ones((3, 2), jnp.bfloat16), "b": jnp.ones(2, jnp.bfloat16)}
    moved = move(jax.random.key(0), params, jnp.asarray(0.5, jnp.float32))
    assert jax.tree.map(lambda x: x.dtype, moved) == jax.tree.map(lambda x: x.dtype, params)
    assert jax.tree.map(jnp.shape, moved) == jax.tree.map(jnp.shape, params)
    assert_displacement_scales_with_the_step_size(move, params)


def assert_displacement_scales_with_the_step_size(move, params):
    """The displacement is the step size times a draw: with the same key, half the step size
    moves the same coordinates half as far (to within the rounding of bfloat16, 2^-8)."""
    key = jax.random.key(0)
    steps = [
        jax.tree.map(
            lambda m, p: np.float32(m) - np.float32(p),
            move(key, params, jnp.asarray(step_size, jnp.float32)),
            params,
        )
        for step_size in (0.5, 0.25)
    ]
    for full, half in zip(*map(jax.tree.leaves, steps), strict=True):
        np.testing.assert_allclose(half, 0.5 * full, rtol=2**-6, atol=2**-6)
    # Steps far longer than the tolerance: a step size ignored or applied twice fails above.
    assert np.max(np.abs(np.concatenate(jax.tree.leaves(steps[0]), axis=None))) > 0.1


@pytest.mark.parametrize(
    "move",
    [annealax.random_walk(), annealax.random_walk(count=2), annealax.random_walk(per_leaf=True)],
    ids=["gaussian", "count", "per-leaf"],
)
def test_dtype_of_every_leaf_is_kept_for_a_mixed_dtype_tree(move):
    params = {"w": jnp.ones((3, 2), jnp.bfloat16), "b": jnp.ones(2, jnp.float32)}
    moved = move(jax.random.key(0), params, jnp.asarray(0.5, jnp.float32))
    assert jax.tree.map(lambda x: x.dtype, moved) == jax.tree.map(lambda x: x.dtype, params)
    assert_displacement_scales_with_the_step_size(move, params)


def test_random_walks_with_equal_settings_are_equal_and_hashable():
    assert annealax.random_walk(count=1) == annealax.random_walk("gaussian", count=1)
    assert hash(annealax.random_walk(count=1)) == hash(annealax.random_walk(count=1))
    assert annealax.random_walk(count=1) != annealax.random_walk(count=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(noise="levy"), r"`noise` must be one of \('gaussian', 'cauchy'\), got 'levy'"),
        (dict(count=0), r"`count` must be a positive int or None, got 0"),
        (dict(count=2.5), r"`count` must be a positive int or None, got 2.5"),
        (dict(count=True), r"`count` must be a positive int or None, got True"),
        (dict(fraction=0), r"`fraction` must be a float in \(0, 1\] or None, got 0"),
        (dict(fraction=1.5), r"`fraction` must be a float in \(0, 1\] or None, got 1.5"),
        (dict(fraction="half"), r"`fraction` must be a float in \(0, 1\] or None, got 'half'"),
        (
            dict(count=2, fraction=0.5),
            r"at most one of `count` and `fraction`, got count=2 and fraction=0.5",
        ),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        annealax.random_walk(**kwargs)


# Detailed balance: each move keeps the Boltzmann distribution of independent double wells.

DOUBLE_WELL_TREE = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}  # 6 independent coordinates
TEMPERATURE = 0.3
EDGES = np.linspace(-2.2, 2.2, 23)


def tree_double_well(params):
    return sum(double_well(leaf) for leaf in jax.tree.leaves(params))


def uniform_walk(key, params, step_size):
    """A user-supplied symmetric move: uniform steps in [-step_size, step_size] on every leaf."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    return treedef.unflatten(
        [
            leaf + step_size * jax.random.uniform(k, leaf.shape, minval=-1.0, maxval=1.0)
            for k, leaf in zip(keys, leaves, strict=True)
        ]
    )


def drifting_walk(key, params, step_size):
    """Not symmetric: every move is pushed 0.1 to the right."""
    moved = annealax.random_walk()(key, params, step_size)
    return jax.tree.map(lambda x: x + 0.1, moved)


def pooled_samples(proposal, step_size, num_steps, seed):
    tx = annealax.metropolis(
        4096,
        key=jax.random.key(seed),
        temperature=TEMPERATURE,
        step_size=step_size,
        proposal=proposal,
        adaptation=None,
    )
    state = run_chains(tx, DOUBLE_WELL_TREE, tree_double_well, num_steps)
    leaves = jax.tree.leaves(state.chains)
    return np.concatenate([np.asarray(leaf, np.float64).ravel() for leaf in leaves])


def log_boltzmann(temperature):
    return lambda x: -((x * x - 1.0) ** 2) / temperature


@pytest.mark.parametrize(
    ("proposal", "step_size", "num_steps"),
    [
        # One of 6 coordinates moves per step: 6 times the steps of the dense moves.
        (annealax.random_walk(count=1), 0.8, 6 * 200),
        (annealax.random_walk("cauchy", count=1), 0.4, 6 * 200),
        (annealax.random_walk(fraction=0.5), 0.5, 400),
        (annealax.random_walk(per_leaf=True), 0.3, 400),
        (uniform_walk, 0.5, 400),
    ],
    ids=["count-1", "cauchy-count-1", "fraction-half", "per-leaf", "user-callable"],
)
def test_moves_keep_the_boltzmann_distribution(proposal, step_size, num_steps):
    samples = pooled_samples(proposal, step_size, num_steps, seed=11)
    assert chi_square_p_value(samples, log_boltzmann(TEMPERATURE), EDGES) > 1e-3
    # The same samples are far from the distribution at twice the temperature.
    assert chi_square_p_value(samples, log_boltzmann(2 * TEMPERATURE), EDGES) < 1e-6


def test_a_move_that_is_not_symmetric_breaks_the_boltzmann_distribution():
    samples = pooled_samples(drifting_walk, 0.3, 400, seed=11)
    assert chi_square_p_value(samples, log_boltzmann(TEMPERATURE), EDGES) < 1e-6
