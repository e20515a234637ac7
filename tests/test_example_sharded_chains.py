"""sharded_chains.py splits the chains over every device and matches one device bit for bit."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from example_runner import table_rows

SCRIPT = Path(__file__).parent.parent / "examples" / "sharded_chains.py"
COLUMNS = ("devices", "chains per device", "best value", "max abs diff", "first call", "second")


def check_table(output: str, num_devices: int, num_chains: int) -> None:
    rows = table_rows(output)
    assert set(rows) == {"single-device", "sharded"}
    for name, cells in rows.items():
        assert len(cells) == len(COLUMNS), name
        assert np.isfinite(cells).all(), name
        assert min(cells[-2:]) > 0.0, name  # wall times
    devices, chains_per_device, best_value, difference, *_ = rows["sharded"]
    assert (devices, chains_per_device) == (num_devices, num_chains // num_devices)
    assert rows["single-device"][:2] == [1, num_chains]
    assert best_value == rows["single-device"][2]
    assert difference == 0.0
    assert "bit-identical: yes" in output


def test_sharded_chains_in_process(run_example):
    summary, output, out_dir = run_example("sharded_chains")
    num_devices = jax.device_count()
    assert summary["num_devices"] == num_devices
    assert summary["num_chains"] % num_devices == 0
    check_table(output, num_devices, summary["num_chains"])
    assert summary["bit_identical"] and summary["differing_fields"] == []
    assert summary["max_abs_difference"] == 0.0
    shard_rows = [shard["shape"][0] for shard in summary["shards"]]
    assert sum(shard_rows) == summary["num_chains"]
    assert (out_dir / "sharded_chains.png").stat().st_size > 10_000
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved.keys() == summary.keys()


@pytest.mark.parametrize("flag_given", [True, False], ids=["flag-given", "flag-set-by-script"])
def test_sharded_chains_on_eight_cpu_devices(tmp_path, flag_given):
    environment = {key: value for key, value in os.environ.items() if key != "XLA_FLAGS"}
    environment["JAX_PLATFORMS"] = "cpu"
    if flag_given:
        environment["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary = json.loads((tmp_path / "results.json").read_text())
    assert summary["num_devices"] == 8 and summary["platform"] == "cpu"
    assert "8 cpu devices" in completed.stdout
    check_table(completed.stdout, 8, summary["num_chains"])
    assert summary["bit_identical"] and summary["max_abs_difference"] == 0.0
    assert [shard["shape"][0] for shard in summary["shards"]] == [summary["num_chains"] // 8] * 8
