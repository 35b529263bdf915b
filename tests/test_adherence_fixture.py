"""Note adherence on the synthetic MusicNet fixture: FluidSynth ensembles rendered from known labels.

The clip's own notes score high against its audio; the same audio judged against its notes transposed down an octave
and a tritone, and white noise, score low. Uses basic-pitch (installed by the Makefile)."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
fixture = pytest.importorskip("musicnet_ldm.fixture")
musicnet = pytest.importorskip("musicnet_ldm.musicnet")
from musicnet_ldm.adherence import NoteAdherence, get_transcriber, transpose
from musicnet_ldm.core import SAMPLE_RATE


def clip_audio(clip):
    import librosa, soundfile as sf
    info = sf.info(str(clip.wav_path))
    wav, sr = sf.read(str(clip.wav_path), start=int(clip.start_s * info.samplerate),
                      frames=int(clip.duration_s * info.samplerate), dtype="float32", always_2d=True)
    return librosa.resample(wav.mean(1), orig_sr=sr, target_sr=SAMPLE_RATE)


def test_note_adherence_on_fixture(tmp_path):
    root = fixture.make_fixture(tmp_path / "musicnet", recordings=3, seconds=11, seed=0, test_recordings=1)
    clips = musicnet.build_clip_index(root).clips
    assert len(clips) >= 2
    tr = get_transcriber("basic-pitch")
    scores = {}
    for case in ("match", "transposed", "noise"):
        m = NoteAdherence(tr)
        for clip in clips[:3]:
            notes = musicnet.clip_notes(clip)
            wav = clip_audio(clip)
            if case == "noise": wav = np.random.default_rng(0).normal(0, 0.1, len(wav)).astype(np.float32)
            m.update(wav, transpose(notes, -18) if case == "transposed" else notes, name=clip.key)
        r = m.compute()
        scores[case] = {k: r[k]["mean"] for k in NoteAdherence.keys}
    print(scores)
    assert scores["match"]["pitch_class_f1"] > 0.8 and scores["match"]["pitch_range_f1"] > 0.7 and scores["match"]["note_f1"] > 0.5
    for bad in ("transposed", "noise"):
        assert scores[bad]["pitch_class_f1"] < 0.5 and scores[bad]["note_f1"] < 0.2 and scores[bad]["pitch_range_f1"] < 0.5, (bad, scores)
