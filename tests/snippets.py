"""The Python code blocks of the README and the documentation, for the tests that run them."""

import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARKDOWN_FILES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]

PYTHON_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def python_blocks(path: Path) -> list[str]:
    """The ```python code blocks of a Markdown file, dedented, in order."""
    text = path.read_text(encoding="utf-8")
    return [textwrap.dedent(match["code"]) for match in PYTHON_BLOCK.finditer(text)]
