"""README.md and docs/research.md, written from their sources by one command (`make sync-check` runs it).

README.md is nbs/index.ipynb's markdown (settings.ini's `readme_nb`): its markdown cells, in order, joined by a blank
line. nbdev's own `nbdev_readme` needs Quarto, which cannot be installed offline; this keeps one source. Numbers are
never copied by hand: a `<!-- learning-status -->` line becomes a sentence rendered from the committed learning runs.
docs/research.md is docs/research.template.md filled by tools/record.py from the committed JSON.
`python tools/readme.py` writes both; `--check` exits 1 naming each file that differs from what it would write."""
import json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record                                                   # tools/record.py

ROOT = record.ROOT
INDEX = ROOT/"nbs"/"index.ipynb"
README = ROOT/"README.md"
LEARNING_STATUS = "<!-- learning-status -->"


def readme_text(index: Path = INDEX, sources: record.Sources = record.Sources()) -> str:
    "The README's text: the notebook's markdown cells, each ending in one newline, separated by a blank line."
    cells = json.loads(Path(index).read_text(encoding="utf-8"))["cells"]
    parts = ["".join(c["source"]).strip("\n") for c in cells if c["cell_type"] == "markdown"]
    text = "\n\n".join(parts) + "\n"
    if LEARNING_STATUS not in text: return text
    return text.replace(LEARNING_STATUS, record.learning_summary(record.learning_runs(sources.learning_dir)))


def rendered(sources: record.Sources = record.Sources()) -> dict:
    "{file: the text it must hold}: README.md and docs/research.md."
    return {README: readme_text(sources=sources), record.RECORD: record.record_text(sources)}


def main(argv=None) -> int:
    "Write every rendered file; with `--check`, exit 1 naming those that differ instead."
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = []
    for path, text in rendered().items():
        same = path.is_file() and path.read_text(encoding="utf-8") == text
        if check and not same: stale.append(str(path.relative_to(ROOT)))
        elif not same: path.write_text(text, encoding="utf-8")
    if stale:
        print(f"{', '.join(stale)} differ from their sources: edit nbs/index.ipynb or docs/research.template.md, "
              "then run `python tools/readme.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
