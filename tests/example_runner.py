"""Helpers for the tests of the examples (the `run_example` fixture is in conftest.py)."""

import re


def table_rows(output: str) -> dict[str, list[float]]:
    """The rows of a printed Markdown table whose cells after the first are numbers."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) > 1 and all(re.fullmatch(r"-?[\d.]+(e-?\d+)?|nan|inf", c) for c in cells[1:]):
            rows[cells[0]] = [float(c) for c in cells[1:]]
    return rows
