"""`python -m musicnet_ldm.fixture` (and the `musicnet-ldm-fixture` console script): layout, formats, round trip,
errors."""
import json, os, shutil, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def cli(*args, env=None, exe=None):
    cmd = [exe] if exe else [sys.executable, "-m", "musicnet_ldm.fixture"]
    return subprocess.run(cmd + [str(a) for a in args], cwd=ROOT, env=env or ENV, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow          # three CLI subprocesses, two FluidSynth renders
def test_cli_writes_musicnet(tmp_path):
    from musicnet_ldm.musicnet import (LABEL_COLUMNS, METADATA_COLUMNS, build_clip_index, find_musicnet, read_labels,
                                       read_metadata)
    out = tmp_path / "fx"
    r = cli("--out", out, "--recordings", 3, "--seconds", 11, "--seed", 5, "--test-recordings", 1)
    assert r.returncode == 0, r.stderr
    assert "3 recordings" in r.stdout and str(out) in r.stdout
    paths = find_musicnet(out)
    meta = read_metadata(paths.metadata)
    assert list(pd.read_csv(paths.metadata).columns) == METADATA_COLUMNS
    assert len(meta) == 3 and all(1000 <= i <= 9999 for i in meta.index)
    wavs = {s: sorted((out / f"{s}_data").glob("*.wav")) for s in ("train", "test")}
    assert len(wavs["train"]) == 2 and len(wavs["test"]) == 1
    for s, files in wavs.items():
        for w in files:
            info = sf.info(str(w))
            assert (info.samplerate, info.channels, info.frames) == (44100, 1, 11 * 44100)
            csv = out / f"{s}_labels" / f"{w.stem}.csv"
            assert list(pd.read_csv(csv).columns) == LABEL_COLUMNS
            lab = read_labels(csv)
            assert len(lab) > 0 and (lab.start_s == lab.start_time / 44100).all() and lab.end_s.max() <= 11
    index = build_clip_index(out)
    assert index.skipped == [] and {c.split for c in index} == {"train", "eval", "test"}
    # same arguments again: the existing fixture is reused; --overwrite rebuilds it identically
    stamp = (out / "fixture.json").stat().st_mtime_ns
    assert cli("--out", out, "--recordings", 3, "--seconds", 11, "--seed", 5, "--test-recordings", 1).returncode == 0
    assert (out / "fixture.json").stat().st_mtime_ns == stamp
    before = {p.name: p.read_text() for p in (out / "train_labels").glob("*.csv")}
    assert cli("--out", out, "--recordings", 3, "--seconds", 11, "--seed", 5, "--test-recordings", 1,
               "--overwrite").returncode == 0
    assert {p.name: p.read_text() for p in (out / "train_labels").glob("*.csv")} == before
    assert json.loads((out / "fixture.json").read_text())["params"]["seed"] == 5


@pytest.mark.slow          # four CLI subprocesses
def test_cli_errors(tmp_path):
    r = cli("--out", tmp_path / "a", "--recordings", 0)
    assert r.returncode == 2 and "at least 1 recording" in r.stderr
    r = cli("--out", tmp_path / "b", "--recordings", 2, "--test-recordings", 3)
    assert r.returncode == 2 and "test_recordings=3" in r.stderr
    r = cli("--out", tmp_path / "c", "--recordings", 1, "--seconds", 2,
            env={**ENV, "MUSICNET_LDM_SOUNDFONT": str(tmp_path / "none.sf2")})
    assert r.returncode == 2 and "none.sf2 does not exist" in r.stderr
    (tmp_path / "d").mkdir(); (tmp_path / "d" / "keep.txt").write_text("mine")
    r = cli("--out", tmp_path / "d", "--recordings", 1, "--seconds", 2)
    assert r.returncode == 2 and "is not a fixture" in r.stderr and (tmp_path / "d" / "keep.txt").read_text() == "mine"


def test_console_script(tmp_path):
    exe = shutil.which("musicnet-ldm-fixture", path=str(Path(sys.executable).parent))
    assert exe, "the console script musicnet-ldm-fixture is not installed: `pip install -e .`"
    r = cli("--out", tmp_path / "fx", "--recordings", 1, "--seconds", 3, "--seed", 1, "--test-recordings", 0, exe=exe)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "fx" / "train_data").glob("*.wav"))) == 1
