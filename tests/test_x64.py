"""The public API, the README's and the guides' snippets under ``jax_enable_x64``.

``jax_enable_x64`` is read when JAX starts, so each group of checks runs in a pytest subprocess;
the groups are small so that pytest-xdist spreads them over its workers.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from snippets import MARKDOWN_FILES, ROOT, python_blocks

TESTS = Path(__file__).parent
SNIPPETS_PER_RUN = 7


def snippet_groups():
    """Groups of the node ids of ``test_docs.py``'s snippet tests, at most `SNIPPETS_PER_RUN`
    in a group, each a `pytest.param`."""
    for path in MARKDOWN_FILES:
        name = path.relative_to(ROOT).as_posix()
        ids = [
            f"{TESTS / 'test_docs.py'}::test_python_snippet_runs[{name}-{index}]"
            for index in range(len(python_blocks(path)))
        ]
        for start in range(0, len(ids), SNIPPETS_PER_RUN):
            chunk = ids[start : start + SNIPPETS_PER_RUN]
            yield pytest.param(chunk, id=f"{name}-{start}-{start + len(chunk) - 1}")


GROUPS = [pytest.param([str(TESTS / "x64_checks.py")], id="x64_checks"), *snippet_groups()]


@pytest.mark.slow
@pytest.mark.parametrize("targets", GROUPS)
def test_public_api_and_snippets_under_x64(targets):
    environment = {**os.environ, "JAX_ENABLE_X64": "1", "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *targets]
    run = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert " skipped" not in run.stdout and " deselected" not in run.stdout, run.stdout[-3000:]
    snippets = [target for target in targets if "::" in target]
    passed = rf"\b{len(snippets)} passed\b" if snippets else r"\b\d+ passed\b"
    assert re.search(passed, run.stdout), run.stdout[-3000:]
