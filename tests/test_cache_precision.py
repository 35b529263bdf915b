"""The cache cannot hold NaNs: its encoders run in fp32 or bf16 (weights cast, no autocast), its key names the dtype,
a non-finite shard is refused naming its clips, and batched prompt encoding equals one-at-a-time encoding."""
import json

import pytest
import torch
from diffusers import AudioLDM2Pipeline

from musicnet_ldm import cache
from musicnet_ldm.config import resolve
from musicnet_ldm.hub import tiny_audioldm2
from musicnet_ldm.fixture import make_fixture
from musicnet_ldm.musicnet import build_clip_index, build_prompt


@pytest.fixture(scope="module")
def pipe():
    return tiny_audioldm2()


@pytest.fixture(scope="module")
def musicnet_root(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "musicnet"
    return make_fixture(folder, recordings=3, seconds=12.0, seed=0, test_recordings=1)


@pytest.fixture(scope="module")
def clips(musicnet_root):
    return build_clip_index(musicnet_root, clip_seconds=2.56, eval_fraction=0.5).clips[:4]


def tensor_dtypes(pipe) -> dict:
    return {f"{n}.{k}": t.dtype for n in cache.ENCODERS for k, t in getattr(pipe, n).state_dict().items()}


def test_weights_have_the_encode_dtype_inside_the_block_and_theirs_after():
    half = tiny_audioldm2(dtype=torch.float16)            # as a pipeline loaded for fp16 sampling would be
    half.text_encoder_2.encoder.block[0].to(torch.float32)  # a module kept in fp32 (as transformers keeps T5's wo)
    before = tensor_dtypes(half)
    assert {torch.float16, torch.float32} <= set(before.values())
    for dtype in (torch.float32, torch.bfloat16):
        with cache.encoders_on(half, "cpu", dtype):
            floats = {k: d for k, d in tensor_dtypes(half).items() if d.is_floating_point}
            assert set(floats.values()) == {dtype}, sorted(set(floats.values()), key=str)
            assert not torch.is_autocast_enabled("cpu")
        assert tensor_dtypes(half) == before                   # every tensor back in its own dtype
    with pytest.raises(ValueError, match="fp32 or bf16"):
        with cache.encoders_on(half, "cpu", torch.float16): pass
    assert tensor_dtypes(half) == before


def test_bf16_builds_on_cpu_stores_fp32_and_has_its_own_key(pipe, musicnet_root, tmp_path):
    data = {"root": str(musicnet_root), "eval_fraction": 0.5, "cache_dir": str(tmp_path)}
    base = {"model": "tiny", "seed": 0, "data": data}
    cfgs = {p: resolve({**base, "data": {**data, "encode_precision": p}}) for p in ("no", "bf16")}
    assert cache.cache_dir_for(cfgs["no"]) != cache.cache_dir_for(cfgs["bf16"])
    assert cache.cache_settings(cfgs["no"])["encode_dtype"] == "float32"
    dtypes_before = tensor_dtypes(pipe)
    sets = {p: cache.training_data(cfg, pipe, log=lambda *a: None, device="cpu") for p, cfg in cfgs.items()}
    assert tensor_dtypes(pipe) == dtypes_before
    for p, dtype in (("no", "float32"), ("bf16", "bfloat16")):
        manifest = json.loads((cache.cache_dir_for(cfgs[p]) / "manifest.json").read_text())
        assert manifest["complete"] and manifest["built_on"]["dtype"] == dtype
    fp32, bf16 = (cache.CachedClipDataset(cache.cache_dir_for(cfgs[p]), latents="mean")[0] for p in ("no", "bf16"))
    # measured on the tiny model: latents 0.013, T5 0.005, GPT-2 0.15 (8 generated steps compound bf16's rounding)
    for k, tolerance in (("latents", 0.05), ("prompt_embeds", 0.05), ("generated_prompt_embeds", 0.3)):
        assert bf16[k].dtype == torch.float32                  # stored in fp32 whatever the encode dtype
        error = float((bf16[k] - fp32[k]).abs().max() / fp32[k].abs().max())
        assert 0 < error < tolerance, (k, error)              # really computed in bf16, and near fp32
    assert all(torch.isfinite(v).all() for v in sets["bf16"][2].values())


def nan_latents_for(pipe, monkeypatch, clip):
    "The VAE's encode returns a NaN posterior mean for `clip`'s log-mel, wherever it is in a batch."
    mel, real = cache.ClipMels([clip])[0], pipe.vae.encode
    def encode(x, *args, **kwargs):
        out = real(x, *args, **kwargs)
        out.latent_dist.mean[(x[:, 0] == mel.to(x)).flatten(1).all(1)] = float("nan")
        return out
    monkeypatch.setattr(pipe.vae, "encode", encode)


def test_a_nan_latent_names_its_clip_and_writes_no_shard(pipe, clips, tmp_path, monkeypatch):
    nan_latents_for(pipe, monkeypatch, clips[2])
    label = f"recording {clips[2].recording_id} at {clips[2].start_s:.2f} s ({clips[2].split} clip 2): latents_mean"
    with pytest.raises(FloatingPointError, match="in 1 of 4 items") as err:
        cache.build_cache(pipe, clips, tmp_path / "one", {"t": 1}, shard_size=4, log=None)
    assert label in str(err.value) and "shard_00000.safetensors" in str(err.value), str(err.value)
    assert not list((tmp_path / "one").glob("shard_*")) and not list((tmp_path / "one").glob(".*tmp"))
    assert not json.loads((tmp_path / "one" / "manifest.json").read_text())["complete"]
    with pytest.raises(FloatingPointError, match="shard_00001"):   # shards of two: the first kept, the second refused
        cache.build_cache(pipe, clips, tmp_path / "two", {"t": 1}, shard_size=2, log=None)
    assert sorted(p.name for p in (tmp_path / "two").glob("shard_*")) == ["shard_00000.json", "shard_00000.safetensors"]


def test_a_nan_in_the_conditioning_names_its_clip_and_tensor(pipe, clips, tmp_path, monkeypatch):
    real = cache.encode_text
    def nan_for(prompt):
        def encode_text(p, prompts, *args, **kwargs):
            out = real(p, prompts, *args, **kwargs)
            for c, text in zip(out, prompts):
                if text == prompt: c["generated_prompt_embeds"][3, 0] = float("nan")
            return out
        return encode_text
    monkeypatch.setattr(cache, "encode_text", nan_for(build_prompt(clips[1])))
    named = rf"recording {clips[1].recording_id} .*clip 1\): generated_prompt_embeds"
    with pytest.raises(FloatingPointError, match=named):
        cache.build_cache(pipe, clips, tmp_path / "c", {"t": 1}, shard_size=4, log=None)
    monkeypatch.setattr(cache, "encode_text", nan_for(""))
    with pytest.raises(FloatingPointError, match="the empty prompt: generated_prompt_embeds"):
        cache.build_cache(pipe, clips, tmp_path / "e", {"t": 1}, shard_size=4, log=None)
    assert not (tmp_path / "e" / "empty.safetensors").exists()


def test_an_on_the_fly_item_is_checked(pipe, clips, monkeypatch):
    nan_latents_for(pipe, monkeypatch, clips[3])
    named = rf"on-the-fly item: .*recording {clips[3].recording_id} .*clip 3\), epoch 0"
    with pytest.raises(FloatingPointError, match=named):
        cache.OnTheFlyClipDataset(pipe, clips)[3]


def test_batched_encoding_equals_one_at_a_time(pipe, clips):
    prompts = [build_prompt(c, style=s) for c in clips for s in ("clip", "seed")]
    prompts += ["a solo piano piece", "solo cello", "solo piano", "", "a string quartet by Beethoven in F major"]
    lengths = [len(ids) for ids in pipe.tokenizer_2(prompts, truncation=True)["input_ids"]]
    assert len(set(lengths)) > 3 and len(lengths) > len(set(lengths))   # several lengths, and some shared
    single = [cache.encode_text(pipe, [p])[0] for p in prompts]
    batched = cache.encode_text(pipe, prompts, batch_size=3)
    worst = {k: max(float((b[k].float() - s[k].float()).abs().max()) for b, s in zip(batched, single))
             for k in cache.COND_KEYS}
    print("batched vs one at a time, largest |difference|:", worst)
    for b, s in zip(batched, single):
        assert b.keys() == s.keys()
        for k in cache.COND_KEYS:
            assert b[k].shape == s[k].shape and b[k].dtype == s[k].dtype
            torch.testing.assert_close(b[k], s[k], rtol=1e-5, atol=1e-5)
    batches = cache._same_length_batches(pipe.tokenizer_2, prompts, 3)
    assert sorted(i for b in batches for i in b) == list(range(len(prompts))) and max(map(len, batches)) <= 3
    # why the batches are of one length: diffusers pads inside GPT-2's input, whose positions ignore the mask
    with torch.no_grad(): pe, am, gpe = AudioLDM2Pipeline.encode_prompt(pipe, prompts[:2], "cpu", 1, False)
    short = int(am.sum(1).argmin())
    padded = float((gpe[short] - single[short]["generated_prompt_embeds"]).abs().max())
    print("one mixed-length encode_prompt call, the padded prompt's GPT-2 output differs by", padded)
    assert lengths[0] != lengths[1] and padded > 0.1
