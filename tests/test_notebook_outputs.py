"""The committed notebooks' kept outputs are for a reader on GitHub: no machine's absolute path, no stderr (warnings,
progress bars). `tools/keep_outputs.py` writes them so; this checks what is committed."""
import json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MACHINE_PATH = re.compile(r"(?<![\w.:/<])/(?:work|tmp|home|root|Users|mnt|srv|opt|usr)/\S")


@pytest.mark.parametrize("notebook", sorted((ROOT/"nbs").glob("*.ipynb")), ids=lambda p: p.name)
def test_outputs_carry_no_machine_path_and_no_stderr(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    outputs = [(i, o) for i, c in enumerate(cells) for o in c.get("outputs", [])]
    assert not [i for i, o in outputs if o.get("name") == "stderr"], "stderr kept"
    found = [(i, m.group(0)) for i, o in outputs for m in MACHINE_PATH.finditer(json.dumps(o))]
    assert not found, found[:5]


def test_the_check_sees_a_path():
    assert MACHINE_PATH.search(json.dumps({"text": ["saved to /tmp/tmpab12/run\n"]}))
    assert not MACHINE_PATH.search(json.dumps({"text": ["saved to <tmp>/run, see https://github.com/x/y\n"]}))
