"""Every code path honours the scheduler's `prediction_type` and spacing: on the tiny model at ε (the hub's AudioLDM2)
and at v with zero terminal SNR and trailing spacing (the stand-in's), fine-tuning writes a `best/` and distillation a
`student/` that load through `AudioLDM2Pipeline.from_pretrained` (hub.load_audioldm2_folder) with their own scheduler,
and sample finite audio with it."""
import numpy as np
import pytest
import torch

from musicnet_ldm.cache import collate
from musicnet_ldm.hub import load_audioldm2_folder
from musicnet_ldm.distill import load_student, make_student, save_student, student_pipeline, train_distill
from musicnet_ldm.finetune import empty_conditioning, fit, prediction_target, toy_conditioned_latents
from musicnet_ldm.generate import synthesize
from musicnet_ldm.model import load_pipeline
from musicnet_ldm.standin import V_PREDICTION, v_prediction_scheduler

HUB = {"prediction_type": "epsilon", "rescale_betas_zero_snr": False, "timestep_spacing": "leading"}
KINDS = {"epsilon": HUB, "v_prediction": V_PREDICTION}


def tiny(kind: str):
    pipe = load_pipeline("tiny", device="cpu", dtype=torch.float32)
    if kind == "v_prediction": pipe.scheduler = v_prediction_scheduler(pipe.scheduler)
    return pipe


def keys(scheduler) -> dict: return {k: scheduler.config[k] for k in HUB}


def sample(pipe, steps: int, guidance: float) -> np.ndarray:
    audio, _ = synthesize(pipe, ["a solo piano piece"], [0], steps=steps, guidance_scale=guidance, audio_length_s=0.64,
                          negative_prompt=None)
    return audio


@pytest.mark.parametrize("kind", list(KINDS))
def test_training_target_is_the_schedulers(kind):
    pipe = tiny(kind)
    x0, noise, t = torch.randn(2, 8, 4, 16), torch.randn(2, 8, 4, 16), torch.tensor([10, 990])
    want = noise if kind == "epsilon" else pipe.scheduler.get_velocity(x0, noise, t)
    assert torch.equal(prediction_target(pipe.scheduler, x0, noise, t), want)


@pytest.mark.parametrize("kind", list(KINDS))
def test_best_and_student_load_and_sample_with_their_own_scheduler(kind, tmp_path):
    torch.set_num_threads(1)
    pipe = tiny(kind)
    train, held_out = toy_conditioned_latents(pipe, n=8,
                                              frames=16), toy_conditioned_latents(pipe, n=4, seed=1, frames=16)
    fit(pipe, train, held_out, tmp_path/"run", empty=empty_conditioning(pipe), collate=collate, mixed_precision="no",
        max_steps=2, batch_size=4, eval_batch_size=4, log=lambda *_: None)
    # best/: the hub's pipeline class reads it, with the scheduler it was trained under
    hub = load_audioldm2_folder(tmp_path/"run"/"best")
    assert type(hub.scheduler).__name__ == "DDIMScheduler" and keys(hub.scheduler) == KINDS[kind]
    best = load_pipeline(str(tmp_path/"run"/"best"), device="cpu", dtype=torch.float32)
    assert np.isfinite(sample(best, 3, 2.0)).all()
    # student/: KD then LCM steps against the fine-tuned teacher, saved with
    # its consistency sampler (TCD, the default) of the same parameterisation
    student = make_student(best.unet, channel_mult=0.5)
    for phase in ("kd", "lcm"):
        train_distill(student, best.unet, train, tmp_path/phase, phase, scheduler=best.scheduler, adapter=best.adapter,
                      batch_size=4, max_steps=2, mixed_precision="no", log=lambda *_: None)
    save_student(student_pipeline(best, student.eval()), tmp_path/"student", steps=2)
    hub_student = load_audioldm2_folder(tmp_path/"student")
    assert type(hub_student.scheduler).__name__ == "TCDScheduler" and keys(hub_student.scheduler) == KINDS[kind]
    assert np.isfinite(sample(load_student(tmp_path/"student", device="cpu"), 2, 1.0)).all()
