"""The listening-test page in a real headless browser: load it, rate every clip, export, analyse.

Needs Debian's chromium (`apt-get install chromium`) and the `playwright` Python package (no browser download:
the system executable is used); skipped when either is missing."""
import json, os, shutil, sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from musicnet_ldm.listening import add_anchors, analyse_listening, build_listening_test, read_ratings, sf_write

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (uses the system chromium)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")

TRUTH = {"fine-tuned": (72, 61), "pre_trained": (48, 33), "real-reference": (90, 85)}


def make_kit(tmp_path):
    clips = []
    for s_i, system in enumerate(TRUTH):
        for k in range(2):
            t = np.arange(8000) / 16000
            path = tmp_path / f"{system}_{k}.wav"
            sf_write(path, (0.3 * np.sin(2 * np.pi * (200 + 100 * s_i + 30 * k) * t)).astype(np.float32))
            clips.append({"system": system, "path": path, "prompt": f"prompt {k}"})
    clips = add_anchors(clips, "real-reference", tmp_path / "anchors")
    return build_listening_test(clips, tmp_path / "kit", seed=1)


def rate_in_browser(html_path, key, rater, tmp_path, fmt, skip_rel_of=None):
    "Open the page, move every slider to the system's true score (the key tells the test, not the page), export."
    items = key["items"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(accept_downloads=True)
        page.goto(html_path.as_uri())
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        assert page.locator("audio").count() == len(items)
        # no export without a rater id
        page.click("#json")
        assert "rater ID" in page.inner_text("#status")
        page.fill("#rater", rater)
        order = page.eval_on_selector_all(".item", "els => els.map(e => e.dataset.item)")
        assert sorted(order) == sorted(items)
        for item in order:
            system = items[item]["system"]
            ovl, rel = TRUTH.get(system, (20, 30))
            block = page.locator(f'.item[data-item="{item}"]')
            block.locator('input[name="ovl"]').fill(str(ovl))
            if item != skip_rel_of:
                block.locator('input[name="rel"]').fill(str(rel))
            assert block.locator("output").first.inner_text() == str(ovl)
        with page.expect_download() as dl:
            page.click(f"#{fmt}")
        out = tmp_path / f"{rater}.{fmt}"
        dl.value.save_as(out)
        status = page.inner_text("#status")
        browser.close()
    assert not errors, errors
    return out, order, status


def test_page_in_browser(tmp_path):
    html_path, key_path = make_kit(tmp_path)
    key = json.loads(key_path.read_text())
    skip = next(iter(key["items"]))
    a, order_a, status_a = rate_in_browser(html_path, key, "alice", tmp_path, "json", skip_rel_of=skip)
    b, order_b, status_b = rate_in_browser(html_path, key, "bob", tmp_path, "csv")
    assert "1 clip(s) still have an untouched slider" in status_a and "All clips rated" in status_b
    exported = json.loads(a.read_text())
    assert exported["page_id"] == key["page_id"] and exported["rater"] == "alice"
    assert [r["item"] for r in exported["ratings"]] == order_a          # positions as displayed
    assert all(r["played"] is False for r in exported["ratings"])
    ratings = read_ratings([a, b], key_path)
    assert len(ratings) == 2 * len(key["items"]) and ratings["rel"].isna().sum() == 1
    res = analyse_listening(ratings).set_index("system")
    for system, (ovl, rel) in TRUTH.items():
        assert res.loc[system, "ovl"] == ovl and res.loc[system, "n_raters"] == 2
    assert res.loc["anchor-lowpass3.5k", "ovl"] == 20
    assert res.loc["real-reference", "rel_n"] + res.loc["fine-tuned", "rel_n"] + res.loc["pre_trained", "rel_n"] \
        + res.loc["anchor-lowpass3.5k", "rel_n"] == 2 * len(key["items"]) - 1
