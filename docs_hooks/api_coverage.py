"""MkDocs hook: the build fails when a public name of annealax has no entry in docs/api.md."""

import re
from pathlib import Path

import annealax


def on_pre_build(config, **kwargs):
    """Raise when a name in `annealax.__all__` has no `::: annealax.<name>` line in the API page."""
    api_page = Path(config["docs_dir"]) / "api.md"
    documented = set(re.findall(r"^:::\s+annealax\.(\w+)\s*$", api_page.read_text(), re.MULTILINE))
    missing = sorted(set(annealax.__all__) - documented)
    if missing:
        raise ValueError(f"docs/api.md has no entry for the public names {missing}")
