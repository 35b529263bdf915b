"""Fast unit tests of the pieces every stage leans on — settings, statistics, Table 1's formatting — for
`make test-fast`. The notebooks test the same functions beside their definitions; these run without a kernel."""
import numpy as np
import pandas as pd
import pytest
from scipy import linalg

from musicnet_ldm.config import (ConfigError, TrainConfig, as_dict, config_hash, describe, from_dict, load_config,
                                 setting_names)
from musicnet_ldm.evaluate import _fmt, _rows_to_tex, sampling_settings
from musicnet_ldm.metrics import (EmbeddingStats, cluster_bootstrap_ci, fad_from_stats, frechet_distance, mean_ci,
                                  proportion_ci)


def test_presets_resolve_with_every_section():
    smoke, full = load_config("smoke"), load_config("full")
    for cfg in (smoke, full):
        assert {"data", "train", "generate", "evaluate", "distill"} <= set(as_dict(cfg))
    assert smoke.model == "standin" and full.model == "cvssp/audioldm2-music"
    assert config_hash(smoke) != config_hash(full) and config_hash(smoke) == config_hash(load_config("smoke"))


def test_overrides_are_checked_by_name_and_range():
    assert load_config("smoke", {"train.lr": 1e-3}).train.lr == 1e-3
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['epoch'\] in train"):
        from_dict(TrainConfig, {"epoch": 3}, "train")
    with pytest.raises(ConfigError, match="epochs must be int ≥ 1"):
        from_dict(TrainConfig, {"epochs": -1}, "train")
    assert "lr" in setting_names("train") and "lr" in describe(TrainConfig)


def test_frechet_distance_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1, s2, mu1, mu2 = a @ a.T + np.eye(4), b @ b.T + np.eye(4), rng.normal(size=4), rng.normal(size=4)
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-6)


def test_fad_grows_with_a_shift_of_the_mean():
    rng = np.random.default_rng(1)
    ref = EmbeddingStats.from_embeddings([rng.normal(size=(50, 8)) for _ in range(20)])
    near = EmbeddingStats.from_embeddings([rng.normal(size=(50, 8)) for _ in range(20)])
    far = EmbeddingStats.from_embeddings([rng.normal(size=(50, 8)) + 1.0 for _ in range(20)])
    assert fad_from_stats(near, ref) < 0.1 < 7.0 < fad_from_stats(far, ref)          # a shift of 1 in 8 dims: ≈ 8


def test_intervals_cover_and_cluster():
    m, lo, hi = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert lo < m == 2.5 < hi
    low, high = proportion_ci(8, 10)
    assert low == pytest.approx(0.490, abs=1e-3) and high == pytest.approx(0.943, abs=1e-3)
    values = np.repeat([0.0, 1.0, 2.0, 3.0], 10)                  # 4 clusters of 10 identical rows
    wide = cluster_bootstrap_ci(values, np.repeat(list("abcd"), 10), n_boot=300)
    narrow = cluster_bootstrap_ci(values, n_boot=300)            # rows taken as independent: too narrow
    assert wide["n_clusters"] == 4 and (wide["ci"][1] - wide["ci"][0]) > 2 * (narrow["ci"][1] - narrow["ci"][0])


def test_table1_formatting():
    assert _fmt(0.12345, 0.1, 0.2, 24) == "0.123 [0.100, 0.200] (N=24)"
    assert _fmt(None) == "—" and _fmt(float("nan")) == "—"
    tex = _rows_to_tex(pd.DataFrame({"FAD_vggish": ["1 & 2"], "note": ["50% #1"]}))
    assert "FAD\\_vggish" in tex and "1 \\& 2" in tex and "50\\% \\#1" in tex and tex.count("\\\\") >= 2
    clips = [{"steps": 20, "guidance_scale": 3.5, "seed": 0}, {"steps": 20, "guidance_scale": 3.5, "seed": 1}]
    settings = sampling_settings(clips)
    assert settings["steps"] == 20 and settings["guidance_scale"] == 3.5


# A 2.56 s clip (the smoke preset's) goes through the VAE at its own 256 mel frames, not padded to 10.24 s: a VAE
# normalises over the whole mel, so padding changes the latents of the music itself, while generation decodes
# latents of the clip's own length (nbs/01d_cache.ipynb, "Clip length", measures it on the stand-in).
def test_the_cache_encodes_a_clip_at_its_own_length(tmp_path):
    "What the VAE sees of a 2.56 s clip is the clip: 256 mel frames."
    from musicnet_ldm.audio import write_wav
    from musicnet_ldm.cache import ClipMels
    from musicnet_ldm.musicnet import Clip
    sr = 44_100
    t = np.arange(3 * sr) / sr
    path = write_wav(tmp_path/"1.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    clip = Clip(1, "train", 0.0, 2.56, path, pd.DataFrame(), {})
    assert tuple(ClipMels([clip])[0].shape) == (256, 64)
    assert tuple(ClipMels([clip], vae_scale_factor=8)[0].shape) == (256, 64)     # 256 frames: already a multiple of 8
