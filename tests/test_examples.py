"""Every example runs in its quick mode and produces its table, results and plot."""

import json
import re
import runpy
from pathlib import Path

import jax
import numpy as np
import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture
def run_example(tmp_path, capsys):
    def run(name: str, *args: str):
        module = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")
        with jax.numpy_dtype_promotion("standard"):
            summary = module["main"](["--quick", "--out", str(tmp_path), *args])
        return summary, capsys.readouterr().out, tmp_path

    return run


def table_rows(output: str) -> dict[str, list[float]]:
    """The rows of a printed Markdown table whose cells after the first are numbers."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) > 1 and all(re.fullmatch(r"-?[\d.]+(e-?\d+)?|nan|inf", c) for c in cells[1:]):
            rows[cells[0]] = [float(c) for c in cells[1:]]
    return rows


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
