"""Prompt adherence on the synthetic MusicNet fixture: FluidSynth ensembles rendered from known labels.

`prompt_facts` reads back exactly what `musicnet.build_prompt` wrote (instruments, range, density, tempo). Each clip's
real audio scores above its chance level (the other clips' prompts); near misses — the clip's notes a fifth higher,
and at a third of the density — lose on the column that states the changed fact. Uses basic-pitch (Makefile)."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
fixture = pytest.importorskip("musicnet_ldm.fixture")
musicnet = pytest.importorskip("musicnet_ldm.musicnet")
from musicnet_ldm.adherence import (PromptAdherence, get_transcriber, observe, prompt_facts, render_notes, score_facts,
                                    transpose)
from musicnet_ldm.core import SAMPLE_RATE


def clip_audio(clip):
    import librosa, soundfile as sf
    info = sf.info(str(clip.wav_path))
    wav, sr = sf.read(str(clip.wav_path), start=int(clip.start_s * info.samplerate),
                      frames=int(clip.duration_s * info.samplerate), dtype="float32", always_2d=True)
    return librosa.resample(wav.mean(1), orig_sr=sr, target_sr=SAMPLE_RATE)


def test_prompt_adherence_on_fixture(tmp_path):
    root = fixture.make_fixture(tmp_path / "musicnet", recordings=3, seconds=11, seed=0, test_recordings=1)
    clips = musicnet.build_clip_index(root).clips
    assert len(clips) >= 3
    tr = get_transcriber("basic-pitch")
    m = PromptAdherence(tr, n_boot=200)
    for clip in clips[:3]:
        prompt, notes = musicnet.build_prompt(clip), musicnet.clip_notes(clip)
        facts = prompt_facts(prompt)
        assert set(facts["instruments"]) == {n["instrument"] for n in notes}
        assert facts["pitch_range"] == [min(n["pitch"] for n in notes), max(n["pitch"] for n in notes)]
        assert "notes_per_s" in facts and "timed_notes" not in facts
        m.update(clip_audio(clip), prompt, name=clip.key)
    r = m.compute()
    print({k: {kk: r[k][kk] for kk in ("mean", "chance", "margin", "margin_ci")}
           for k in ("pitch_range_f1", "density_ratio", "tempo_acc2")})
    assert r["pitch_range_f1"]["mean"] > 0.7 and r["pitch_range_f1"]["margin"] > 0.1
    assert r["density_ratio"]["mean"] > 0.5
    # near misses of the first clip, rendered on piano (its prompt's range and density are what is checked)
    clip = clips[0]; notes = musicnet.clip_notes(clip); facts = prompt_facts(musicnet.build_prompt(clip))
    render = lambda ns: render_notes(ns, 0, seconds=clip.duration_s)
    s = {case: score_facts(facts, observe(render(ns), tr)) for case, ns in
         {"match": notes, "fifth": transpose(notes, 7), "sparse": notes[::3]}.items()}
    print(s)
    assert s["fifth"]["pitch_range_f1"] < s["match"]["pitch_range_f1"] - 0.1
    assert s["sparse"]["density_ratio"] < s["match"]["density_ratio"] - 0.2
    assert abs(s["fifth"]["density_ratio"] - s["match"]["density_ratio"]) < 0.2
