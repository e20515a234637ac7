"""The documentation's figure scripts: each `docs/plots/*.py` writes the PNG files it promises."""

import runpy
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parent.parent
PLOTS = ROOT / "docs" / "plots"
IMAGES = ROOT / "docs" / "images"
SCRIPTS = sorted(PLOTS.glob("*.py"))


def test_there_are_plot_scripts():
    assert SCRIPTS, f"no figure scripts in {PLOTS.relative_to(ROOT)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.stem for script in SCRIPTS])
def test_plot_script_writes_its_figures(script, tmp_path):
    matplotlib.use("Agg")
    module = runpy.run_path(str(script), run_name=f"doc_plot_{script.stem}")
    outputs = module["OUTPUTS"]
    assert outputs, f"{script.name} promises no figures in OUTPUTS"
    written = module["main"](tmp_path)
    assert sorted(Path(path).name for path in written) == sorted(outputs)
    for name in outputs:
        path = tmp_path / name
        assert path.suffix == ".png", f"{script.name} promises {name}, not a PNG file"
        assert path.is_file(), f"{script.name} did not write {name}"
        assert path.read_bytes().startswith(b"\x89PNG"), f"{name} is not a PNG file"
        assert (IMAGES / name).is_file(), (
            f"docs/images/{name} is missing: run `python {script.relative_to(ROOT).as_posix()}`"
        )
