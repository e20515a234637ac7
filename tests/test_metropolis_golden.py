"""The annealer reproduces, bit for bit, the states recorded in tests/data/metropolis_golden."""

import metropolis_golden
import numpy as np
import pytest


@pytest.mark.parametrize("name", metropolis_golden.NAMES)
def test_reproduces_the_recorded_state_bit_for_bit(name):
    with np.load(metropolis_golden.FOLDER / f"{name}.npz") as recorded:
        expected = dict(recorded)
    actual = metropolis_golden.arrays(name)
    assert sorted(actual) == sorted(expected)
    for path, value in expected.items():
        np.testing.assert_array_equal(actual[path], value, err_msg=f"{name}: {path}")
        assert actual[path].dtype == value.dtype, f"{name}: {path}"
