"""`python -m musicnet_ldm.learning` at its default seed: does fine-tuning, the adapter and distillation move generation
where they should? The thresholds are those stated in nbs/03_finetune.ipynb ("Does it learn?"), beside the measured values.
Cost: one run of the experiment in `make test` (6.1 minutes measured alone on 2 CPU cores; on one of CI's two pytest
workers, one thread, beside the other worker)."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}

MODEL = "standin"             # the pre-trained stand-in (issue 17, deliverable 1); the random 'tiny' cannot show conditioning

# the thresholds (nbs/03_finetune.ipynb states them with the measured values)
MIN_LOSS_DROP = 0.10          # the held-out diffusion loss falls by at least 10 %, its CIs apart
MIN_FD_FACTOR = 3.0           # pretrained / fine-tuned latent FD: the CI's lower end above 3
MAX_STUDENT_FACTOR = 3.0      # student / teacher latent FD: the CI's upper end below 3


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("learning")
    r = subprocess.run([sys.executable, "-m", "musicnet_ldm.learning", "--out", str(out), "--seed", "0", "--model", MODEL],
                       cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out/"learning.png").stat().st_size > 10_000
    return json.loads((out/"learning.json").read_text())


def test_keys(result):
    for key in ("eval_loss", "latent_fd", "mel_fd", "ensemble_accuracy", "prompt_swap", "adapter", "student"):
        assert "n" in result[key], key
    for key in ("finetuned", "finetuned_shuffled", "pretrained", "data_heldout"):
        entry = result["ensemble_accuracy"][key]
        assert {"mean", "ci", "n"} <= set(entry), key
    assert result["ensemble_accuracy"]["chance"] == pytest.approx(1 / 3)


def test_eval_loss_falls(result):
    # paired: both models see the same clips, noise and timesteps, so the per-clip drop's interval is the measure
    # (the unpaired start and end intervals mostly show how much clips differ from each other)
    e = result["eval_loss"]
    assert e["drop"]["ci"][0] > 0
    assert e["relative_drop"] >= MIN_LOSS_DROP


# measured with the committed stand-in (seed 0, nbs/results/learning/standin_seed0.json): these directions FAIL;
# they are kept strict (an unexpected pass fails too) until the stand-in is good enough, never loosened
STANDIN_FAILS = "third stand-in (UNet widths 32, 64), seed 0, 24 samples over 24 prompts: "


@pytest.mark.xfail(strict=True, reason=STANDIN_FAILS + "latent FD ratio 1.40 [1.04, 1.78], mel FD ratio 0.85 [0.59, 1.12]")
@pytest.mark.parametrize("key", ["latent_fd", "mel_fd"])
def test_fd_shrinks(result, key):
    assert result[key]["pretrained_over_finetuned"]["ci"][0] > MIN_FD_FACTOR


@pytest.mark.xfail(strict=True, reason=STANDIN_FAILS + "the adapter leaves zero (norm 0.034) but barely moves a sample (RMS 5e-4): "
                                               "FD without − with -0.0017 [-0.016, 0.013]; met at seed 1 (0.016 [0.008, 0.024])")
def test_adapter_leaves_zero_and_matters(result):
    a = result["adapter"]
    assert a["norm_start"] == 0.0 and a["norm_end"] > 0
    assert a["rms_latent_difference"]["ci"][0] > 0
    diff = a["fd_without_minus_with"]["ci"]
    assert diff[0] > 0 or diff[1] < 0                       # the with/without rows differ by more than their CI


def test_student_close_to_teacher(result):
    # the teacher-width student (the tiny UNet has one layer per block: no layer to drop) after 40 KD + 20 LCM steps, sampled
    # in 4 steps: 1.77 [1.30, 2.19] × its 20-step teacher's latent FD at seed 0 (seed 2: 2.33 [1.63, 3.30]; a half-width
    # student, nbs/results/learning/standin-halfwidth-student_seed0.json: 8240)
    assert result["student"]["student_over_teacher"]["ci"][1] < MAX_STUDENT_FACTOR


def test_classifier_ceiling(result):
    acc = result["ensemble_accuracy"]
    assert acc["data_heldout"]["ci"][0] > acc["chance"]      # the measure can see ensembles in data latents


@pytest.mark.xfail(strict=True, reason=STANDIN_FAILS + "fine-tuned accuracy 0.333 [0.333, 0.333] holds chance 1/3; shuffled − correct loss -1.3e-5 [-1.0e-4, 7.5e-5]")
def test_conditioning(result):
    acc = result["ensemble_accuracy"]
    assert acc["finetuned"]["ci"][0] > acc["chance"]
    lo, hi = acc["finetuned_shuffled"]["ci"]
    assert lo <= acc["chance"] <= hi or hi < acc["finetuned"]["ci"][0]   # the control stays at chance, or below the model
    assert result["eval_loss"]["shuffled_minus_correct"]["finetuned"]["ci"][0] > 0


@pytest.mark.xfail(strict=True, reason=STANDIN_FAILS + "prompt-swap cosine -0.16 [-0.23, -0.10], fine-tuned − control "
                                               "0.075 [-0.004, 0.16]; met at seeds 1 and 2 (cosine 0.145, 0.196; difference 0.34, 0.22)")
def test_prompt_swap(result):
    # with the sampler's shared error removed, the prompt moves a fine-tuned sample towards the ensemble it names, by more
    # than it moves the control fine-tuned on shuffled prompts (paired, row by row); 03, "Does it learn?", has every seed
    sw = result["prompt_swap"]
    assert sw["n_groups"] >= 8                                  # every held-out clip of each ensemble, one seed each
    assert sw["finetuned"]["cosine"]["ci"][0] > sw["chance"]["cosine"]
    assert sw["finetuned_minus_finetuned_shuffled"]["ci"][0] > 0
