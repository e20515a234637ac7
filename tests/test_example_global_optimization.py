"""global_optimization.py runs in its quick mode and produces its table, results and plot."""

import json

import numpy as np
import pytest
from example_runner import table_rows


def test_global_optimization(run_example):
    summary, output, out_dir = run_example("global_optimization")
    rows = table_rows(output)
    assert set(rows) == {"sphere", "rastrigin", "ackley"}
    for name, row in rows.items():
        start, ours, theirs, our_time, our_compile, their_time, our_evals, their_evals = row
        assert np.isfinite(row).all(), name
        assert 0.0 <= ours < 1e-4 * start, name  # the polish reaches the minimum
        assert 0.0 <= theirs < start, name
        assert min(our_time, our_compile, their_time) > 0.0, name
        assert our_evals > 64 * (1000 + 1), name  # the steps' evaluations and the polish's
        assert their_evals > 0, name
    assert (out_dir / "global_optimization.png").stat().st_size > 10_000
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved.keys() == summary.keys() == rows.keys()
    for name, row in rows.items():
        assert saved[name]["annealax"]["best_value"] == pytest.approx(row[1], rel=1e-3, abs=1e-12)
        assert saved[name]["scipy"]["evaluations"] == row[7]
