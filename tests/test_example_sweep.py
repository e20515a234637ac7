"""sweep.py runs its quick grid in one call and produces its table, results and heat map."""

import json

import numpy as np
from example_runner import table_rows

START_VALUE = 90.0  # Rastrigin at (3, ..., 3) in 10 dimensions


def test_sweep(run_example):
    summary, output, out_dir = run_example("sweep")
    settings = summary["settings"]
    temperatures, step_sizes = settings["initial_temperatures"], settings["step_sizes"]
    values = np.asarray(summary["best_values"])
    assert values.shape == (settings["num_seeds"], len(temperatures), len(step_sizes))
    assert np.isfinite(values).all()
    assert (values >= 0.0).all() and (values <= START_VALUE + 1e-3).all()

    rows = table_rows(output)
    assert list(rows) == [f"T0={temperature:g}" for temperature in temperatures]
    median = np.median(values, axis=0)
    for i, cells in enumerate(rows.values()):
        assert len(cells) == len(step_sizes) + 2
        assert np.isfinite(cells).all()
        np.testing.assert_allclose(cells[: len(step_sizes)], median[i], atol=0.006)
        assert cells[-1] == 0.0  # the inject_hyperparams grid is bit-identical
    assert summary["max_abs_difference_injected"] == 0.0

    # Every temperature gives its own results, and the hottest start beats the coldest.
    assert len({values[:, i].tobytes() for i in range(len(temperatures))}) == len(temperatures)
    assert median[-1].max() < median[0].min()
    assert len({values[s].tobytes() for s in range(len(values))}) == len(values)  # seeds differ

    assert (out_dir / "sweep.png").stat().st_size > 10_000
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved.keys() == summary.keys()
    assert saved["best_values"] == summary["best_values"]
