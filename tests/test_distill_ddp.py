"""Distillation with two CPU processes (torchrun → accelerate, gloo): the ranks end with identical students."""
import json, os, subprocess, sys, textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow          # two torchrun processes

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SCRIPT = textwrap.dedent("""
    import json, sys, torch
    from pathlib import Path
    from accelerate import PartialState
    from musicnet_ldm.core import LATENT_CHANNELS, seed_everything
    from musicnet_ldm.hub import tiny_audioldm2
    from musicnet_ldm.distill import encode_conditioning, make_student, train_distill
    out = Path(sys.argv[1]); seed_everything(0)
    pipe = tiny_audioldm2()
    prompts = ["a solo piano piece", "a string quartet", "a flute solo", "a cello suite", "a wind quintet"]
    cond = encode_conditioning(pipe, prompts)
    lat = torch.randn(len(prompts), LATENT_CHANNELS, 16, 16, generator=torch.Generator().manual_seed(0))
    items = [{"latents": lat[i], **{k: v[i] for k, v in cond.items()}, "prompt": p} for i, p in enumerate(prompts)]
    student = make_student(pipe.unet, channel_mult=0.5)
    identical = {}
    for phase in ("kd", "lcm"):
        s = train_distill(student, pipe.unet, items, out/phase, phase, scheduler=pipe.scheduler,
                          uncond=encode_conditioning(pipe, ["Low quality."]),
                          guidance_scale=1.0 if phase == "kd" else 3.5,
                          batch_size=2, lr=1e-3, max_steps=3, log_every=1, log=lambda *_: None)
        # the engine's check: every trained parameter, projections included
        identical[phase] = s["ranks_identical"]
    rank = PartialState().process_index
    checksum = sum(p.detach().double().sum().item() for p in student.parameters())
    (out/f"rank{rank}.json").write_text(json.dumps({"checksum": checksum, "steps": s["steps"], "identical": identical,
                                                     "processes": s["num_processes"]}))
""")


def test_two_process_distillation_keeps_ranks_identical(tmp_path):
    script = tmp_path / "distill_ddp.py"; script.write_text(SCRIPT)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": str(ROOT)}
    # torchrun: `accelerate launch --cpu` starts one process unless MPI is
    # set up; accelerate reads torchrun's env (gloo)
    # --standalone: a free port (tests run in parallel)
    cmd = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2",
           str(script), str(tmp_path / "run")]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    ranks = [json.loads((tmp_path / "run" / f"rank{i}.json").read_text()) for i in (0, 1)]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3 and ranks[0]["processes"] == 2
    assert ranks[0]["identical"] == {"kd": True, "lcm": True}
    assert abs(ranks[0]["checksum"] - ranks[1]["checksum"]) < 1e-9
    # one log line per step, written by the main process only
    for phase in ("kd", "lcm"):
        steps = [json.loads(l)["step"] for l in (tmp_path / "run" / phase / "train_log.jsonl").read_text().splitlines()]
        assert steps == [1, 2, 3]
