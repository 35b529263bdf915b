"""The ε error by timestep of a learning run's fine-tuned UNet against the pretrained stand-in's, on the run's own
MusicNet fixture (test split, posterior means, fixed noise): where fine-tuning changed the model. The numbers in the
README's "Does it learn?" and nbs/06a_learning.ipynb's measured runs.

    python tools/finetuned_eps.py RUN_DIR [--seed 0]   # RUN_DIR: a `python -m musicnet_ldm.learning --out` folder (one minute)"""
import argparse
from pathlib import Path

import torch
from diffusers import DDPMScheduler

from musicnet_ldm.cache import collate
from musicnet_ldm.finetune import ConditionedUNet
from musicnet_ldm.learning import LearningConfig, learning_data
from musicnet_ldm.model import load_pipeline
from standin_capacity_probe import eps_mse      # tools/ is the script's own folder

TIMESTEPS = (50, 200, 500, 800, 951)


def eps_by_t(pipe, batch, scheduler) -> dict:
    "ε MSE per timestep on `batch` (its cached conditioning, through the pipeline's adapter when it has one)."
    return eps_mse(ConditionedUNet(pipe.unet, pipe.adapter).eval(), batch, scheduler, TIMESTEPS)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the learning run's --out folder (fixture/, cache/ and finetune/best are reused)")
    ap.add_argument("--seed", type=int, default=0, help="the run's --seed")
    a = ap.parse_args(argv)
    pretrained = load_pipeline("standin", device="cpu", dtype=torch.float32, adapter=False)
    data = learning_data(LearningConfig(seed=a.seed), a.run, pretrained, log=lambda *_: None)
    batch = collate([data["test"][i] for i in range(len(data["test"]))])
    scheduler = DDPMScheduler.from_config(pretrained.scheduler.config)
    print(f"# python tools/finetuned_eps.py {a.run} --seed {a.seed}   (ε MSE by t, {len(data['test'])} test clips)")
    print("pretrained", eps_by_t(pretrained, batch, scheduler))
    print("finetuned ", eps_by_t(load_pipeline(str(a.run/"finetune"/"best"), device="cpu", dtype=torch.float32), batch, scheduler))


if __name__ == "__main__":
    main()
