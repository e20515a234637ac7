"""Chains sharded over 8 simulated CPU devices: bit-identical to one device, never gathered."""

import os
import subprocess
import sys
from pathlib import Path


def test_sharded_chains_on_eight_cpu_devices():
    environment = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        "JAX_PLATFORMS": "cpu",
    }
    script = Path(__file__).with_name("sharded_chains_check.py")
    completed = subprocess.run(
        [sys.executable, str(script)], env=environment, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "sharded chains: OK" in completed.stdout
