"""Reliability suite (issue 9, item 5): every bad-input class gets its clear error or counted skip, and a
training run killed with SIGKILL (mid-epoch, and mid-checkpoint-write) resumes to the same final weights.

Run: HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 python -m pytest -q tests/test_reliability.py"""
import json, os, shutil, signal, subprocess, sys, textwrap, time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musicnet_ldm import audio, cache, config, core, finetune, generate, musicnet
from musicnet_ldm.fixture import make_fixture

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
RESULTS: dict = {}          # bad-input class -> "survived" | "FAILED"


def _env(**extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
    env.update(extra)
    return env


# ---------------------------------------------------------------- bad inputs
@pytest.fixture(scope="module")
def base_fixture(tmp_path_factory):
    return make_fixture(tmp_path_factory.mktemp("rel") / "musicnet", recordings=4, seconds=3.0, test_recordings=1)


@pytest.fixture
def data(base_fixture, tmp_path):
    "A private copy of the fixture and one train recording (its wav, labels, id) to break."
    root = tmp_path / "musicnet"
    shutil.copytree(base_fixture, root)
    wav = sorted((root / "train_data").glob("*.wav"))[0]
    return root, wav, root / "train_labels" / f"{wav.stem}.csv", int(wav.stem)


def _skipped(root, rid, reason, **kw):
    "build_clip_index counts `rid` as a `reason` skip, names the file; strict=True raises DataError."
    idx = musicnet.build_clip_index(root, clip_seconds=2.0, **kw)
    assert idx.skip_counts()[reason] == 1, idx.summary()
    (s,) = [s for s in idx.skipped if s["recording_id"] == rid]
    assert s["reason"] == reason and str(rid) in s["message"]
    assert rid not in idx.recordings() and len(idx) > 0          # the others survive
    with pytest.raises(musicnet.DataError, match=str(rid)):
        musicnet.build_clip_index(root, clip_seconds=2.0, strict=True, **kw)
    return idx


def case_corrupt_wav(d, tmp_path):
    root, wav, _, rid = d
    wav.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + os.urandom(2000))
    _skipped(root, rid, "corrupt_wav")
    with pytest.raises(audio.AudioError, match=wav.name):
        audio.load_audio(wav)


def case_truncated_wav(d, tmp_path):
    root, wav, _, rid = d
    b = wav.read_bytes(); wav.write_bytes(b[: len(b) // 2])
    idx = _skipped(root, rid, "truncated_wav")
    assert "truncated" in idx.skipped[0]["message"]


def case_silent_recording(d, tmp_path):
    root, wav, _, rid = d
    x, sr = sf.read(wav); sf.write(wav, np.zeros_like(x), sr, subtype="PCM_16")
    _skipped(root, rid, "silent_recording")


def _accepted(root, rid, counter):
    idx = musicnet.build_clip_index(root, clip_seconds=2.0)
    assert not idx.skipped and idx.counts[counter] == 1 and rid in idx.recordings(), idx.summary()
    clip = next(c for c in idx if c.recording_id == rid)
    x = audio.load_clip_audio(clip)
    assert x.shape == (audio.CLIP_SAMPLES,) and x.dtype == np.float32 and np.isfinite(x).all() and np.abs(x).max() > 0


def case_stereo_wav(d, tmp_path):
    root, wav, _, rid = d
    x, sr = sf.read(wav); sf.write(wav, np.stack([x, 0.5 * x], 1), sr, subtype="PCM_16")
    _accepted(root, rid, "stereo_or_multichannel")


def case_odd_rate_wav(d, tmp_path):
    root, wav, _, rid = d
    x, sr = sf.read(wav); sf.write(wav, x[::2], sr // 2, subtype="PCM_16")     # same duration at 22,050 Hz
    _accepted(root, rid, f"rate_{sr // 2}")


def _edit_label(csv, col, value):
    lines = csv.read_text().splitlines()
    cols = lines[0].split(",")
    row = lines[2].split(","); row[cols.index(col)] = value; lines[2] = ",".join(row)    # file line 3
    csv.write_text("\n".join(lines) + "\n")


def case_malformed_label_row(d, tmp_path):
    root, _, csv, rid = d
    _edit_label(csv, "start_time", "abc")
    with pytest.raises(musicnet.LabelError, match=rf"{csv.name}, line 3: start_time='abc'"):
        musicnet.read_labels(csv)
    _skipped(root, rid, "bad_labels")


def case_unknown_instrument(d, tmp_path):
    root, _, csv, rid = d
    _edit_label(csv, "instrument", "200")
    with pytest.raises(musicnet.LabelError, match=rf"{csv.name}, line 3: unknown instrument code"):
        musicnet.read_labels(csv)
    with pytest.raises(musicnet.LabelError, match="unknown instrument code 200"):
        musicnet.instrument_name(200)
    _skipped(root, rid, "bad_labels")


def case_missing_metadata(d, tmp_path):
    root, _, _, rid = d
    meta = root / musicnet.METADATA_FILE
    lines = meta.read_text().splitlines()
    meta.write_text("\n".join(l for l in lines if not l.startswith(f"{rid},")) + "\n")
    _skipped(root, rid, "no_metadata")


def case_missing_weights_offline(d, tmp_path):
    code = ("from musicnet_ldm import hub\n"
            "try: hub.load_pretrained('cvssp/audioldm2-music', device='cpu')\n"
            "except hub.ModelNotAvailableError as e: print('MNA:', e); raise SystemExit(3)\n")
    r = subprocess.run([PY, "-c", code],
                       env=_env(HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub")),
                       capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "MNA:" in r.stdout and "cvssp/audioldm2-music" in r.stdout and "huggingface-cli download" in r.stdout


@pytest.fixture(scope="module")
def tiny_pipe():
    from musicnet_ldm.model import load_pipeline
    return load_pipeline("tiny", device="cpu")


def case_nan_loss(d, tmp_path, pipe):
    items = finetune.toy_conditioned_latents(pipe, n=4, frames=16)
    for it in items: it["latents"] = torch.full_like(it["latents"], float("nan"))
    with pytest.raises(FloatingPointError, match="3 non-finite losses in a row"):
        finetune.fit(pipe, items, items[:2], tmp_path / "run", empty=finetune.empty_conditioning(pipe),
                     collate=cache.collate, max_steps=6, batch_size=2, eval_batch_size=2, max_nonfinite=3,
                     log=lambda *a: None)
    assert finetune.checkpoints(tmp_path / "run" / "checkpoints")                 # state kept for a post-mortem


def case_unwritable_output_dir(d, tmp_path):
    blocker = tmp_path / "a_file"; blocker.write_text("x")     # root ignores chmod: a path under a file is unwritable
    loaded = []
    real, generate.load_model = generate.load_model, lambda *a, **k: loaded.append(a) or real(*a, **k)
    try:
        with pytest.raises(PermissionError, match=rf"output directory {blocker}/sub.* is not writable"):
            generate.generate("tiny", ["a solo piano piece"], seeds=(0,), steps=2, out_dir=blocker / "sub",
                              progress=False)
    finally: generate.load_model = real
    assert not loaded                                               # refused before loading a model or any compute


def case_stale_cache(d, tmp_path, pipe):
    root = d[0]
    clips = musicnet.build_clip_index(root, clip_seconds=2.0).clips[:1]
    folder = tmp_path / "cache"
    cache.build_cache(pipe, clips, folder, {"top_db": 60}, log=None)
    assert cache.build_cache(pipe, clips, folder, {"top_db": 60}, log=None) == folder    # same settings: reused
    with pytest.raises(RuntimeError, match="other settings"):
        cache.build_cache(pipe, clips, folder, {"top_db": 30}, log=None)
    cfg = core.load_config("smoke")
    cfg2 = core.load_config("smoke", {"data.top_db": 30})
    assert cache.cache_dir_for(cfg) != cache.cache_dir_for(cfg2)


CASES = [case_corrupt_wav, case_truncated_wav, case_silent_recording, case_stereo_wav, case_odd_rate_wav,
         case_malformed_label_row, case_unknown_instrument, case_missing_metadata, case_missing_weights_offline,
         case_nan_loss, case_unwritable_output_dir, case_stale_cache]
NEEDS_PIPE = {case_nan_loss, case_stale_cache}


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_bad_input(case, data, tmp_path, request):
    name = case.__name__[5:]
    RESULTS[name] = "FAILED"
    args = (data, tmp_path) + ((request.getfixturevalue("tiny_pipe"),) if case in NEEDS_PIPE else ())
    case(*args)
    RESULTS[name] = "survived"


# ---------------------------------------------------------------- kill -9 and resume
DRIVER = textwrap.dedent("""
    import os, sys, signal, time
    import torch
    torch.set_num_threads(1)
    from musicnet_ldm import cache, engine, finetune
    from musicnet_ldm.model import load_pipeline
    out = sys.argv[1]
    slow = float(os.environ.get("DRIVER_SLOW", "0"))
    kill_at_save = int(os.environ.get("DRIVER_KILL_AT_SAVE", "0"))
    if slow:                                   # widen the mid-epoch window; numerics are unchanged
        _loss = finetune.diffusion_loss
        def diffusion_loss(*a, **k): time.sleep(slow); return _loss(*a, **k)
        finetune.diffusion_loss = diffusion_loss
    if kill_at_save:                           # SIGKILL inside the checkpoint write, after half the state is on disk
        _save = engine.save_checkpoint
        def save_checkpoint(acc, ckpt_dir, step, *a, **k):
            if step == kill_at_save:
                tmp = os.path.join(str(ckpt_dir), f".tmp_step_{step}")
                acc.save_state(tmp)
                files = sorted(os.path.join(r, f) for r, _, fs in os.walk(tmp) for f in fs)
                with open(files[0], "r+b") as f: f.truncate(max(1, os.path.getsize(files[0]) // 2))
                os.kill(os.getpid(), signal.SIGKILL)
            return _save(acc, ckpt_dir, step, *a, **k)
        engine.save_checkpoint = save_checkpoint          # the training engine writes the checkpoints
    pipe = load_pipeline("tiny", device="cpu")
    items = finetune.toy_conditioned_latents(pipe, n=8, frames=32)
    ev = finetune.toy_conditioned_latents(pipe, n=2, frames=32, seed=1)
    s = finetune.fit(pipe, items, ev, out, empty=finetune.empty_conditioning(pipe), collate=cache.collate,
                     max_steps=12, batch_size=2, eval_batch_size=2, lr=1e-3, keep_checkpoints=2,
                     resume_from="latest", log_every=1, mixed_precision="no", log=print)
    sd = {"unet." + k: v.detach().cpu().clone() for k, v in pipe.unet.state_dict().items()}
    sd.update({"adapter." + k: v.detach().cpu().clone() for k, v in pipe.adapter.state_dict().items()})
    torch.save(sd, os.path.join(out, "final_weights.pt"))
    print("DONE", s["steps"])
""")


def _popen(tmp_path, out, **extra):
    drv = tmp_path / "driver.py"
    if not drv.exists(): drv.write_text(DRIVER)
    log = open(tmp_path / f"{Path(out).name}.{time.time_ns()}.log", "w")
    return subprocess.Popen([PY, str(drv), str(out)], env=_env(**extra), stdout=log, stderr=subprocess.STDOUT,
                            cwd=tmp_path, start_new_session=True), log


def _finish(p, log, timeout=150):
    try: p.wait(timeout=timeout)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL); p.wait()
        log.close()
    return p.returncode, Path(log.name).read_text()


def _max_step(out):
    path = Path(out) / "train_log.jsonl"
    if not path.exists(): return 0
    steps = []
    for line in path.read_text().splitlines():
        try: steps.append(json.loads(line).get("step", 0))
        except json.JSONDecodeError: pass          # a line being written
    return max(steps, default=0)


def _weights(out):
    return torch.load(Path(out) / "final_weights.pt")


def _assert_same(a, b):
    assert a.keys() == b.keys()
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    assert worst <= 1e-6, f"final weights differ by {worst}"


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    "An uninterrupted run, started in the background so it overlaps the kill tests."
    tmp = tmp_path_factory.mktemp("ref")
    p, log = _popen(tmp, tmp / "ref")
    yield lambda: (_finish(p, log), tmp / "ref")[1]
    if p.poll() is None: os.killpg(p.pid, signal.SIGKILL); p.wait()


@pytest.mark.slow          # training runs killed and resumed in subprocesses
def test_kill9_mid_epoch_then_resume(tmp_path, reference_run):
    out = tmp_path / "run"
    p, log = _popen(tmp_path, out, DRIVER_SLOW="0.25")
    try:
        deadline = time.time() + 120
        while _max_step(out) < 5:
            assert p.poll() is None, Path(log.name).read_text()[-3000:]
            assert time.time() < deadline, "training never reached step 5"
            time.sleep(0.02)
        os.kill(p.pid, signal.SIGKILL)
    finally:
        rc, text = _finish(p, log, timeout=30)
    assert rc == -signal.SIGKILL
    killed_at = _max_step(out)
    assert 5 <= killed_at < 8, killed_at                              # inside epoch 2 (steps 5-8)
    assert [c.name for c in finetune.checkpoints(out / "checkpoints")] == ["step_4"]
    rc, text = _finish(*_popen(tmp_path, out))
    assert rc == 0 and "resumed from" in text and "step_4" in text and "DONE 12" in text, text[-3000:]
    ref = reference_run()
    assert (ref / "final_weights.pt").exists(), "reference run failed"
    _assert_same(_weights(out), _weights(ref))
    RESULTS["kill -9 mid-epoch → resume"] = "survived"


@pytest.mark.slow          # training runs killed and resumed
def test_kill9_mid_checkpoint_write_then_resume(tmp_path, reference_run):
    out = tmp_path / "run"
    rc, text = _finish(*_popen(tmp_path, out, DRIVER_KILL_AT_SAVE="8"))
    assert rc == -signal.SIGKILL, text[-3000:]
    ck = out / "checkpoints"
    assert (ck / ".tmp_step_8").is_dir() and [c.name for c in finetune.checkpoints(ck)] == ["step_4"]
    (ck / ".tmp_step_999").mkdir(); (ck / ".tmp_step_999" / "model.safetensors").write_bytes(b"junk")  # more debris
    rc, text = _finish(*_popen(tmp_path, out))
    assert rc == 0 and "resumed from" in text and "step_4" in text and "DONE 12" in text, text[-3000:]
    assert [c.name for c in finetune.checkpoints(ck)] == ["step_8", "step_12"]
    _assert_same(_weights(out), _weights(reference_run()))
    RESULTS["kill -9 mid-checkpoint-write → resume"] = "survived"


def test_zz_summary():
    "Printed last (run with -s to see it; also in the report of a failure)."
    bad = [k for k in RESULTS if k in {c.__name__[5:] for c in CASES}]
    survived = [k for k in bad if RESULTS[k] == "survived"]
    lines = [f"{k:40s} {v}" for k, v in RESULTS.items()]
    summary = f"{len(bad)} bad-input classes tried, {len(survived)} survived"
    print("\n".join(["", "reliability summary:", *lines, summary]))
    assert len(bad) == len(CASES) and len(survived) == len(bad), summary
