"""checkpoint_resume.py resumes both runs from orbax checkpoints, bit-identical to the originals."""

import json

import numpy as np
from example_runner import table_rows

RUNS = ("coolmomentum", "metropolis")


def test_checkpoint_resume(run_example):
    summary, output, out_dir = run_example("checkpoint_resume")
    rows = table_rows(output)
    assert set(rows) == {f"{run} {kind}" for run in RUNS for kind in ("uninterrupted", "resumed")}
    for name, cells in rows.items():
        assert len(cells) == 3 and np.isfinite(cells).all(), name

    for run in RUNS:
        result = summary[run]
        steps, loss, difference = rows[f"{run} uninterrupted"]
        resumed_steps, resumed_loss, resumed_difference = rows[f"{run} resumed"]
        assert steps == result["num_steps"]
        assert resumed_steps == result["num_steps"] - result["checkpoint_step"] > 0
        assert difference == resumed_difference == result["max_abs_difference"] == 0.0
        assert result["resumed_loss"] == result["uninterrupted_loss"]  # bit for bit
        assert resumed_loss == loss
        assert 0.0 < loss < np.log(10.0), run  # learned something: below uniform guessing
        checkpoint = out_dir / "checkpoints" / run / f"step_{result['checkpoint_step']}"
        assert checkpoint.is_dir(), checkpoint
    assert summary["coolmomentum"]["uninterrupted_loss"] < 1.0

    assert (out_dir / "checkpoint_resume.png").stat().st_size > 10_000
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved == summary
