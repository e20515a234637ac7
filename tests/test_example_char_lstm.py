"""char_lstm.py runs in its quick mode and produces its table, results and plot."""

import json
import math
import re

import numpy as np
import pytest
from example_runner import table_rows


def test_char_lstm(run_example):
    summary, output, out_dir = run_example("char_lstm")
    rows = table_rows(output)
    assert set(rows) == {"coolmomentum", "sgd", "sgd+momentum"}
    vocabulary_size = int(re.search(r"vocabulary of (\d+)", output)[1])
    uniform_bpc = math.log2(vocabulary_size)
    assert 50 < vocabulary_size < 200  # the characters of Python source, and the unknown id
    for name, row in rows.items():
        train_bpc, validation_bpc, wall_time = row
        assert np.isfinite(row).all(), name
        assert 0.0 < train_bpc < uniform_bpc - 1.0, name  # learnt the character frequencies
        assert 0.0 < validation_bpc < uniform_bpc - 1.0, name
        assert wall_time > 0.0
    assert (out_dir / "char_lstm.png").stat().st_size > 10_000
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved.keys() == summary.keys() == rows.keys()
    for name, result in saved.items():
        assert result["validation_bpc"] == pytest.approx(rows[name][1], abs=1e-3), name
