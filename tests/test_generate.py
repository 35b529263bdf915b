"""04_generate as the pipeline runs it: papermill on a run directory whose fine-tuning left a `best/` checkpoint,
with the MusicNet test-split prompts of a synthetic fixture when the data modules are there."""
import json, sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow          # papermill

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def test_generate_notebook_smoke(tmp_path):
    pm = pytest.importorskip("papermill")
    from musicnet_ldm.hub import tiny_audioldm2
    from musicnet_ldm.generate import read_prompts
    run = tmp_path / "run"
    tiny_audioldm2(seed=1).save_pretrained(run / "best")            # stands in for the fine-tuned checkpoint
    prompts = tmp_path / "prompts.txt"
    # the ukulele prompt and one more
    prompts.write_text("\n".join(read_prompts(ROOT / "prompts/table1.txt")[:2]) + "\n")
    preset = "smoke"
    try: from musicnet_ldm.fixture import make_fixture
    except ImportError: make_fixture = None
    if make_fixture is not None:   # a preset whose MusicNet is a one-test-clip fixture
        cfg = yaml.safe_load((ROOT / "params/smoke.yaml").read_text())
        cfg["data"]["root"] = str(make_fixture(tmp_path / "musicnet", recordings=3, seconds=12, test_recordings=1))
        cfg["generate"]["max_test_prompts"] = 1                     # one test clip of the preset's length
        preset = tmp_path / "smoke.yaml"
        preset.write_text(yaml.safe_dump(cfg))
    pm.execute_notebook(str(ROOT / "nbs/04_generate.ipynb"), str(tmp_path / "executed.ipynb"), cwd=str(ROOT),
                        parameters={"preset": str(preset), "output_dir": str(run), "steps": 2,
                                    "prompts_file": str(prompts)},
                        kernel_name="python3", progress_bar=False)
    for system in ("pretrained", "finetuned"):
        wavs = sorted((run / "samples" / system).glob("*.wav"))
        assert [w.stem for w in wavs][:2] == ["000_a-cheerful-ukulele-strumming-in-a-beachs_s0",
                                              "001_a-solo-piano-piece-in-the-style-of-bach_s0"]
        metas = [json.loads(w.with_suffix(".json").read_text()) for w in wavs]
        assert all(m["steps"] == 2 and m["system"] == system for m in metas)
        assert [m["prompt_set"] for m in metas] == ["table1"] * 2 + ["musicnet_test"] * (make_fixture is not None)
    assert metas[0]["model"] == str(run / "best")
    if make_fixture is not None:
        test_record = json.loads((run / "prompts" / "test.jsonl").read_text().splitlines()[0])
        assert metas[2]["notes"] == test_record["notes"] and metas[2]["recording_id"] == test_record["recording_id"]
    for name in ("fig4_pretrained", "fig5_finetuned", "fig4_5_side_by_side"):
        for ext in ("png", "pdf"): assert (run / "figures" / f"{name}.{ext}").stat().st_size > 10_000
    bench = json.loads((run / "generate_bench.json").read_text())
    assert [r["steps"] for r in bench] == [2, 4, 8] and all(r["rtf"] > 0 for r in bench)
