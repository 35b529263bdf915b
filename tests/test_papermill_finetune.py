"""03_finetune as users run it: `papermill nbs/03_finetune.ipynb out.ipynb -p epochs 2 -p output_dir …` (smoke preset)."""
import json, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def test_finetune_notebook_papermill(tmp_path):
    pm = pytest.importorskip("papermill")
    run = tmp_path / "run"
    pm.execute_notebook(str(ROOT / "nbs/03_finetune.ipynb"), str(tmp_path / "out.ipynb"), cwd=str(ROOT),
                        parameters={"epochs": 2, "output_dir": str(run)}, kernel_name="python3", progress_bar=False)
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines() if line.strip()]
    evals = [e for e in events if e.get("event") == "eval"]
    # the smoke preset's own epoch count differs from 2 only through -p: exactly two end-of-epoch evaluations
    assert len(evals) == 2, evals
    assert all(e["eval_loss"] == e["eval_loss"] and e["eval_loss"] > 0 for e in evals)   # finite, positive
    assert [e["epoch"] for e in evals] == sorted(e["epoch"] for e in evals) and evals[0]["step"] < evals[1]["step"]
    assert (run / "best" / "model_index.json").is_file()
    assert (run / "best" / "adapter" / "config.json").is_file()          # the smoke preset trains the adapter
    assert any(p.name.startswith("step_") for p in (run / "checkpoints").iterdir())
    assert (run / "figures" / "loss_curve.png").is_file() and (run / "figures" / "loss_curve.pdf").is_file()
    # the best folder is a plain AudioLDM2 folder too (the adapter is ignored there)
    from diffusers import AudioLDM2Pipeline
    plain = AudioLDM2Pipeline.from_pretrained(str(run / "best"))
    assert type(plain) is AudioLDM2Pipeline and plain.unet.config.in_channels == 8
