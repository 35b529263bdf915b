"""The distillation stage (nbs/06c_distill_bench.ipynb) as the pipeline runs it (papermill, smoke preset), and the
benchmark entry point the bench module calls."""
import json, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="module")
def smoke_distill(tmp_path_factory):
    pm = pytest.importorskip("papermill")
    tmp = tmp_path_factory.mktemp("distill")
    run = tmp / "run"
    pm.execute_notebook(str(ROOT / "nbs/06c_distill_bench.ipynb"), str(tmp / "executed.ipynb"), cwd=str(ROOT),
                        parameters={"preset": "smoke", "output_dir": str(run), "teacher": "pretrained", "steps": 2,
                                    "kd_max_steps": 3,
                                    "lcm_max_steps": 2}, kernel_name="python3", progress_bar=False)
    return run, json.loads((run / "distill.json").read_text())


@pytest.mark.slow          # papermill (the module fixture)
def test_distill_notebook_papermill(smoke_distill):
    run, record = smoke_distill
    rows = {r["system"]: r for r in record["rows"]}
    assert list(rows) == ["teacher", "teacher_few_steps", "student_teacher_steps", "student"]
    teacher, student = rows["teacher"], rows["student"]
    assert student["steps"] == 2 and student["unet_evals"] == 2 and teacher["unet_evals"] == 2 * teacher["steps"]
    assert rows["teacher_few_steps"]["steps"] == 2 and rows["student_teacher_steps"]["steps"] == teacher["steps"]
    assert student["unet_params_m"] < teacher["unet_params_m"] < teacher["pipeline_params_m"]
    assert student["fad_embedding"] == "clap-tiny-0" and record["fad_reference"] == "reference clips"
    assert {"speedup", "fad_ratio", "met"} <= set(record["goal"])
    # -p reached the run: each phase stopped where the parameters said (the engine also checkpoints at epoch ends)
    from musicnet_ldm.engine import checkpoints
    (work,) = (run / "distill").iterdir()
    for phase, steps in (("kd", 3), ("lcm", 2)):
        assert [p.name for p in checkpoints(work / phase / "checkpoints")][-1] == f"step_{steps}"
        assert json.loads((work / phase / "train_summary.json").read_text())["steps"] == steps
        # a phase shorter than log_every (smoke: 5) still logs its last step
        logged = [json.loads(l) for l in (work / phase / "train_log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in logged if r["event"] == "train"] == [steps]
    assert json.loads((run / "student" / "distill.json").read_text())["num_inference_steps"] == 2
    # distill.scheduler
    assert json.loads((run / "student" / "model_index.json").read_text())["scheduler"][1] == "TCDScheduler"
    assert (run / "figures" / "distill_loss.png").is_file() and "| student |" in (run / "distill.md").read_text()


@pytest.mark.slow          # papermill (the module fixture)
def test_no_evaluation_prompt_is_trained_on(smoke_distill):
    "The training prompts are MusicNet train-split prompts, none of them a Table 1 or test-split prompt (any style)."
    from musicnet_ldm.core import load_config
    from musicnet_ldm.generate import read_prompts
    from musicnet_ldm.musicnet import PROMPT_STYLES, build_prompt, clip_index_from_config
    run, record = smoke_distill
    cfg = load_config("smoke")
    index = clip_index_from_config(cfg)
    trained = set(record["training"]["prompts"])
    assert trained and record["training"]["n_clips"] == len(record["training"]["prompts"])
    assert trained <= {build_prompt(c, style=cfg.data.prompt_style) for c in index.split("train")}
    evaluation = set(read_prompts(ROOT / "prompts/table1.txt")) | {build_prompt(c, style=s) for c in index.split("test")
                                                                   for s in PROMPT_STYLES}
    from musicnet_ldm.evaluate import read_samples
    evaluation |= {s["prompt"] for system in (run / "samples").iterdir() for s in read_samples(system)}
    assert not trained & evaluation


@pytest.mark.slow          # papermill (the module fixture)
def test_student_row_uses_the_same_protocol_as_its_teacher(smoke_distill):
    "The student's clips carry the teacher's prompt sets, prompts and seeds, and are paired with them clip by clip."
    from musicnet_ldm.evaluate import protocol_subsets, read_samples
    run, record = smoke_distill
    student, teacher = read_samples(run / "samples/student"), read_samples(run / "samples/pretrained")
    key = lambda s: (s["name"], s["prompt"], s["seed"], s["prompt_set"])
    assert sorted(map(key, student)) == sorted(map(key, teacher))
    assert {s["prompt_set"] for s in student} == {"table1", "musicnet_test"}
    subsets = protocol_subsets(student)
    assert subsets["fad"] and all(s["prompt_set"] == "musicnet_test" and "notes" in s for s in subsets["adherence"])
    assert all(s["prompt_set"] == "table1" for s in subsets["clap"])
    assert all(s["teacher_system"] == "pretrained" and s["guidance_scale"] == 1.0 and s["steps"] == 2 for s in student)
    from musicnet_ldm.evaluate import system_pairs
    assert ("student", "pretrained") in system_pairs(run)      # Table 1 pairs the student with the teacher it names


def test_missing_finetuned_teacher_is_an_error(tmp_path):
    "No best/ in the run and no explicit teacher: an error naming the choice, never a silent pretrained teacher."
    from musicnet_ldm.core import load_config
    from musicnet_ldm.distill import load_teacher
    with pytest.raises(FileNotFoundError, match="-p teacher pretrained"):
        load_teacher(load_config("smoke"), tmp_path)


@pytest.mark.slow          # a timing benchmark of teacher and student
def test_bench_distill_defaults():
    import torch
    from musicnet_ldm.distill_bench import bench_distill
    torch.set_num_threads(1)     # shared CI cores: OpenMP spin-waiting makes 2 threads far slower than 1
    ratio = bench_distill(log=lambda *_: None)   # tiny teacher, 8 guided steps vs a fresh narrow student, 4 steps
    assert 0 < ratio < 1
