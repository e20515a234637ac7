"""Write a benchmark's Markdown into the documentation, between the markers of its section."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).parent.parent / "docs" / "benchmarks.md"


def markers(name: str) -> tuple[str, str]:
    """The HTML comments that open and close the section ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(doc: Path, name: str, markdown: str, *, heading: str | None = None) -> None:
    """Replace what lies between the markers of section ``name`` in ``doc`` with ``markdown``.

    Where ``doc`` lacks the markers, they are added at its end after ``heading`` (``""``: the
    bare markers); without a heading that is an error.
    """
    start, end = markers(name)
    text = doc.read_text()
    if start not in text:
        if heading is None:
            raise ValueError(f"{doc} has no {start} marker: add the section {name!r} first")
        text = text.rstrip("\n") + "\n" + heading + f"\n{start}\n{end}\n"
    head, tail = text.index(start), text.index(end)
    doc.write_text(text[: head + len(start)] + "\n" + markdown + "\n" + text[tail:])
