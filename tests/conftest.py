import os, sys
from pathlib import Path

# Tests never reach a model hub: a real model id must fail fast with a clear message.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
