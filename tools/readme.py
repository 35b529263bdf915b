"""README.md is written from nbs/index.ipynb (settings.ini's `readme_nb`): its markdown cells, in order, joined by a
blank line. nbdev's own `nbdev_readme` needs Quarto, which cannot be installed offline; this keeps one source.
Numbers are never copied by hand: a `<!-- learning-table -->` line becomes the table of the committed learning runs
(`nbs/results/learning/standin_seed*.json`) against `musicnet_ldm.learning.DIRECTIONS`.
`python tools/readme.py` writes README.md; `--check` exits 1 when README.md differs from what it would write."""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEARNING_TABLE = "<!-- learning-table -->"


def learning_table(runs_dir: Path = ROOT/"nbs"/"results"/"learning") -> str:
    "A markdown table: each direction's threshold and, per committed seed, its measured value and ✓/✗."
    sys.path.insert(0, str(ROOT))
    from musicnet_ldm.learning import check_directions
    runs = {p.stem.rsplit("seed", 1)[1]: check_directions(json.loads(p.read_text())) for p in sorted(runs_dir.glob("standin_seed*.json"))}
    if not runs: raise SystemExit(f"no committed learning runs in {runs_dir.relative_to(ROOT)}")
    names = list(next(iter(runs.values())))
    rows = [f"| direction | wanted | {' | '.join(f'seed {k}' for k in runs)} |", "|---|---|" + "---|" * len(runs)]
    for n in names:
        cells = [f"{r[n]['value']:.3g} {'✓' if r[n]['met'] else '✗'}" for r in runs.values()]
        rows.append(f"| {n} | {next(iter(runs.values()))[n]['threshold']} | {' | '.join(cells)} |")
    return "\n".join(rows)


def readme_text(index: Path = ROOT/"nbs"/"index.ipynb") -> str:
    "The README's text: the notebook's markdown cells, each ending in one newline, separated by a blank line."
    cells = json.loads(index.read_text(encoding="utf-8"))["cells"]
    parts = ["".join(c["source"]).strip("\n") for c in cells if c["cell_type"] == "markdown"]
    text = "\n\n".join(parts) + "\n"
    return text.replace(LEARNING_TABLE, learning_table()) if LEARNING_TABLE in text else text


if __name__ == "__main__":
    text, readme = readme_text(), ROOT/"README.md"
    if "--check" in sys.argv[1:]:
        if readme.read_text(encoding="utf-8") != text:
            sys.exit("README.md differs from nbs/index.ipynb: edit the notebook, then run `python tools/readme.py`")
    else:
        readme.write_text(text, encoding="utf-8")
