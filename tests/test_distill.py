"""06_distill as the pipeline runs it (papermill, smoke preset), and the benchmark entry point the bench module calls."""
import json, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def test_distill_notebook_papermill(tmp_path):
    pm = pytest.importorskip("papermill")
    run = tmp_path / "run"
    pm.execute_notebook(str(ROOT / "nbs/06_distill.ipynb"), str(tmp_path / "executed.ipynb"), cwd=str(ROOT),
                        parameters={"preset": "smoke", "output_dir": str(run), "steps": 2, "kd_max_steps": 3,
                                    "lcm_max_steps": 2}, kernel_name="python3", progress_bar=False)
    record = json.loads((run / "distill.json").read_text())
    teacher, student = record["rows"]
    assert student["steps"] == 2 and student["unet_evals"] == 2 and teacher["unet_evals"] == 2 * teacher["steps"]
    assert student["params_m"] < teacher["params_m"] and student["fad_embedding"] == "clap-tiny-0"
    # -p reached the run: each phase stopped where the parameters said
    (work,) = (run / "distill").iterdir()
    assert sorted(p.name for p in (work / "kd" / "checkpoints").iterdir()) == ["step_3"]
    assert sorted(p.name for p in (work / "lcm" / "checkpoints").iterdir()) == ["step_2"]
    assert json.loads((run / "student" / "distill.json").read_text())["num_inference_steps"] == 2
    assert json.loads((run / "student" / "model_index.json").read_text())["scheduler"][1] == "LCMScheduler"
    assert len(list((run / "samples" / "student").glob("*.wav"))) >= 2
    assert (run / "figures" / "distill_loss.png").is_file() and "| student |" in (run / "distill.md").read_text()


def test_bench_distill_defaults():
    import torch
    from musicnet_ldm.distill import bench_distill
    torch.set_num_threads(1)     # shared CI cores: OpenMP spin-waiting makes 2 threads far slower than 1
    ratio = bench_distill(log=lambda *_: None)   # tiny teacher, 8 guided steps vs a fresh narrow student, 4 steps
    assert 0 < ratio < 1
