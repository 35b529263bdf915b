"""The full preset at the real geometry (random weights): one training step and one 2-step generation of the full-size
model. The evaluate stage (full-size random-weight embedders,
                           Table 1) runs in the CLI dry run only; CI covers its machinery in
nbs/07_check.ipynb (tiny model and CLAP) and the full-size CLAP embedders' builds in nbs/05b_embeddings.ipynb."""
import json, os, subprocess

import pytest

from conftest import PYTHON, ROOT

pytestmark = pytest.mark.slow          # the full-size model at the real geometry

CODE = """
import json
from musicnet_ldm.check import dry_run
rep = dry_run("full", stages=("finetune", "generate"), n_clips=1, steps=2, device="cpu", prompt_sets=("table1",))
print("REPORT " + json.dumps(rep))
"""


def test_full_preset_dry_run_at_real_geometry():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    out = subprocess.run([PYTHON, "-c", CODE], env=env, capture_output=True, text=True, timeout=1500, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    rep = json.loads(next(l for l in out.stdout.splitlines() if l.startswith("REPORT "))[len("REPORT "):])
    print(json.dumps(rep, indent=1))                     # the measured times and memory, in the test log
    assert rep["model"] == "cvssp/audioldm2-music"
    assert list(rep["stages"]) == ["build", "data", "cache", "finetune", "generate"]
    assert rep["stages"]["finetune"]["mixed_precision"] == "no"       # a CPU run of the full preset: fp32
    assert rep["stages"]["finetune"]["loss"] > 0
    assert rep["stages"]["generate"]["samples"] == 163_840            # the preset's 10.24 s
    assert rep["stages"]["generate"]["clips"] == 1 and rep["stages"]["generate"]["dtype"] == "torch.float32"
    assert rep["mixed_precision"] == "no" and rep["inference_dtype"] == "torch.float32"
