"""README.md is written from nbs/index.ipynb (settings.ini's `readme_nb`): its markdown cells, in order, joined by a
blank line. nbdev's own `nbdev_readme` needs Quarto, which cannot be installed offline; this keeps one source.
`python tools/readme.py` writes README.md; `--check` exits 1 when README.md differs from what it would write."""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_text(index: Path = ROOT/"nbs"/"index.ipynb") -> str:
    "The README's text: the notebook's markdown cells, each ending in one newline, separated by a blank line."
    cells = json.loads(index.read_text(encoding="utf-8"))["cells"]
    parts = ["".join(c["source"]).strip("\n") for c in cells if c["cell_type"] == "markdown"]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    text, readme = readme_text(), ROOT/"README.md"
    if "--check" in sys.argv[1:]:
        if readme.read_text(encoding="utf-8") != text:
            sys.exit("README.md differs from nbs/index.ipynb: edit the notebook, then run `python tools/readme.py`")
    else:
        readme.write_text(text, encoding="utf-8")
