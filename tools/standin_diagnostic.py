"""Where a stand-in's sampling goes wrong: its ε error per timestep on its own pre-training clips, the latent spread
along DDIM trajectories (guidance 1 and 3), DDIM started from the clips themselves noised to t (how far each part of
the trajectory carries a sample away from the data), and generation by the number of DDIM steps (how far the clips'
time-averaged latents, what the learning experiment's classifier sees, scatter against the data's). The numbers in
nbs/02b_standin.ipynb's steps 3b and 3c and in nbs/06a_learning.ipynb's results.

    python tools/standin_diagnostic.py [--model standin] [--clips 24]   (about three minutes on 2 CPU cores)
    python tools/standin_diagnostic.py --high-noise-unet DIR [--switch-t 500]   # DIR: standin_capacity_probe.py --save DIR"""
import argparse, json, tempfile
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler
from diffusers.pipelines.audioldm2.modeling_audioldm2 import AudioLDM2UNet2DConditionModel

from musicnet_ldm.model import load_pipeline
from musicnet_ldm.musicnet import build_prompt
from musicnet_ldm.standin import STANDIN_SETTINGS, TextConditionedUNet, _encoded, clip_mels, generate_latents, pooled, pretrain_clips

TIMESTEPS = (0, 50, 200, 500, 800, 900, 951, 999)


@torch.no_grad()
def eps_errors(model, latents, cond, scheduler, seed: int = 0) -> dict:
    "Per timestep: ε MSE, the prediction's spread, and the spread of the x̂₀ error it implies (÷ √ᾱ)."
    g, out = torch.Generator().manual_seed(seed), {}
    for t in TIMESTEPS:
        noise, tt = torch.randn(latents.shape, generator=g), torch.full((len(latents),), t)
        pred = model(scheduler.add_noise(latents, noise, tt), tt, cond["generated_prompt_embeds"], cond["prompt_embeds"], cond["attention_mask"])
        abar = scheduler.alphas_cumprod[t]
        out[t] = {"alpha_bar": float(abar), "eps_mse": float(((pred - noise) ** 2).mean()), "pred_std": float(pred.std()),
                  "x0_error_std": float(((pred - noise) * (1 - abar).sqrt() / abar.sqrt()).std())}
    return out


@torch.no_grad()
def from_noised_data(model, latents, cond, scheduler_config, steps: int = 20, seed: int = 0) -> dict:
    "DDIM (`steps` steps, no guidance) from the clips noised to each start t: the returned clips' error and spread."
    sched = DDIMScheduler.from_config(scheduler_config)
    sched.set_timesteps(steps)
    noise, out = torch.randn(latents.shape, generator=torch.Generator().manual_seed(seed)), {}
    for start in (200, 500, 800, int(sched.timesteps[0])):
        ts = sched.timesteps[sched.timesteps <= start]
        x = sched.add_noise(latents, noise, ts[:1].expand(len(latents)))
        for t in ts:
            eps = model(x, t.expand(len(x)), cond["generated_prompt_embeds"], cond["prompt_embeds"], cond["attention_mask"])
            x = sched.step(eps, t, x).prev_sample
        out[int(ts[0])] = {"error_std": round(float((x - latents).std()), 3), "spread": round(float(x.std()), 3)}
    return out


@torch.no_grad()
def trajectory(pipe, prompts, guidance: float, steps: int = 20, seconds: float = 2.56) -> list:
    "The latent spread after each DDIM step."
    spread = []
    pipe(prompt=prompts, num_inference_steps=steps, guidance_scale=guidance, audio_length_in_s=seconds,
         generator=torch.Generator().manual_seed(0), output_type="latent",
         callback=lambda i, t, lat: spread.append(round(float(lat.std()), 3)), callback_steps=1)
    return spread


@torch.no_grad()
def by_sampler_steps(pipe, prompts, latents, seconds: float, guidance: float = 3.5, steps=(5, 10, 20, 50, 100)) -> dict:
    "Per DDIM step count: generated latent std; the time-averaged latents' mean offset and scatter in the data's units."
    data = pooled(latents)
    mu, sd = data.mean(0), data.std(0) + 1e-6
    z = lambda lat: (pooled(lat) - mu) / sd                              # per feature, in units of the data's spread
    spread = lambda x: float(np.linalg.norm(x - x.mean(0), axis=1).mean())
    # the data's scatter is about √(dimensions) by construction: each dimension is standardised on these clips
    out = {"data": {"latent_std": round(float(latents.std()), 3), "scatter": round(spread(z(latents)), 2)}}
    for k in steps:
        gen = generate_latents(pipe, prompts, list(range(len(prompts))), seconds, k, guidance)
        zg = z(gen)
        offset = round(float(np.linalg.norm(zg.mean(0))), 2)
        out[str(k)] = {"latent_std": round(float(gen.std()), 3), "offset": offset, "scatter": round(spread(zg), 2)}
    return out


def switch_unet_at(pipe, high_noise_unet, t_switch: int):
    "Make `pipe.unet` call `high_noise_unet` for timesteps ≥ `t_switch` (a probe's UNet trained there only)."
    own = pipe.unet.forward
    def forward(sample, timestep, *args, **kwargs):
        high = float(torch.as_tensor(timestep).flatten()[0]) >= t_switch
        return (high_noise_unet if high else own)(sample, timestep, *args, **kwargs)
    pipe.unet.forward = forward


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="standin")
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--high-noise-unet", type=Path, default=None,
                    help="a UNet folder (tools/standin_capacity_probe.py --save) used for t ≥ --switch-t")
    ap.add_argument("--switch-t", type=int, default=500)
    a = ap.parse_args(argv)
    settings = dict(STANDIN_SETTINGS, recordings=12, test_recordings=3)   # a small fixture of the same distribution
    clips = pretrain_clips(Path(tempfile.mkdtemp())/"fixture", 0, settings).split("train")[:a.clips]
    pipe = load_pipeline(a.model, device="cpu", dtype=torch.float32, adapter=False)
    pipe.set_progress_bar_config(disable=True)
    if a.high_noise_unet:
        switch_unet_at(pipe, AudioLDM2UNet2DConditionModel.from_pretrained(a.high_noise_unet).eval(), a.switch_t)
    latents = _encoded(pipe, clip_mels(clips, settings["clip_seconds"]))[0]
    prompts = [build_prompt(c) for c in clips]
    model = TextConditionedUNet(pipe).eval()
    cond = model.conditioning(prompts)
    record = {"model": a.model, "high_noise_unet": a.high_noise_unet and str(a.high_noise_unet), "switch_t": a.switch_t,
              "n_clips": len(clips), "data_latent_std": float(latents.std()),
              "by_timestep": eps_errors(model, latents, cond, pipe.scheduler),
              "ddim_from_noised_data": from_noised_data(model, latents, cond, pipe.scheduler.config),
              "trajectory_std": {g: trajectory(pipe, prompts[:8], g) for g in (1.0, 3.0)},
              "by_sampler_steps": by_sampler_steps(pipe, prompts[:12], latents, settings["clip_seconds"])}
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
