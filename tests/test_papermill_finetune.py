"""03_finetune as users run it: `papermill nbs/03_finetune.ipynb out.ipynb -p epochs 2 -p output_dir …` (smoke preset),
and the two mistakes a new user makes: a misspelt parameter and a value out of range,
each stopped in the first cells."""
import json, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
pm = pytest.importorskip("papermill")
pytestmark = pytest.mark.slow          # every test starts a papermill kernel


def _run(tmp_path, **parameters):
    return pm.execute_notebook(str(ROOT / "nbs/03_finetune.ipynb"), str(tmp_path / "out.ipynb"), cwd=str(ROOT),
                               parameters=parameters, kernel_name="python3", progress_bar=False)


def test_finetune_notebook_papermill(tmp_path):
    run = tmp_path / "run"
    _run(tmp_path, epochs=2, output_dir=str(run))
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
    # MusicNet's cache, not toy items
    assert json.loads((run / "train_summary.json").read_text())["data"] == "cache"
    # the best folder is a plain AudioLDM2 folder too (the adapter is ignored there)
    from diffusers import AudioLDM2Pipeline
    plain = AudioLDM2Pipeline.from_pretrained(str(run / "best"))
    assert type(plain) is AudioLDM2Pipeline and plain.unet.config.in_channels == 8


@pytest.mark.parametrize("parameters, message", [
    ({"epoch": 2}, "unknown parameter(s) ['epoch']; known: ['preset'] + ["),         # a typo for `epochs`
    ({"epochs": -1}, "train.epochs = -1 is not allowed: epochs must be int ≥ 1"),
], ids=["typo", "out_of_range"])
def test_bad_parameter_stops_the_notebook_at_once(tmp_path, parameters, message):
    run = tmp_path / "run"
    with pytest.raises(pm.PapermillExecutionError) as e:
        _run(tmp_path, preset="smoke", output_dir=str(run), **parameters)
    assert message in str(e.value), str(e.value)[-2000:]
    nb = json.loads((tmp_path / "out.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    failed = next(i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    assert failed <= 5, f"the notebook stopped in code cell {failed}, not in its first cells"
    assert not run.exists()                                               # nothing was trained or written
