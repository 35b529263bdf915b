"""`python -m musicnet_ldm.generate` on a saved tiny pipeline folder, offline: clips, sidecars, resume, bad input."""
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "musicnet_ldm.generate", *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow          # the generate stage twice in a subprocess
def test_cli(tmp_path):
    import torch
    torch.set_num_threads(1)
    from musicnet_ldm.hub import tiny_audioldm2
    from musicnet_ldm.generate import SIDECAR_KEYS, weights_sha256
    ckpt = tmp_path / "ckpt"
    tiny = tiny_audioldm2(seed=3)
    tiny.save_pretrained(ckpt)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# two prompts\nA solo cello suite.\n\nA harpsichord sonata.\n")
    args = ["--model", ckpt, "--prompts", prompts, "--seeds", 0, 1, "--steps", 2, "--length", 2.56, "--out",
            tmp_path / "run",
            "--system", "finetuned", "--batch-size", 3, "--quiet"]
    r = cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    wavs = sorted((tmp_path / "run" / "samples" / "finetuned").glob("*.wav"))
    assert [w.stem for w in wavs] == ["000_a-solo-cello-suite_s0", "000_a-solo-cello-suite_s1",
                                      "001_a-harpsichord-sonata_s0", "001_a-harpsichord-sonata_s1"]
    for w in wavs:
        audio, sr = sf.read(w, dtype="float32")
        assert sr == 16_000 and audio.shape == (256 * 160,) and np.isfinite(audio).all() and np.abs(audio).max() > 0
        meta = json.loads(w.with_suffix(".json").read_text())
        assert set(SIDECAR_KEYS) <= set(meta) and meta["model"] == str(ckpt) and meta["steps"] == 2
    assert meta["weights_sha256"] == weights_sha256(tiny)
    assert not np.array_equal(sf.read(wavs[0])[0], sf.read(wavs[1])[0])          # seeds differ
    # resume: nothing to do, nothing rewritten
    mtimes = [w.stat().st_mtime_ns for w in wavs]
    r = cli(*args)
    assert r.returncode == 0 and "4 clips" in r.stdout, r.stderr[-3000:]
    assert [w.stat().st_mtime_ns for w in wavs] == mtimes


def test_cli_bad_input(tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("A solo piano piece.\n")
    r = cli("--model", "cvssp/not-a-cached-model", "--prompts", prompts, "--out", tmp_path / "out")
    assert r.returncode == 2 and "huggingface-cli download cvssp/not-a-cached-model" in r.stderr
    (tmp_path / "empty").mkdir()
    r = cli("--model", tmp_path / "empty", "--prompts", prompts, "--out", tmp_path / "out")
    assert r.returncode == 2 and "model_index.json is missing" in r.stderr
    r = cli("--model", "tiny", "--prompts", tmp_path / "missing.txt", "--out", tmp_path / "out")
    assert r.returncode == 2 and "missing.txt does not exist" in r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
