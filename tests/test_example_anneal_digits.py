"""anneal_digits.py runs in its quick mode and produces its table, results and plot."""

import json

import numpy as np
import pytest
from example_runner import table_rows


def test_anneal_digits(run_example):
    summary, output, out_dir = run_example("anneal_digits")
    rows = table_rows(output)
    assert set(rows) == {"anneal", "adam"}
    for name, (test_accuracy, train_loss, examples, wall_time) in rows.items():
        assert np.isfinite([test_accuracy, train_loss, examples, wall_time]).all(), name
        assert 0.0 < train_loss < np.log(10.0), name  # below the loss of uniform guessing
        assert wall_time > 0.0
    # A tenth of 81,920,000 forward passes for anneal, whole evaluations of the 1,438 training
    # digits by its 1 chain; 1,000 steps of batch 64 for Adam.
    assert 8_192_000 - 1438 < rows["anneal"][2] <= 8_192_000
    assert rows["anneal"][2] % 1438 == 0
    assert rows["adam"][2] == 64 * 1000
    # Without gradients the MLP gets far above chance (0.1): 0.94 with seed 0.
    assert rows["anneal"][0] > 0.6
    assert rows["adam"][0] > 0.9
    assert (out_dir / "anneal_digits.png").stat().st_size > 10_000
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved.keys() == summary.keys() == rows.keys()
    assert saved["anneal"]["test_accuracy"] == pytest.approx(rows["anneal"][0], abs=1e-4)
    assert len(saved["anneal"]["curve"]) == len(saved["adam"]["curve"]) == 51
    # The training-loss curves fall: anneal's is its best loss so far.
    anneal_losses = [loss for _, loss in saved["anneal"]["curve"]]
    assert anneal_losses == sorted(anneal_losses, reverse=True)
    assert anneal_losses[-1] < 0.5 * anneal_losses[0]
