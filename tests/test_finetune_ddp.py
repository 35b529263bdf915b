"""Two processes through `accelerate launch -m musicnet_ldm.finetune` on the CPU (DDP over gloo): the ranks end
identical.

accelerate 1.15 runs `accelerate launch --cpu --num_processes 2` as ONE process (its simple launcher; several CPU
processes need MPI), so the test uses the torchrun launcher (`--multi_gpu`) with CUDA hidden: two CPU ranks, gloo.
"""
import json, os, subprocess, sys
from pathlib import Path

import pytest
from conftest import free_port

pytestmark = pytest.mark.slow          # two processes through accelerate launch

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_two_process_cpu_run_keeps_ranks_identical(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "CUDA_VISIBLE_DEVICES": ""}
    cmd = [str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           # tests run in parallel
           "--main_process_port", str(free_port()),
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "musicnet_ldm.finetune",
           # options derived from
           "--preset", "smoke", "--output-dir", str(out), "--epochs", "1", "--batch-size", "2",
           # config.TrainConfig
           "--data", "toy", "--toy-items", "8", "--eval-batch-size", "2"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["num_processes"] == 2
    assert summary["steps"] == 2                       # 8 items, 4 per rank, batches of 2: one epoch is 2 steps
    assert summary["ranks_identical"] is True          # parameter checksums gathered from both ranks agree
    assert summary["data"] == "toy"                    # the explicit choice of toy data is recorded
    # one log, written once (by the main process), even though two processes ran
    events = [json.loads(l) for l in (out / "train_log.jsonl").read_text().splitlines() if l.strip()]
    assert sum(e.get("event") == "eval" for e in events) == 1
    assert (out / "best" / "model_index.json").is_file()
