"""The documentation: every public name has an API entry and every Python snippet runs."""

import re

import pytest
from snippets import DOCS, MARKDOWN_FILES, ROOT, python_blocks

import annealax

API_PAGE = DOCS / "api.md"
API_ENTRY = re.compile(r"^:::[ \t]+annealax\.(?P<name>\w+)[ \t]*$", re.MULTILINE)


def documented_names():
    return [match["name"] for match in API_ENTRY.finditer(API_PAGE.read_text(encoding="utf-8"))]


SNIPPETS = [
    pytest.param(path, index, id=f"{path.relative_to(ROOT).as_posix()}-{index}")
    for path in MARKDOWN_FILES
    for index in range(len(python_blocks(path)))
]


@pytest.mark.parametrize("name", annealax.__all__)
def test_public_name_has_api_entry(name):
    assert name in documented_names(), f"docs/api.md has no `::: annealax.{name}` entry"


def test_api_entries_are_public_names():
    documented = documented_names()
    assert sorted(set(documented)) == sorted(documented), "docs/api.md documents a name twice"
    assert set(documented) <= set(annealax.__all__)


def test_readme_and_docs_have_snippets():
    assert {path.name for path, _ in (param.values for param in SNIPPETS)} >= {
        "README.md",
        "index.md",
        "coolmomentum.md",
    }


@pytest.mark.parametrize(("path", "index"), SNIPPETS)
def test_python_snippet_runs(path, index):
    code = python_blocks(path)[index]
    if "matplotlib" in code:
        import matplotlib

        matplotlib.use("Agg")
    namespace = {"__name__": "__main__"}
    compiled = compile(code, f"{path.relative_to(ROOT).as_posix()} (python block {index})", "exec")
    exec(compiled, namespace)
    if "matplotlib" in code:
        import matplotlib.pyplot as plt

        plt.close("all")
