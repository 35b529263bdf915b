"""Run notebooks as `nbdev_test` does (cells marked `#| eval: false` are skipped) and keep their outputs in place,
so a reader on GitHub sees the printed results, small figures and players. `make outputs` runs it over nbs/;
`nbdev_clean` (the sync check) then strips only execution counts and metadata. Kept outputs carry no machine's path
and no stderr (warnings, progress bars): `reader_outputs`. `--scrub` applies that to the committed outputs without
running anything."""
import json, os, re, sys, tempfile, time
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory

ROOT = Path(__file__).resolve().parents[1]
MAX_OUTPUT_BYTES = 250_000     # an embedded 10 s clip (~430 kB of base64) is dropped; figures and prints stay
# a machine's paths, longest first: the repository (→ relative), the temporary folder (→ <tmp>), an installed package
MACHINE_PATHS = ((re.escape(str(ROOT)) + "/?", ""), (re.escape(tempfile.gettempdir()) + r"/tmp\w+", "<tmp>"),
                 (re.escape(tempfile.gettempdir()) + "/", "<tmp>/"), (r"/\S*/site-packages/", "<site-packages>/"),
                 # another checkout's outputs/
                 (r"(?<![\w.:/])/(?:work|home|root|Users|mnt|srv)/\S*?/(?=outputs/)", ""),
                 (r"(?<![\w.:/])/(?:work|home|root|Users|mnt|srv|tmp)/[^\s'\"`]*", "<path>"))


def skipped(cell) -> bool:
    "Markdown, and code cells that nbdev_test skips too (`#| eval: false`)."
    if cell.cell_type != "code": return True
    return any(line.replace(" ", "").lower() == "#|eval:false" for line in cell.source.splitlines())


def without_machine_paths(text: str) -> str:
    "`text` with the repository's path made relative and temporary or installed-package paths named, not spelled out."
    for pattern, name in MACHINE_PATHS: text = re.sub(pattern, name, text)
    return text


def reader_outputs(outputs: list) -> list:
    "The outputs a reader can afford on GitHub: no stderr, each under `MAX_OUTPUT_BYTES`, no machine's path."
    kept = [o for o in outputs if o.get("name") != "stderr" and len(json.dumps(o)) <= MAX_OUTPUT_BYTES]
    return [json.loads(without_machine_paths(json.dumps(o))) for o in kept]


def keep_outputs(path: Path) -> float:
    "Execute `path` in its own folder and write it back with its outputs; return the seconds it took."
    nb = read_nb(path)
    for cell in nb.cells:
        if cell.cell_type == "code": cell.outputs = []
    t0 = time.time()
    shell = CaptureShell(path)
    with working_directory(path.parent):
        shell.run_all(nb, exc_stop=True, preproc=skipped)
    scrub(nb)
    write_nb(nb, path)
    return time.time() - t0


def scrub(nb):
    "Replace every code cell's outputs by its `reader_outputs`."
    for cell in nb.cells:
        if cell.cell_type == "code": cell.outputs = reader_outputs(cell.outputs)
    return nb


if __name__ == "__main__":
    os.environ.setdefault("IN_TEST", "1")
    args = [a for a in sys.argv[1:] if a != "--scrub"]
    paths = [Path(p) for p in args] or sorted(Path("nbs").glob("*.ipynb"))
    for p in paths:
        if "--scrub" in sys.argv[1:]: write_nb(scrub(read_nb(p)), p)
        else: print(f"{p}: {keep_outputs(p.resolve()):.0f} s", flush=True)
