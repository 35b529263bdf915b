"""Two processes of one machine (torchrun, CPU) ask for the same preset's cache: one builds it, the other waits and
reads.

Both call `cache.training_data(cfg, pipe, log)` at the same moment, as every rank of `accelerate launch` does. The
file lock on the cache folder lets exactly one encode; both then read the same shards.
"""
import hashlib, json, os, subprocess, sys
from pathlib import Path

import pytest

from musicnet_ldm.fixture import make_fixture

pytestmark = pytest.mark.slow          # two torchrun processes

ROOT = Path(__file__).resolve().parents[1]

RANK_SCRIPT = r'''
import hashlib, json, os, sys
from pathlib import Path
from musicnet_ldm import cache
from musicnet_ldm.core import load_config
from musicnet_ldm.hub import tiny_audioldm2
root, cache_root, out = sys.argv[1:4]
cfg = load_config("smoke", {"data": {"root": root, "cache_dir": cache_root, "eval_fraction": 0.5, "workers": 1}})
cfg.data.synthetic = None
logs = []
train, ev, empty, _ = cache.training_data(cfg, tiny_audioldm2(), log=logs.append)
cdir = cache.cache_dir_for(cfg)
Path(out, f"rank{os.environ['RANK']}.json").write_text(json.dumps({
    "logs": logs, "files": sorted(p.name for p in cdir.iterdir()),
    "shards": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(cdir.glob("shard_*"))},
    "first_latents": train[0]["latents"].flatten()[:64].tolist(), "n": [len(train), len(ev)]}))
'''


def test_two_processes_build_the_cache_once(tmp_path):
    root = make_fixture(tmp_path / "musicnet", recordings=3, seconds=12.0, seed=0, test_recordings=1)
    (tmp_path / "rank.py").write_text(RANK_SCRIPT)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(tmp_path / "rank.py"), str(root), str(tmp_path / "cache"), str(tmp_path)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1)]
    built = [any(l.startswith("cache: encoded") for l in rk["logs"]) for rk in ranks]
    assert sorted(built) == [False, True], [rk["logs"] for rk in ranks]          # exactly one process encoded
    reader = ranks[built.index(False)]
    assert any("reused" in l for l in reader["logs"]), reader["logs"]            # the other found it complete
    assert ranks[0]["shards"] and ranks[0]["shards"] == ranks[1]["shards"]      # identical shards, seen by both
    assert ranks[0]["files"] == ranks[1]["files"] and not [f for f in ranks[0]["files"] if "tmp" in f]
    assert (ranks[0]["first_latents"] == ranks[1]["first_latents"] and ranks[0]["n"] == ranks[1]["n"]
            and min(ranks[0]["n"]) > 0)
    manifest = json.loads(next((tmp_path / "cache").glob("*/manifest.json")).read_text())
    assert manifest["complete"] and manifest["built_on"]["device"] == "cpu" and manifest["built_on"]["workers"] == 1
