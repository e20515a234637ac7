"""train_digits.py runs in its quick mode and produces its table, results and plot."""

import json

import numpy as np
import pytest
from example_runner import table_rows

COOLING_LAWS = ("exponential", "linear", "friction")
OPTIMIZERS = {
    "coolmomentum exponential",
    "coolmomentum linear",
    "coolmomentum friction",
    "sgd+momentum",
    "adam",
}


def test_train_digits(run_example):
    summary, output, out_dir = run_example("train_digits")
    rows = table_rows(output)
    assert set(rows) == OPTIMIZERS
    for name, row in rows.items():
        loss_mean, loss_std, accuracy_mean, accuracy_std, wall_time = row
        assert np.isfinite(row).all(), name
        assert 0.0 < loss_mean < np.log(10.0), name  # below the loss of uniform guessing
        assert 0.5 < accuracy_mean <= 1.0, name  # far above chance (0.1) after 3 epochs
        assert loss_std == accuracy_std == 0.0, name  # the quick mode runs one seed
        assert wall_time > 0.0
    cooling_laws_losses = {rows[f"coolmomentum {law}"][0] for law in COOLING_LAWS}
    assert len(cooling_laws_losses) == len(COOLING_LAWS)  # each law trains differently
    assert (out_dir / "train_digits.png").stat().st_size > 10_000
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved.keys() == summary.keys() == rows.keys()
    for name, result in saved.items():
        assert result["test_accuracy"] == [result["test_accuracy_mean"]], name
        assert result["test_accuracy_mean"] == pytest.approx(rows[name][2], abs=1e-4), name
