"""The benchmarks' paired comparison over seeds."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from paired import relative_gap


def test_gap_is_relative_to_the_peers_mean_and_its_error_pairs_by_seed():
    ours = np.array([0.90, 0.95, 0.99])
    theirs = ours + np.array([0.01, 0.02, 0.03])
    gap, error = relative_gap(ours, theirs)
    differences = np.array([0.01, 0.02, 0.03]) / theirs.mean()
    assert gap == pytest.approx(differences.mean())
    # The seeds' common spread (0.90 to 0.99) is not in the error, only the differences'.
    assert error == pytest.approx(differences.std(ddof=1) / np.sqrt(3))


def test_a_peer_behind_gives_a_negative_gap_and_one_seed_no_error():
    gap, error = relative_gap([0.97], [0.96])
    assert gap == pytest.approx(-0.01 / 0.96)
    assert np.isnan(error)


@pytest.mark.parametrize(("ours", "theirs"), [([0.9, 0.8], [0.9]), ([], [])])
def test_unpaired_figures_are_refused(ours, theirs):
    with pytest.raises(ValueError, match="`ours` and `theirs`"):
        relative_gap(ours, theirs)
