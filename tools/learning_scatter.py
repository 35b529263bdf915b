"""Where the learning experiment's samples land among the data's ensemble centroids: for a finished run's fine-tuned
model (DIR/finetune/best) and the pretrained stand-in, each generated clip's time-averaged latent in the classifier's
units (per dimension, the train clips' spread), its offset from the data's mean and its scatter, against the
centroids' distances and the held-out data's own scatter. The numbers in nbs/06a_learning.ipynb's measured runs.

    python tools/learning_scatter.py DIR [--seed 0] [--steps 5,10,20] [--guidance 3.5] [--negative-prompt ""]
    (DIR: a `python -m musicnet_ldm.learning --out DIR` run with the same seed; about a minute per step count)"""
import argparse
from pathlib import Path

import numpy as np
import torch

from musicnet_ldm.learning import LearningConfig, ensemble_classifier, learning_data, sample_latents, sampling_plan
from musicnet_ldm.model import load_pipeline
from musicnet_ldm.standin import pooled


def placement(z: np.ndarray, labels, centroids: np.ndarray) -> dict:
    "Offset of the clips' mean from the data's (0 in these units), their scatter, and the nearest centroid's accuracy."
    offset = z.mean(0)
    nearest = ((z[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    return {"offset": round(float(np.linalg.norm(offset)), 2), "scatter": round(float(np.linalg.norm(z - offset, axis=1).mean()), 2),
            "accuracy": round(float((nearest == np.asarray(labels)).mean()), 3), "votes": np.bincount(nearest, minlength=len(centroids)).tolist()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", default="5,10,20")
    ap.add_argument("--guidance", type=float, default=LearningConfig.guidance_scale)
    ap.add_argument("--negative-prompt", default=LearningConfig.negative_prompt)
    a = ap.parse_args(argv)
    s = LearningConfig(seed=a.seed, negative_prompt=a.negative_prompt)
    pre = load_pipeline(s.model, device="cpu", dtype=torch.float32)
    ft = load_pipeline(str(a.out/"finetune"/"best"), device="cpu", dtype=torch.float32)
    for p in (pre, ft): p.set_progress_bar_config(disable=True)
    data = learning_data(s, a.out, pre, log=lambda *_: None)                 # the run's fixture and cache, reused
    plan, clf = sampling_plan(data, s), ensemble_classifier(data)
    units = lambda lat: (pooled(torch.as_tensor(np.asarray(lat))).astype(np.float64) - clf.mu) / clf.sd
    cent = clf.centroids
    test = units(np.stack([data["test"][i]["latents"].numpy() for i in range(len(data["test"]))]))
    print("centroid distances", [round(float(np.linalg.norm(cent[i] - cent[j])), 2) for i in range(len(cent)) for j in range(i + 1, len(cent))])
    print("held-out data", placement(test, data["test_labels"], cent))
    for steps in [int(k) for k in a.steps.split(",")]:
        for name, pipe in (("pretrained", pre), ("finetuned", ft)):
            print(f"{name}, {steps} steps", placement(units(sample_latents(pipe, plan, steps, a.guidance, s)), plan["labels"], cent))


if __name__ == "__main__":
    main()
