"""The null of conditioning dropout (`train.cond_null`). `audioldm2` must be AudioLDM2's own training null, rebuilt here
from the original code (haoheliu/AudioLDM2), not from ours: in `latent_diffusion/models/ddpm.py`,
`LatentDiffusion.get_input` asks each condition model for `get_unconditional_condition(batchsize)` with probability
`unconditional_prob_cfg`; in `latent_diffusion/modules/encoders/modules.py`, GPT-2's sequence
(`SequenceGenAudioMAECond`) is `AudioMAEConditionCTPoolRand`'s zeros with a mask of ones and the T5 sequence is
`FlanT5HiddenState`'s encoding of "" with a mask of ones. `pipeline` must be `encode_prompt("")`. A dropped item in a
batch of padded T5 sequences must give the UNet's output for the null alone."""
import pytest
import torch
from diffusers import AudioLDM2Pipeline

from musicnet_ldm.cache import collate
from musicnet_ldm.config import resolve
from musicnet_ldm.finetune import ConditionedUNet, drop_conditioning, load_training_data, training_null
from musicnet_ldm.model import load_pipeline


@pytest.fixture(scope="module")
def pipe():
    torch.set_num_threads(1)
    return load_pipeline("tiny", device="cpu", dtype=torch.float32)


@torch.no_grad()
def original_t5_null(pipe, batchsize: int = 1):
    "FlanT5HiddenState.get_unconditional_condition: encode_text([\"\"]) repeated, `.float()`, a float mask of ones."
    batch = pipe.tokenizer_2([""], max_length=128, padding=True, truncation=True, return_tensors="pt")   # encode_text's
    empty = pipe.text_encoder_2(input_ids=batch.input_ids, attention_mask=batch.attention_mask)[0]
    hidden = torch.cat([empty] * batchsize).float()
    return hidden, torch.ones((batchsize, hidden.size(1))).float()


def original_gpt2_null(width: int, batchsize: int = 1, eval_time_pooling: int = 8, eval_freq_pooling: int = 8):
    """AudioMAEConditionCTPoolRand.get_unconditional_condition, which SequenceGenAudioMAECond passes on with a mask of
    ones: `token_num` zero vectors, 512 / (8 · 8) = 8 with AudioLDM2's eval pooling; 768 wide there (GPT-2's width)."""
    time_pool, freq_pool = min(eval_time_pooling, 64), min(eval_freq_pooling, 8)
    token_num = int(512 / (time_pool * freq_pool))
    zeros = torch.zeros((batchsize, token_num, width)).float()
    return zeros, torch.ones((batchsize, token_num)).float()


def test_audioldm2_null_is_the_originals(pipe):
    ours = training_null(pipe, "audioldm2")
    t5, t5_mask = original_t5_null(pipe)
    gpt2, _ = original_gpt2_null(pipe.language_model.config.n_embd)
    assert torch.equal(ours["prompt_embeds"], t5[0])
    assert torch.equal(ours["attention_mask"].float(), t5_mask[0])
    assert torch.equal(ours["generated_prompt_embeds"], gpt2[0])
    assert ours["generated_prompt_embeds"].shape == (8, pipe.language_model.config.n_embd)
    # the same lengths as the conditioning the cache stores for every prompt
    pe, am, gpe = AudioLDM2Pipeline.encode_prompt(pipe, ["a string quartet"], "cpu", 1, False)
    assert ours["generated_prompt_embeds"].shape == gpe[0].shape and ours["prompt_embeds"].shape[1] == pe.shape[2]
    assert ours["attention_mask"].dtype == am.dtype


def test_pipeline_null_is_encode_prompt_of_the_empty_prompt(pipe):
    ours = training_null(pipe, "pipeline")
    pe, am, gpe = AudioLDM2Pipeline.encode_prompt(pipe, [""], "cpu", 1, False)
    assert torch.equal(ours["prompt_embeds"], pe[0]) and torch.equal(ours["attention_mask"], am[0])
    assert torch.equal(ours["generated_prompt_embeds"], gpe[0])
    assert not torch.equal(gpe[0], training_null(pipe, "audioldm2")["generated_prompt_embeds"])   # the two nulls differ


@torch.no_grad()
def test_a_dropped_item_gives_the_unets_output_for_the_null_alone(pipe):
    prompts = ["a solo piano piece", "a string quartet playing a slow movement in D minor by Beethoven"]
    pe, am, gpe = AudioLDM2Pipeline.encode_prompt(pipe, prompts, "cpu", 1, False)
    lengths = am.sum(1).tolist()
    items = [{"latents": torch.randn(8, 16, 16), "prompt_embeds": pe[i, :n], "attention_mask": am[i, :n],
              "generated_prompt_embeds": gpe[i], "prompt": prompts[i]} for i, n in enumerate(lengths)]
    batch = collate(items)
    null = training_null(pipe, "audioldm2")
    assert batch["prompt_embeds"].shape[1] > null["prompt_embeds"].shape[0]       # the null sits in a padded sequence
    dropped = drop_conditioning(batch, null, 1.0, torch.Generator().manual_seed(0))
    unet = ConditionedUNet(pipe.unet).eval()
    x, t = torch.randn(2, 8, 16, 16, generator=torch.Generator().manual_seed(1)), torch.tensor([100, 900])
    out = unet(x, t, dropped["generated_prompt_embeds"], dropped["prompt_embeds"], dropped["attention_mask"])
    t5, t5_mask = original_t5_null(pipe, 2)                                        # the original's null batch, unpadded
    gpt2, _ = original_gpt2_null(pipe.language_model.config.n_embd, 2)
    alone = unet(x, t, gpt2, t5, t5_mask.long())
    torch.testing.assert_close(out, alone, rtol=0, atol=1e-5)
    # the padding is masked: the same items with the padding cut give the same output
    mask_len = int(dropped["attention_mask"].sum(1).max())
    cut = unet(x, t, dropped["generated_prompt_embeds"], dropped["prompt_embeds"][:, :mask_len],
               dropped["attention_mask"][:, :mask_len])
    torch.testing.assert_close(out, cut, rtol=0, atol=1e-5)


def test_a_null_longer_than_the_batch_pads_the_batch(pipe):
    items = [{"latents": torch.randn(8, 16, 16), "prompt_embeds": torch.randn(3, 32),
              "attention_mask": torch.ones(3, dtype=torch.long), "generated_prompt_embeds": torch.randn(8, 16),
              "prompt": "x"} for _ in range(64)]
    batch = collate(items)
    null = {"prompt_embeds": torch.randn(5, 32), "attention_mask": torch.ones(5, dtype=torch.long),
            "generated_prompt_embeds": torch.zeros(8, 16)}
    out = drop_conditioning(batch, null, 0.5, torch.Generator().manual_seed(0))
    drop = out["attention_mask"][:, 3:].any(1)                                    # only the null reaches past 3 tokens
    assert 0 < int(drop.sum()) < 64
    assert torch.equal(out["prompt_embeds"][drop], null["prompt_embeds"].expand(int(drop.sum()), -1, -1))
    assert torch.equal(out["prompt_embeds"][~drop, :3], batch["prompt_embeds"][~drop])
    assert torch.equal(out["attention_mask"][~drop], torch.tensor([1, 1, 1, 0, 0]).expand(int((~drop).sum()), -1))
    assert torch.equal(out["generated_prompt_embeds"][drop], torch.zeros(int(drop.sum()), 8, 16))


@pytest.mark.parametrize("kind", ["audioldm2", "pipeline"])
def test_training_reads_cond_null_from_the_train_config(pipe, kind):
    cfg = resolve({"model": "tiny", "train": {"data": "toy", "toy_items": 2, "toy_frames": 4, "cond_null": kind}})
    _, _, null, _ = load_training_data(cfg, pipe, log=lambda *_: None)
    want = training_null(pipe, kind)
    assert all(torch.equal(null[k], want[k]) for k in want)
