"""train_digits.py runs in its quick mode and produces its table, results and plot."""

import json

import numpy as np
import pytest
from example_runner import table_rows


def test_train_digits(run_example):
    summary, output, out_dir = run_example("train_digits")
    rows = table_rows(output)
    assert set(rows) == {"coolmomentum", "sgd+momentum", "adam"}
    for name, (train_loss, test_accuracy, wall_time) in rows.items():
        assert np.isfinite([train_loss, test_accuracy, wall_time]).all(), name
        assert 0.0 < train_loss < np.log(10.0), name  # below the loss of uniform guessing
        assert 0.5 < test_accuracy <= 1.0, name  # far above chance (0.1) after 3 epochs
        assert wall_time > 0.0
    assert (out_dir / "train_digits.png").stat().st_size > 10_000
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved.keys() == summary.keys() == rows.keys()
    assert saved["coolmomentum"]["test_accuracy"] == pytest.approx(
        rows["coolmomentum"][1], abs=1e-4
    )
