"""The README and the research record as documentation: the README's length and sections, no machine paths, every
number of docs/research.md rendered from committed JSON (tools/record.py), and the README's quick start run as
written."""
import json, os, re, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/"tools"))
import readme, record                                           # tools/readme.py, tools/record.py

SECTIONS = ["What it produces", "Install and run", "Quick start in Python", "On a GPU", "Data and weights",
            "Configuration", "Notebooks and modules", "What differs from the paper", "Licences", "Development"]
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|tmp|home|root|Users|mnt|srv|private)/")
# digits that name things rather than measure them: dtypes, models, GPUs, the interval's level
NAMED = re.compile(r"\b(?:b?float|fp|bf)\d+\b|AudioLDM2|GPT-2|FLAN-T5|\b[AH]100\b|\bL1\b|95 %")
CODE_OR_LINK = re.compile(r"`[^`]*`|\]\([^)]*\)")


def prose_digits(line: str) -> list:
    "The digits of `line` outside code spans, link targets and `NAMED` things."
    return re.findall(r"\d", NAMED.sub("", CODE_OR_LINK.sub("", line)))


def test_readme_length_and_sections():
    text = (ROOT/"README.md").read_text(encoding="utf-8")
    assert 110 <= len(text.splitlines()) <= 160, f"README.md has {len(text.splitlines())} lines"
    assert text.startswith("# musicnet-ldm\n")
    assert re.findall(r"^## (.+)$", text, flags=re.M) == SECTIONS
    assert "](docs/research.md)" in text and "nbs/results/learning/standin_seed0.png" in text


def test_no_machine_paths():
    files = [ROOT/"README.md", record.RECORD, record.TEMPLATE, *sorted((ROOT/"docs"/"results").glob("*.json"))]
    for f in files:
        hits = MACHINE_PATH.findall(f.read_text(encoding="utf-8"))
        assert not hits, f"{f.relative_to(ROOT)} names a machine's path: {hits}"
    assert MACHINE_PATH.search("see /tmp/x and /work/main/y")
    assert not MACHINE_PATH.search("outputs/<run_id>/ and a/tmp/b")


def test_committed_files_are_rendered():
    for path, text in readme.rendered().items():
        stale = f"{path.relative_to(ROOT)} is stale: run python tools/readme.py"
        assert path.read_text(encoding="utf-8") == text, stale


def test_template_types_no_number():
    "The template's prose carries no digit: every number comes in through a placeholder."
    for i, line in enumerate(record.TEMPLATE.read_text(encoding="utf-8").splitlines(), 1):
        assert not prose_digits(record.PLACEHOLDER.sub("", line)), f"{record.TEMPLATE.name}:{i} types a number: {line}"
    assert prose_digits("a 0.3 gain, `x = 2`, fp16 and GPT-2") == ["0", "3"]


def perturbed(x, key=None):
    "`x` with every number moved (floats scaled and shifted, counts + 1) and numeric keys shifted; structure kept."
    if isinstance(x, dict):
        return {(str(int(k) + 7) if k.isdigit() else k): perturbed(v, k) for k, v in x.items()}
    if isinstance(x, list): return [perturbed(v, key) for v in x]
    if isinstance(x, bool) or key == "batch": return x                 # bench's table looks up batches 1 and 2
    if isinstance(x, int): return round(x * 1.37) + 1               # scaled: FLOP counts print in TFLOP
    if isinstance(x, float): return x * 1.37 + 0.011
    return x


def perturbed_sources(tmp: Path) -> record.Sources:
    "Copies of the committed JSON with every number moved, the learning runs under other seeds."
    src = record.Sources()
    (tmp/"learning").mkdir()
    for p in src.learning_dir.glob("standin_seed*"):
        seed = int(re.search(r"seed(\d+)", p.stem).group(1))
        out = tmp/"learning"/p.name.replace(f"seed{seed}", f"seed{seed + 10}")
        if p.suffix == ".json": out.write_text(json.dumps(perturbed(json.loads(p.read_text()))))
        else: shutil.copy(p, out)
    for name, p in (("standin.json", src.standin), ("projection.json", ROOT/"docs"/"results"/"projection.json"),
                    ("media.json", src.media)):
        (tmp/name).write_text(json.dumps(perturbed(json.loads(p.read_text()))))
    return record.Sources(learning_dir=tmp/"learning", standin=tmp/"standin.json", projection=tmp/"projection.json",
                          media=tmp/"media.json")


def test_every_number_is_rendered(tmp_path):
    "Moving every number of the JSON changes every line of docs/research.md that shows a number, and no other line."
    before = record.record_text().splitlines()
    after = record.record_text(perturbed_sources(tmp_path)).splitlines()
    assert len(before) == len(after)
    numbered = [i for i, line in enumerate(before) if prose_digits(line)]
    assert len(numbered) > 60, f"only {len(numbered)} lines with numbers"
    for i, (a, b) in enumerate(zip(before, after)):
        if i in numbered: assert a != b, f"research.md line {i + 1} did not follow the JSON: {a}"
        else: assert CODE_OR_LINK.sub("", a) == CODE_OR_LINK.sub("", b), f"research.md line {i + 1} changed: {a}"


def test_readme_status_is_rendered(tmp_path):
    before, after = readme.readme_text(), readme.readme_text(sources=perturbed_sources(tmp_path))
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(changed) == 1 and "direction checks met at seeds" in changed[0][0], changed


def test_renderer_names_what_is_missing(tmp_path):
    with pytest.raises(KeyError, match="no_such_value"): record.fill("a {{no_such_value}} b", {})
    assert record.fill("{{x}} and {{x}}", {"x": "1"}) == "1 and 1"
    with pytest.raises(SystemExit, match="no committed learning runs"): record.learning_runs(tmp_path)


def quickstart_block() -> str:
    "The README's Python quick start, as written."
    text = (ROOT/"README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start in Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the quick start has one python block"
    return blocks[0]


@pytest.mark.slow          # the smoke fixture, its cache, 8 fine-tuning steps, 28 clips and Table 1 in a subprocess
def test_quickstart_runs(tmp_path):
    "The README's quick start, verbatim, in a fresh interpreter whose repository root is a temporary folder."
    for name in ("params", "prompts"): (tmp_path/name).symlink_to(ROOT/name)
    shutil.copy(ROOT/"settings.ini", tmp_path)
    (tmp_path/"quickstart.py").write_text(quickstart_block())
    env = {**os.environ, "MUSICNET_LDM_ROOT": str(tmp_path), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "quickstart.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path/"outputs"/"quickstart"
    assert len(list((run/"one").glob("*.wav"))) == 1
    assert (run/"finetune"/"best"/"model_index.json").is_file()
    clips = {system: len(list((run/"samples"/system).glob("*.wav"))) for system in ("pretrained", "finetuned")}
    assert clips["pretrained"] == clips["finetuned"] > 4, clips
    table = (run/"table1.md").read_text()
    assert "Fine-tuned" in r.stdout and table.strip() in r.stdout and "FAD logmel" in table


def test_readme_links_resolve_and_media_is_small():
    "Every relative link and image of the README exists; the smoke run's media (tools/media.py) is small and named."
    text = (ROOT/"README.md").read_text(encoding="utf-8")
    targets = [t for t in re.findall(r"\]\(([^)#\s]+)\)", text) if not re.match(r"\w+://", t)]
    assert "docs/media/fig4_5.jpg" in targets and "docs/media/finetuned.ogg" in targets
    missing = [t for t in targets if not (ROOT/t).exists()]
    assert not missing, f"README links to missing files: {missing}"
    media = json.loads((ROOT/"docs"/"media"/"media.json").read_text())
    for name in media["files"].values():
        assert (ROOT/"docs"/"media"/name).stat().st_size < 200_000, name       # kept in git: small, low bitrate
    assert {"run_id", "preset", "model", "prompt", "seed"} <= set(media)
