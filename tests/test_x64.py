"""The public API, the README's and the guides' snippets under ``jax_enable_x64``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


@pytest.mark.slow
def test_public_api_and_snippets_under_x64():
    environment = {**os.environ, "JAX_ENABLE_X64": "1", "MPLBACKEND": "Agg"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        str(TESTS / "x64_checks.py"),
        str(TESTS / "test_docs.py"),
        "-k",
        "x64_checks or snippet",
    ]
    run = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and " skipped" not in run.stdout, run.stdout[-3000:]
