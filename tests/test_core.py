"Foundation: the README's one-liner, the offline error for real model ids, and the parameters tag surviving nbdev_clean."
import json, os, subprocess, sys, time
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT

OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1"}


def test_tiny_one_liner_generates_a_full_clip():
    code = ("from musicnet_ldm.core import tiny_audioldm2; "
            "a = tiny_audioldm2()('a violin solo', num_inference_steps=2).audios; print(a.shape)")
    out = subprocess.run([PYTHON, "-c", code], env=OFFLINE, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "(1, 163840)"


@pytest.mark.parametrize("model_id", ["cvssp/audioldm2-music", "cvssp/audioldm2"])
def test_real_model_offline_fails_fast_and_clearly(model_id, tmp_path):
    env = {**OFFLINE, "HF_HOME": str(tmp_path)}       # an empty cache: the weights are certainly absent
    code = f"from musicnet_ldm.core import load_pretrained; load_pretrained({model_id!r}, device='cpu')"
    t0 = time.time()
    out = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert time.time() - t0 < 60
    assert out.returncode != 0
    assert "ModelNotAvailableError" in out.stderr
    assert f"huggingface-cli download {model_id}" in out.stderr
    assert str(tmp_path) in out.stderr                  # names the cache it looked in


def _has_parameters_cell(nb_path):
    return any("parameters" in c.get("metadata", {}).get("tags", []) for c in json.loads(Path(nb_path).read_text())["cells"])


def test_parameters_tag_survives_nbdev_clean(tmp_path):
    "papermill silently uses defaults when the `parameters` tag is lost; nbdev_clean must keep it."
    import shutil, nbformat
    work = tmp_path/"repo"; shutil.copytree(ROOT/"nbs", work/"nbs"); shutil.copy(ROOT/"settings.ini", work)
    (work/"musicnet_ldm").mkdir()
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("epochs = 1")])
    probe.cells[0].metadata.update({"tags": ["parameters"], "scrolled": True})   # nbdev_clean drops `scrolled`
    nbformat.write(probe, work/"nbs"/"99_probe.ipynb")
    tagged = [nb.name for nb in (work/"nbs").glob("*.ipynb") if _has_parameters_cell(nb)]
    out = subprocess.run([str(Path(PYTHON).parent/"nbdev_clean")], cwd=work, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "scrolled" not in (work/"nbs"/"99_probe.ipynb").read_text()        # the clean really ran
    for name in tagged: assert _has_parameters_cell(work/"nbs"/name), name
