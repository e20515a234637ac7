"""anneal_digits.py runs in its quick mode and produces its table, results and plot."""

import json

import numpy as np
import pytest
from example_runner import table_rows


def test_anneal_digits(run_example):
    summary, output, out_dir = run_example("anneal_digits")
    rows = table_rows(output)
    assert set(rows) == {"metropolis", "adam"}
    for name, (test_accuracy, train_loss, examples, wall_time) in rows.items():
        assert np.isfinite([test_accuracy, train_loss, examples, wall_time]).all(), name
        assert 0.0 < train_loss < np.log(10.0), name  # below the loss of uniform guessing
        assert wall_time > 0.0
    # 1,000 steps of batch 64; Metropolis evaluates 64 chains twice per step.
    assert rows["metropolis"][2] == 2 * 64 * 64 * 1000
    assert rows["adam"][2] == 64 * 1000
    # Without gradients the MLP gets far above chance (0.1): 0.75 with seed 0.
    assert rows["metropolis"][0] > 0.5
    assert rows["adam"][0] > 0.9
    assert (out_dir / "anneal_digits.png").stat().st_size > 10_000
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved.keys() == summary.keys() == rows.keys()
    assert saved["metropolis"]["test_accuracy"] == pytest.approx(rows["metropolis"][0], abs=1e-4)
    assert len(saved["metropolis"]["curve"]) == len(saved["adam"]["curve"]) == 51
