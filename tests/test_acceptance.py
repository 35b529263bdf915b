"""The first-GPU-hour acceptance command, `python -m musicnet_ldm.reproduce --preset P --acceptance`, on the committed
stand-in and the smoke preset's synthetic MusicNet, sized for CI: it passes, writes its JSON and prints its table; a
failed check and each failed criterion (NaN/inf loss, memory 1.5× the projection, a fixed-batch loss that does not
fall, NaN audio) make it exit non-zero, naming what failed."""
import copy, json, math, os, subprocess

import pytest

from conftest import PYTHON, ROOT

from musicnet_ldm import check, reproduce

COMMAND = ["-m", "musicnet_ldm.reproduce", "--preset", "smoke", "--model", "standin", "--acceptance",
           "--clips", "16", "--steps", "20", "--gen-steps", "10"]
KEYS = {"preset", "model", "device", "clips", "steps", "json", "check", "cache", "train", "generate", "figures",
        "failed", "ok", "seconds"}


@pytest.mark.slow          # the acceptance run in a subprocess
def test_acceptance_passes_on_the_standin(tmp_path):
    out = tmp_path / "acceptance_smoke.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    r = subprocess.run([PYTHON, *COMMAND, "--acceptance-out", str(out)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    print(r.stdout)                                                  # the table, in the test log
    rep = json.loads(out.read_text())
    assert KEYS <= set(rep), KEYS - set(rep)
    assert rep["ok"] and rep["failed"] == [] and rep["check"]["ok"] and (rep["model"], rep["steps"]) == ("standin", 20)
    assert rep["cache"]["clips"] == 16 and rep["cache"]["nonfinite"] == {}
    t = rep["train"]
    assert len(t["losses"]) == 20 and all(math.isfinite(v) for v in t["losses"]) and t["nonfinite_steps"] == 0
    assert t["fixed_batch_loss_after"] < t["fixed_batch_loss_before"]
    assert t["median_step_s"] > 0 and t["peak_memory_gib"] > 0 and t["mixed_precision"] == "no"
    g = rep["generate"]
    assert (g["clips"], g["steps"]) == (4, 10)
    assert len(list((tmp_path / "acceptance_smoke" / "samples").rglob("*.wav"))) == 4   # in the folder beside the JSON
    assert all(c["finite"] and c["problem"] is None for c in g["levels"])
    assert g["clap"]["backend"] == "tiny" and -1 <= g["clap"]["clap"] <= 1           # the smoke preset's CLAP
    for name, figure in rep["figures"].items():                     # a CPU run: measured, and no projection to compare
        assert figure["measured"] > 0 and figure["ratio"] is None, name
        assert figure["projected"].startswith("n/a (cpu run: the projection is for the real geometry on a GPU"), name
    lines = r.stdout.splitlines()
    assert "| figure | measured | projected | measured / projected |" in lines and "PASSED" in lines
    assert any(l.startswith("| fixed-batch loss, before → after |") for l in lines) and f"report: {out}" in lines


def test_a_failed_check_ends_the_run_with_the_check_table(tmp_path, capsys):
    out = tmp_path / "acceptance.json"
    code = reproduce.main(["--preset", "smoke", "--model", str(tmp_path / "no-such-model"), "--acceptance",
                           "--acceptance-out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    assert f"[MISS] weights {tmp_path / 'no-such-model'}" in printed
    assert "missing: fix them, then run --check again" in printed
    rep = json.loads(out.read_text())
    assert not rep["ok"] and rep["failed"][0].startswith("check: weights") and "train" not in rep


PASSING = {"preset": "smoke", "model": "standin", "device": "cpu", "clips": 16, "steps": 20, "json": "acceptance.json",
           "check": {"ok": True}, "cache": {"nonfinite": {}},
           "train": {"losses": [0.3, 0.2], "nonfinite_steps": 0, "error": None, "fixed_batch_loss_before": 0.3,
                     "fixed_batch_loss_after": 0.2},
           "generate": {"clips": 1, "steps": 10, "levels": [{"clip": "a.wav", "finite": True, "problem": None,
                                                             "rms_dbfs": -30.0}]}}


def _report(peak_gib: float = 10.0, audio_finite: bool = True, **train) -> dict:
    "PASSING with `train` changes, a training peak of `peak_gib` against a projected 10 GiB and its audio (not) finite."
    rep = copy.deepcopy(PASSING)
    rep["train"].update(train)
    if not audio_finite: rep["generate"]["levels"][0].update(finite=False, rms_dbfs=None, problem="a.wav: NaN/inf")
    rep["figures"] = check.acceptance_figures({"peak_memory_gib": peak_gib}, None,
                                              {"s_per_step": 1.0, "peak_gib": 10.0, "s_per_clip": 1.0})
    rep["failed"] = check.acceptance_verdict(rep)
    rep["ok"] = not rep["failed"]
    return rep


def test_each_failed_criterion_exits_non_zero_naming_it(monkeypatch, capsys):
    cases = {"loss finite": _report(losses=[0.3, float("nan")]),
             "memory: the peak 15.00 GiB is 1.50× the projected 10.0 GiB": _report(peak_gib=15.0),
             "fixed batch overfits: its loss went 0.3 → 0.31, not down": _report(fixed_batch_loss_after=0.31),
             "audio finite: NaN/inf in ['a.wav']": _report(audio_finite=False)}
    for name, rep in cases.items():
        assert len(rep["failed"]) == 1 and rep["failed"][0].startswith(name), (name, rep["failed"])
        monkeypatch.setattr(check, "acceptance", lambda *a, _rep=rep, **k: _rep)
        assert reproduce.main(["--preset", "smoke", "--acceptance"]) == 1, name
        printed = capsys.readouterr().out
        assert f"FAILED:\n- {rep['failed'][0]}" in printed, printed
    monkeypatch.setattr(check, "acceptance", lambda *a, **k: _report())       # the same report, nothing failed
    assert reproduce.main(["--preset", "smoke", "--acceptance"]) == 0 and "PASSED" in capsys.readouterr().out
