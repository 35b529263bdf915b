"""Where the learning experiment's samples land among the data's ensemble centroids: for a finished run's fine-tuned
model (DIR/finetune/best) and the pretrained stand-in, each generated clip's time-averaged latent in the classifier's
units (per dimension, the train clips' spread); the distance of the clips' mean from the data's mean, their scatter
around their own mean, and the nearest centroid's votes, against the centroids' distances and the held-out clips'.
The numbers in nbs/06a_learning.ipynb's measured runs (nbs/results/learning/scatter_*.txt).

    python tools/learning_scatter.py DIR [--steps 5,10,20] [--negative-prompt TEXT]
    (DIR: a finished `python -m musicnet_ldm.learning --out DIR` run, whose settings are read from DIR/learning.json;
    about a minute per step count on 2 cores)"""
import argparse, json
from pathlib import Path

import numpy as np
import torch

from musicnet_ldm.config import from_dict
from musicnet_ldm.learning import LearningConfig, ensemble_classifier, learning_data, sample_latents, sampling_plan
from musicnet_ldm.model import load_pipeline
from musicnet_ldm.standin import pooled


def placement(clf, latents, labels) -> dict:
    "The clips' mean's distance from the data's mean (0 in these units), their scatter, the nearest centroid's votes."
    z = (pooled(torch.as_tensor(np.asarray(latents))).astype(np.float64) - clf.mu) / clf.sd
    mean = z.mean(0)
    votes = np.asarray(clf.predict(torch.as_tensor(np.asarray(latents))))
    return {"mean_offset": round(float(np.linalg.norm(mean)), 2),
            "scatter": round(float(np.linalg.norm(z - mean, axis=1).mean()), 2),
            "accuracy": round(float((votes == np.asarray(labels)).mean()), 3),
            "votes": np.bincount(votes, minlength=len(clf.classes)).tolist()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", default="5,10,20")
    ap.add_argument("--negative-prompt", default=None, help="default: the run's")
    a = ap.parse_args(argv)
    settings = json.loads((a.out/"learning.json").read_text())["settings"]     # the run's fixture, cache and sampler
    if a.negative_prompt is not None: settings["negative_prompt"] = a.negative_prompt
    s = from_dict(LearningConfig, settings, "learning")
    pre = load_pipeline(s.model, device="cpu", dtype=torch.float32)
    ft = load_pipeline(str(a.out/"finetune"/"best"), device="cpu", dtype=torch.float32)
    for pipe in (pre, ft):
        pipe.set_progress_bar_config(disable=True)
    data = learning_data(s, a.out, pre, log=lambda *_: None)                 # reuses the run's fixture and cache
    plan, clf = sampling_plan(data, s), ensemble_classifier(data)
    cent = clf.centroids
    pairs = [(i, j) for i in range(len(cent)) for j in range(i + 1, len(cent))]
    print("centroid distances", [round(float(np.linalg.norm(cent[i] - cent[j])), 2) for i, j in pairs])
    test = np.stack([data["test"][i]["latents"].numpy() for i in range(len(data["test"]))])
    print("held-out data", placement(clf, test, data["test_labels"]))
    for steps in [int(k) for k in a.steps.split(",")]:
        for name, pipe in (("pretrained", pre), ("finetuned", ft)):
            latents = sample_latents(pipe, plan, steps, s.guidance_scale, s)
            print(f"{name}, {steps} steps", placement(clf, latents, plan["labels"]))


if __name__ == "__main__":
    main()
