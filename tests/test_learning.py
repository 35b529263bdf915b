"""`python -m musicnet_ldm.learning` at its default seed: does fine-tuning, the adapter and distillation move generation
where they should? The directions are `learning.DIRECTIONS` (nbs/06b_learning.ipynb shows them beside the committed runs
of seeds 0-2). Cost: one run of the experiment in `make test` (6-10 minutes on 2 CPU cores)."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow          # one run of the learning experiment (minutes)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from musicnet_ldm.learning import DIRECTIONS, check_directions  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
MODEL = "standin"             # the pre-trained v-prediction stand-in (nbs/06_standin.ipynb)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("learning")
    r = subprocess.run([sys.executable, "-m", "musicnet_ldm.learning", "--out", str(out), "--seed", "0", "--model",
                        MODEL],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out/"learning.png").stat().st_size > 10_000
    return json.loads((out/"learning.json").read_text())


def test_keys(result):
    for key in ("eval_loss", "latent_fd", "mel_fd", "ensemble_accuracy", "prompt_swap", "adapter", "student"):
        assert "n" in result[key], key
    for key in ("finetuned", "finetuned_shuffled", "pretrained", "data_heldout"):
        assert {"mean", "ci", "n"} <= set(result["ensemble_accuracy"][key]), key
    assert result["ensemble_accuracy"]["chance"] == pytest.approx(1 / 3)
    assert result["settings"]["guidance_scale"] == 1.0                 # the toy's default (06b says why)
    fd = result["latent_fd"]
    assert fd["train_data"]["n"] > fd["n"] and fd["train_data"]["fd"] > 0     # the training clips' own FD, reported


# every direction, asserted at seed 0 (06b's table shows the committed seeds 0-2)
@pytest.mark.parametrize("direction", list(DIRECTIONS))
def test_direction(result, direction):
    d = check_directions(result)[direction]
    assert d["met"], f"{direction}: measured {d['value']:.4g}, wanted {d['threshold']}"


def test_adapter_leaves_zero_and_is_reported_with_its_interval(result):
    a = result["adapter"]
    assert a["norm_start"] == 0.0 and a["norm_end"] > 0            # the zero-initialised layer leaves zero
    lo, hi = a["fd_without_minus_with"]["ci"]
    # one row per (prompt, seed): every ensemble's held-out recording has `prompts_per_ensemble` clips to prompt with
    s = result["settings"]
    rows = len(s["ensembles"].split(",")) * s["prompts_per_ensemble"] * s["seeds_per_prompt"]
    assert lo <= a["fd_without_minus_with"]["diff"] <= hi and a["n"] == result["latent_fd"]["n"] == rows


def test_student_is_reported_against_its_baselines(result):
    "The distilled student beside the teacher's UNet under the same sampler and the student under the other sampler."
    st = result["student"]
    assert (st["scheduler"], st["other_scheduler"]) == ("tcd", "lcm") and st["steps"] == 4
    for key in ("student_over_teacher", "before_distillation_over_teacher", "other_scheduler_over_teacher"):
        assert st[key]["ratio"] > 0 and len(st[key]["ci"]) == 2 and st[key]["n"] == st["n"], key
