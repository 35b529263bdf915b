"""The repository's layout: one notebook per module, numbered so that each notebook sorts after the notebooks whose
modules its exported code imports (a reader can go through them in order), and no import cycle between modules."""
import ast, json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT/"nbs").glob("[0-9]*.ipynb"))


def cells(nb: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"]


def module_of(nb: Path) -> str | None:
    found = [m.group(1) for s in cells(nb) for m in [re.search(r"^#\|\s*default_exp\s+(\S+)", s, re.M)] if m]
    return found[0] if found else None


MODULES = {module_of(nb): nb.name for nb in NOTEBOOKS if module_of(nb)}


def imported_modules(source: str) -> set[str]:
    "The package's modules a piece of code imports, at any depth (function-level imports count)."
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            name = (node.module.removeprefix("musicnet_ldm.").lstrip(".") if node.level
                    or node.module.startswith("musicnet_ldm.") else "")
            if name in MODULES: found.add(name)
    return found


def exported(nb: Path) -> str:
    return "\n".join(s for s in cells(nb) if re.match(r"#\|\s*export", s))


def test_every_module_has_one_notebook():
    assert len(MODULES) == len([nb for nb in NOTEBOOKS if module_of(nb)])
    assert set(MODULES) == {p.stem for p in (ROOT/"musicnet_ldm").glob("*.py")} - {"__init__", "_modidx"}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_exported_code_imports_only_earlier_notebooks(nb):
    later = {m: MODULES[m] for m in imported_modules(exported(nb)) if MODULES[m] > nb.name}
    assert not later, f"{nb.name} imports modules of notebooks that sort after it: {later}"


def test_no_import_cycle_between_modules():
    graph = {m: imported_modules((ROOT/"musicnet_ldm"/f"{m}.py").read_text()) - {m} for m in MODULES}
    seen, done = set(), set()
    def visit(m, path):
        assert m not in seen or m in done, f"import cycle: {' → '.join(path + [m])}"
        if m in done: return
        seen.add(m)
        for d in sorted(graph[m]): visit(d, path + [m])
        done.add(m)
    for m in sorted(graph): visit(m, [])


LINE_LIMIT = 120          # characters, as the style guide says


def nbdev_generated(i: int, line: str) -> bool:
    "A module's lines that nbdev writes, not a notebook: the docstring from the notebook's summary, and `__all__`."
    return (i == 1 and line.startswith('"""')) or line.startswith("__all__ = [")


def over_limit(name: str, text: str) -> list[str]:
    return [f"{name}:{i}: {len(line)} characters" for i, line in enumerate(text.split("\n"), 1)
            if len(line) > LINE_LIMIT and not nbdev_generated(i, line)]


def test_code_lines_fit_the_limit():
    found = []
    for nb in sorted((ROOT/"nbs").glob("*.ipynb")):
        for k, source in enumerate(cells(nb)): found += over_limit(f"{nb.name} cell {k}", source)
    for path in [*(ROOT/"musicnet_ldm").glob("*.py"), *(ROOT/"tests").glob("*.py"), *(ROOT/"tools").glob("*.py")]:
        if path.name != "_modidx.py":            # nbdev's index of the package, not read by people
            found += over_limit(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
    assert not found, f"{len(found)} lines over {LINE_LIMIT} characters, e.g. {found[:5]}"
