"""A one-line description of the machine a benchmark ran on."""

import os
import platform
import re
from pathlib import Path

import jax


def describe(*libraries: str) -> str:
    """CPU model, core count, JAX's platform and the versions of ``libraries`` (if installed)."""
    cpu = platform.processor() or platform.machine()
    try:
        model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        cpu = model.group(1) if model else cpu
    except OSError:
        pass
    versions = []
    for name in libraries:
        try:
            module = __import__(name)
        except ImportError:
            continue
        versions.append(f"{name} {module.__version__}")
    platform_name = jax.devices()[0].platform.upper()
    machine = f"{cpu}, {os.cpu_count()} cores, {platform_name}"
    return f"{machine}; {', '.join(versions)}" if versions else machine
