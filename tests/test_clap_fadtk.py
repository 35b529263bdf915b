"""LAION-CLAP music as fadtk computes it, on a small randomly initialised laion_clap model built offline.

The model is laion_clap's own (`clap_module.create_model`, HTSAT-tiny audio branch, a one-layer RoBERTa text branch of
the real width); the text tokenizer is a RobertaTokenizer over a byte-level BPE vocabulary built here, because
roberta-base's files cannot be downloaded offline. fadtk (installed `--no-deps` by the Makefile) imports with a
stand-in for torchaudio, which it uses only to load and resample files — not called here: the test feeds both the
same 48 kHz arrays. Compared: fadtk's `CLAPLaionModel._get_embedding` (10 s windows, 1 s hop, int16 round trip) and
its `calc_embd_statistics` / `calc_frechet_distance` against our embedder and metrics on the same audio."""
import importlib.machinery, importlib.util, sys, types

import numpy as np
import pytest
import torch

from musicnet_ldm.embeddings import LaionClapEmbedder, build_laion_clap, import_clap_module
from musicnet_ldm.metrics import EmbeddingStats, frechet_distance

pytestmark = pytest.mark.skipif(importlib.util.find_spec("laion_clap") is None,
                                reason="make install (laion-clap --no-deps)")
# (not importorskip: importing `laion_clap` itself runs hook.py, which
# needs the training-only packages we do not install)


@pytest.fixture(scope="module")
def tiny_laion(tmp_path_factory):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaTokenizer
    d = tmp_path_factory.mktemp("roberta_bpe")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["a calm piano piece", "a string quartet in E minor: violin, viola and cello"] * 4,
                            vocab_size=300,
                            min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(d))
    tok = RobertaTokenizer(str(d / "vocab.json"), str(d / "merges.txt"))
    # a broken offline tokenizer would not get past here
    assert len(tok) == bpe.get_vocab_size() and tok.pad_token_id == 1
    torch.manual_seed(0)
    text = RobertaConfig(vocab_size=len(tok), hidden_size=768, num_hidden_layers=1, num_attention_heads=12,
                         intermediate_size=256,
                         max_position_embeddings=80, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1)
    model, cfg = build_laion_clap("HTSAT-tiny", text)
    assert cfg["audio_cfg"]["clip_samples"] == 480_000 and "laion_clap.hook" not in sys.modules
    return LaionClapEmbedder(model=model, tokenizer=tok, device="cpu")


def import_fadtk():
    "fadtk with a stand-in torchaudio (fadtk.fad imports it for file loading only), removed again after the import."
    if importlib.util.find_spec("fadtk") is None: pytest.skip("fadtk not installed (make install)")
    shim = None
    if importlib.util.find_spec("torchaudio") is None:
        shim = types.ModuleType("torchaudio"); shim.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        sys.modules["torchaudio"] = shim
    try: import fadtk
    finally:
        if shim is not None: sys.modules.pop("torchaudio", None)
    return fadtk


class _HookLike:
    """laion_clap's `CLAP_Module.get_audio_embedding_from_data(x, use_tensor=True)` for 480,000-sample windows (no crop,
    no fill)."""
    def __init__(self, model): self.model = model
    def get_audio_embedding_from_data(self, x, use_tensor=True):
        assert use_tensor and x.shape[1] == 480_000
        return self.model.get_audio_embedding([{"longer": torch.tensor([False]), "waveform": w} for w in x])


def test_forward_audio_and_text(tiny_laion):
    wav = np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32)          # 1 s at 16 kHz
    frames = tiny_laion.embed([wav])[0]
    assert frames.shape == (1, 512) and np.allclose(np.linalg.norm(frames, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(tiny_laion.embed_clip([wav]), frames, atol=1e-6)            # one window: the clip vector
    text = tiny_laion.embed_text(["a calm piano piece", "violin"])
    assert text.shape == (2, 512) and np.allclose(np.linalg.norm(text, axis=1), 1, atol=1e-5)
    assert len(tiny_laion._windows(np.zeros(int(10.24 * 48_000)))) == 11                    # fadtk: a window per second


def test_embeddings_and_fad_match_fadtk(tiny_laion):
    fadtk = import_fadtk()
    # no checkpoint download: our model
    ml = fadtk.CLAPLaionModel.__new__(fadtk.CLAPLaionModel)
    ml.sr, ml.device, ml.model = 48_000, torch.device("cpu"), _HookLike(tiny_laion.model)
    rng = np.random.default_rng(1)
    t = np.arange(int(1.5 * 48_000)) / 48_000
    sets = {"ref": [rng.normal(0, 0.1 * (1 + k), len(t)).astype(np.float32) for k in range(2)],
            "gen": [(0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (220.0, 880.0)]}
    ours = {n: tiny_laion.embed(w, sr=48_000) for n, w in sets.items()}
    theirs = {n: [ml._get_embedding(x).numpy() for x in w] for n, w in sets.items()}
    for n in sets:
        for a, b in zip(ours[n], theirs[n]):
            # 1.5 s: windows at 0 s and 1 s
            assert a.shape == b.shape == (2, 512)
            np.testing.assert_allclose(a, b, atol=1e-5)
    stats = {n: EmbeddingStats.from_embeddings(ours[n]) for n in sets}
    ft = {n: fadtk.calc_embd_statistics(np.concatenate(theirs[n])) for n in sets}
    for n in sets:
        np.testing.assert_allclose(stats[n].mu, ft[n][0], atol=1e-6)
        np.testing.assert_allclose(stats[n].sigma, ft[n][1], atol=1e-6)
    fd_ours = frechet_distance(stats["gen"].mu, stats["gen"].sigma, stats["ref"].mu, stats["ref"].sigma)
    fd_fadtk = fadtk.calc_frechet_distance(ft["ref"][0], ft["ref"][1], ft["gen"][0], ft["gen"][1])
    print(f"FD ours {fd_ours:.6f}, fadtk {fd_fadtk:.6f}")
    assert np.isclose(fd_ours, fd_fadtk, rtol=1e-5, atol=1e-7)
