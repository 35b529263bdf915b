"""Run notebooks as `nbdev_test` does (cells marked `#| eval: false` are skipped) and keep their outputs in place,
so a reader on GitHub sees the printed results, small figures and players. `make outputs` runs it over nbs/;
`nbdev_clean` (the sync check) then strips only execution counts and metadata."""
import json, os, sys, time
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory


def skipped(cell) -> bool:
    "Markdown, and code cells that nbdev_test skips too (`#| eval: false`)."
    if cell.cell_type != "code": return True
    return any(line.replace(" ", "").lower() == "#|eval:false" for line in cell.source.splitlines())


MAX_OUTPUT_BYTES = 250_000     # an embedded 10 s clip (~430 kB of base64) is dropped; figures and prints stay


def small_outputs(outputs: list) -> list:
    "The outputs a reader can afford in a notebook on GitHub: each under `MAX_OUTPUT_BYTES` as JSON."
    return [o for o in outputs if len(json.dumps(o)) <= MAX_OUTPUT_BYTES]


def keep_outputs(path: Path) -> float:
    "Execute `path` in its own folder and write it back with its outputs; return the seconds it took."
    nb = read_nb(path)
    for cell in nb.cells:
        if cell.cell_type == "code": cell.outputs = []
    t0 = time.time()
    shell = CaptureShell(path)
    with working_directory(path.parent):
        shell.run_all(nb, exc_stop=True, preproc=skipped)
    for cell in nb.cells:
        if cell.cell_type == "code": cell.outputs = small_outputs(cell.outputs)
    write_nb(nb, path)
    return time.time() - t0


if __name__ == "__main__":
    os.environ.setdefault("IN_TEST", "1")
    paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("nbs").glob("*.ipynb"))
    for p in paths:
        print(f"{p}: {keep_outputs(p.resolve()):.0f} s", flush=True)
