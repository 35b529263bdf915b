"""05e_evaluate as the pipeline runs it: papermill with the smoke preset on a run directory holding samples."""
import json, sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from musicnet_ldm.adherence import render_notes, transpose
from musicnet_ldm.audio import write_wav

pytestmark = pytest.mark.slow          # papermill

NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def prompt_of(notes, seconds):
    lo, hi = min(n["pitch"] for n in notes), max(n["pitch"] for n in notes)
    nm = lambda p: f"{NAMES[p % 12]}{p // 12 - 1}"
    return (f"Test piece. Instruments sounding: Acoustic Grand Piano. Pitch range {nm(lo)} to {nm(hi)}. "
            f"{len(notes)} notes in {seconds:.2f} seconds ({len(notes) / seconds:.1f} per second). Tempo about 120 "
            f"beats per minute.")


def write_system(run, system, notes_per_clip, shift=0, seconds=2.5):
    d = run / "samples" / system
    d.mkdir(parents=True)
    for k, notes in enumerate(notes_per_clip):
        write_wav(d / f"p{k}_s0.wav", render_notes(transpose(notes, shift), 0, seconds=seconds))
        (d / f"p{k}_s0.json").write_text(json.dumps({"prompt": prompt_of(notes, seconds),
                                                     "seed": None if system == "reference" else 0,
                                                     "prompt_set": "musicnet_test"}))
    if system == "reference":
        (d / "clips.json").write_text(json.dumps({"clips": {f"p{k}_s0": f"{k}_00000.00"
                                                            for k in range(len(notes_per_clip))}}))


def test_evaluate_notebook_smoke(tmp_path):
    pm = pytest.importorskip("papermill")
    notes = [[{"pitch": 60 + 2 * k + d, "onset_s": 0.5 * i, "offset_s": 0.5 * i + 0.4}
              for i, d in enumerate((0, 4, 7, 12))] for k in range(3)]
    run = tmp_path / "run"
    write_system(run, "reference", notes)
    write_system(run, "finetuned", notes)
    write_system(run, "pretrained", notes, shift=-18)
    pm.execute_notebook(str(ROOT / "nbs/05e_evaluate.ipynb"), str(tmp_path / "executed.ipynb"), cwd=str(ROOT),
                        parameters={"preset": "smoke", "output_dir": str(run)}, kernel_name="python3",
                        progress_bar=False)
    record = json.loads((run / "table1.json").read_text())
    rows = {r["system"]: r for r in record["rows"]}
    # the reference through the preset model's VAE and vocoder (`evaluate.reconstruct`, on by default)
    assert list(rows) == ["reference", "reconstructed", "pretrained", "finetuned"]
    assert rows["reconstructed"]["fad_logmel_n"] == 3 and np.isfinite(rows["reconstructed"]["fad_logmel"])
    assert record["protocol"]["fad"]["embeddings"] == ["logmel", "tiny"] and record["protocol"]["n_reference"] == 3
    # log-mel frames tell the transposed clips from the reference (the
    # fine-tuned clips are the reference's own, FAD ≈ 0)
    fads = rows["finetuned"]["fad_logmel"], rows["pretrained"]["fad_logmel"]
    assert fads[0] < fads[1] / 10, fads
    assert rows["finetuned"]["pitch_range_f1"] > rows["pretrained"]["pitch_range_f1"] + 0.5
    assert rows["finetuned"]["pitch_range_f1_margin"] > 0.2 and "LUFS" in record["protocol"]["loudness"]
    pair = next(p for p in record["paired"]
                if (p["a"], p["b"], p["metric"]) == ("finetuned", "pretrained", "pitch_range_f1"))
    assert pair["n"] == 3 and pair["ci"][0] > 0
    assert rows["finetuned"]["ovl"] is None and "not rated" in (run / "table1.md").read_text()
    assert (run / "listening" / "listening_test.html").is_file() and (run / "table1.tex").is_file()
    assert (run / "figures" / "table1.png").is_file()
