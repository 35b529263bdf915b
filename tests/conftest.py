import os, socket, sys
from pathlib import Path

# Tests never reach a model hub: a real model id must fail fast with a clear message.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    "A TCP port no process listens on now: DDP tests get their own, since the tests run in parallel (pytest-xdist)."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# `make test` runs the files on two workers (pytest-xdist, --dist loadfile --no-loadscope-reorder: by default xdist
# would reorder files by their number of tests), which take files in collection order:
# the longest start first, so that neither worker is left alone with one of them at the end; the last four are the
# longest of `make test-fast`, which leaves out the slow ones
LONGEST_FIRST = ("test_reproduce_smoke.py", "test_learning.py", "test_papermill_finetune.py", "test_dry_run.py",
                 "test_generate.py", "test_reliability.py", "test_distill.py",
                 "test_prediction_types.py", "test_cache_precision.py", "test_clap_fadtk.py", "test_best_checkpoint.py")


def pytest_configure(config):
    # `make test-fast` runs what is not marked slow; a new test is fast unless marked, so mark it when it runs a stage
    config.addinivalue_line("markers",
                            "slow: papermill, a whole stage or DDP in subprocesses, the smoke run, a browser, "
                            "or more than about 10 s on one idle core; `make test-fast` leaves it out")


def pytest_collection_modifyitems(config, items):
    rank = lambda item: LONGEST_FIRST.index(item.path.name) if item.path.name in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)                   # stable: the order inside a file is kept
