"""`python -m musicnet_ldm.reproduce --preset full --check` on a machine without the full preset's pieces: it exits 1
and names each missing piece with the command that fetches it. Caches point at empty folders,
CUDA is hidden and `laion_clap`
is shadowed by a package that fails to import, so the result does not depend on what this machine has installed."""
import os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow          # the full preset's --check in a subprocess
def test_full_check_names_every_missing_piece(tmp_path):
    shadow = tmp_path / "shadow" / "laion_clap"; shadow.mkdir(parents=True)
    # as a partial install fails
    (shadow / "__init__.py").write_text("raise ImportError('No module named torchvision')\n")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "TORCH_HOME": str(tmp_path / "torch"),
           "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"), "LAION_CLAP_CKPT": "",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path / "shadow")])}
    r = subprocess.run([sys.executable, "-m", "musicnet_ldm.reproduce", "--preset", "full", "--check"], cwd=ROOT,
                       env=env,
                       capture_output=True, text=True, timeout=300)
    out = r.stdout
    assert r.returncode == 1, out + r.stderr[-3000:]
    expected = {   # what must be named → the command that fetches it
        "[MISS] data MusicNet": "download_musicnet(",
        "[MISS] weights cvssp/audioldm2-music": "huggingface-cli download cvssp/audioldm2-music",
        "[MISS] embedder vggish: weights": "torch.hub.load('harritaylor/torchvggish', 'vggish')",
        "[MISS] embedder clap-hf-music: weights laion/larger_clap_music": "huggingface-cli download "
                                                                          "laion/larger_clap_music",
        "[MISS] embedder clap-laion-music: package laion_clap": "pip install --no-deps laion-clap",
        "[MISS] embedder clap-laion-music: checkpoint": "huggingface-cli download lukewys/laion_clap "
                                                        "music_audioset_epoch_15_esc_90.14.pt",
        "[MISS] embedder clap-laion-music: text branch roberta-base": "huggingface-cli download roberta-base",
        "[MISS] gpu": "CUDA GPU",
    }
    lines = out.splitlines()
    for what, fix in expected.items():
        i = next((k for k, l in enumerate(lines) if l.startswith(what)), None)
        assert i is not None, f"{what!r} not named:\n{out}"
        fetch = lines[i + 1]
        assert fetch.strip().startswith("fetch:") and fix in fetch, f"{what}: no fetch command {fix!r}:\n{out}"
    assert "No module named torchvision" in out                  # an import-time failure is reported, not only absence
    assert out.strip().endswith(f"{len(expected)} missing: fix them, then run --check again"), out


def test_check_projects_disk_and_gpu_from_the_weights(tmp_path, monkeypatch):
    import shutil, torch
    from musicnet_ldm import check
    from musicnet_ldm.core import load_config
    from musicnet_ldm.hub import tiny_audioldm2
    tiny_audioldm2().save_pretrained(tmp_path / "model")          # the hub's layout, tiny weights
    cfg = load_config("full",
                      {"model": str(tmp_path / "model"), "evaluate.fad_embedders": ["tiny"],
                       "evaluate.clap_backend": "tiny", "evaluate.clap_agreement": "tiny",
                               "distill.fad_embedding": "tiny", "distill.clap_embedding": "tiny",
                               "evaluate.transcriber": "cqt-peaks",
                               "data.synthetic": {"recordings": 2, "seconds": 12}})
    # 1 MiB free: below even this 24 s synthetic fixture's projection (the check projects the fixture's own size)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(2**40, 2**40 - 2**20, 2**20))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rep = check.check_environment(cfg)
    bad = {c["what"]: c for c in rep["checks"] if not c["ok"]}
    assert set(bad) == {"gpu", "disk"}, bad                        # weights, layout, embedders, kernel all present
    assert ("projected" in bad["disk"]["detail"] and "checkpoints" in bad["disk"]["detail"]
            and "student" in bad["disk"]["detail"])
    assert rep["estimate"]["unet_params"] == sum(p.numel() for p in tiny_audioldm2().unet.parameters())
