"""Can more training, or a wider UNet, bring the stand-in's ε error at high noise down to its floor? A probe, not part of
the stand-in's recipe: train a UNet on the stand-in's own pre-training clips and the committed text path's cached
conditioning, and print the ε MSE at t = 50, 500, 800 and 951 every 100 steps (AdamW, warm-up then cosine, batch 16).

    python tools/standin_capacity_probe.py --continue-committed --t-min 500 --steps 400 --lr 3e-4 --cond-dropout 0   # committed UNet, high t
    python tools/standin_capacity_probe.py --continue-committed --steps 500 --lr 3e-4 --snr-gamma 5   # all t, min-SNR weights
    python tools/standin_capacity_probe.py --widths 16,32 --steps 800   # from scratch, the tiny model's widths
    python tools/standin_capacity_probe.py --widths 32,64 --steps 800   # from scratch, twice as wide

Measured with a first draft of this loop, on the second stand-in (the tiny model's widths; the same settings, but no
warm-up in the first; 2 shared CPU cores; nbs/02b_standin.ipynb steps 3b and 3c): the first, 0.0095 → 0.0070 at t = 951
in 400 steps; from scratch at step 400, 0.101 at (16, 32) and 0.032 at (32, 64), which is why the committed, third
stand-in has widths (32, 64). On the committed (third) stand-in, `--continue-committed --t-min 500 --steps 600 --lr 3e-4`
(conditioning dropout 0.1; 10 minutes on 2 shared cores): t = 951 0.00465 → 0.00293 and t = 800 0.00552 → 0.00383,
flattening by the end (t = 50, not trained, 0.085 → 0.27): it is under-trained at high noise
(nbs/results/standin_capacity_probe_continue-committed_t500_steps600.txt; nbs/06a_learning.ipynb, measured runs).
Over all t (500 steps, lr 3e-4, two probes sharing 2 cores), min-SNR-5 weighting (--snr-gamma 5, diffusers'
--snr_gamma) helps more than the plain loss: t = 951 0.00465 → 0.00378 against 0.00410, t = 50 unharmed (0.084);
sampled with it everywhere (tools/standin_diagnostic.py --high-noise-unet DIR --switch-t 0) the generated scatter at
20 DDIM steps falls from 23.4 to 21.9 (plain: 22.8; the data's 11.0) and the offset from 10.4 to 8.8
(nbs/results/standin_capacity_probe_continue-committed_all-t_steps500_*.txt, standin_diagnostic_continued-all-t-*.json).
With --save DIR, tools/standin_diagnostic.py --high-noise-unet DIR samples with it for t ≥ --switch-t. The floor is at most
ᾱ(951) · Var(x₀) ≈ 3.5e-4 (what the best linear estimate of ε from x_t leaves)."""
import argparse, tempfile, time
from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler
from diffusers.training_utils import compute_snr
from diffusers.pipelines.audioldm2.modeling_audioldm2 import AudioLDM2UNet2DConditionModel

from musicnet_ldm.cache import collate, encode_text
from musicnet_ldm.finetune import ConditionedUNet, drop_conditioning
from musicnet_ldm.model import load_pipeline
from musicnet_ldm.musicnet import build_prompt
from musicnet_ldm.standin import STANDIN_SETTINGS, LatentPrompts, _encoded, clip_mels, pretrain_clips

TIMESTEPS = (50, 500, 800, 951)


@torch.no_grad()
def eps_mse(model, batch, scheduler, timesteps=TIMESTEPS) -> dict:
    "ε MSE per timestep on the held-out clips (fixed noise)."
    x0 = batch["latents"]
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    out = {}
    for t in timesteps:
        tt = torch.full((len(x0),), t)
        pred = model(scheduler.add_noise(x0, noise, tt), tt, batch["generated_prompt_embeds"], batch["prompt_embeds"], batch["attention_mask"])
        out[t] = round(float(((pred - noise) ** 2).mean()), 5)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="16,32", help="block_out_channels of a fresh UNet (ignored with --continue-committed)")
    ap.add_argument("--continue-committed", action="store_true", help="continue the committed stand-in's UNet instead")
    ap.add_argument("--t-min", type=int, default=0, help="train on t in [t_min, 1000) only")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--cond-dropout", type=float, default=0.1, help="empty-prompt conditioning this often (the stand-in's)")
    ap.add_argument("--snr-gamma", type=float, default=None, help="min-SNR-γ loss weights (diffusers' --snr_gamma): min(SNR, γ)/SNR")
    ap.add_argument("--save", type=Path, default=None, help="write the trained UNet here (diffusers' save_pretrained)")
    a = ap.parse_args(argv)
    pipe = load_pipeline("standin", device="cpu", dtype=torch.float32, adapter=False)
    unet = pipe.unet
    if not a.continue_committed:
        unet = AudioLDM2UNet2DConditionModel.from_config({**pipe.unet.config, "block_out_channels": [int(w) for w in a.widths.split(",")]})
    print("UNet parameters", sum(p.numel() for p in unet.parameters()))
    # the stand-in's pre-training clips and the committed text path's conditioning, as step 3b sees them
    index = pretrain_clips(Path(tempfile.mkdtemp())/"fixture", 0, STANDIN_SETTINGS)
    clips = {k: index.split(k) for k in ("train", "eval")}
    prompts = {k: [build_prompt(c) for c in v] for k, v in clips.items()}
    enc = {k: _encoded(pipe, clip_mels(v, STANDIN_SETTINGS["clip_seconds"])) for k, v in clips.items()}
    cond = {k: encode_text(pipe, prompts[k]) for k in prompts}
    empty = encode_text(pipe, [""])[0]
    train = LatentPrompts(*enc["train"], prompts["train"], 0, crop=STANDIN_SETTINGS["unet_frames"], conditioning=cond["train"])
    held_out = LatentPrompts(*enc["eval"], prompts["eval"], 0, sample=False, conditioning=cond["eval"])
    held_out = collate([held_out[i] for i in range(len(held_out))])
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    model = ConditionedUNet(unet, None)
    print("start", eps_mse(model.eval(), held_out, scheduler))
    opt = torch.optim.AdamW(unet.parameters(), lr=a.lr, weight_decay=0.0)
    g, t0 = torch.Generator().manual_seed(0), time.time()
    unet.requires_grad_(True)
    for step in range(1, a.steps + 1):
        # warm-up then cosine, as the stand-in's phases
        for group in opt.param_groups: group["lr"] = a.lr * min(1.0, step / 30) * 0.5 * (1 + np.cos(np.pi * step / a.steps))
        train.set_epoch(step)
        batch = collate([train[int(i)] for i in torch.randint(0, len(train), (16,), generator=g)])
        batch = drop_conditioning(batch, empty, a.cond_dropout, g)
        noise = torch.randn(batch["latents"].shape, generator=g)
        t = torch.randint(a.t_min, 1000, (16,), generator=g)
        noisy = scheduler.add_noise(batch["latents"], noise, t)
        pred = model.train()(noisy, t, batch["generated_prompt_embeds"], batch["prompt_embeds"], batch["attention_mask"])
        loss = ((pred - noise) ** 2).mean((1, 2, 3))
        if a.snr_gamma:
            snr = compute_snr(scheduler, t)
            loss = loss * snr.clamp(max=a.snr_gamma) / snr
        loss = loss.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0: print(step, f"{time.time() - t0:.0f}s", eps_mse(model.eval(), held_out, scheduler), flush=True)
    if a.save: unet.save_pretrained(a.save)


if __name__ == "__main__":
    main()
