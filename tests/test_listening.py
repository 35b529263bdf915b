"""The listening-test page in a real headless browser: load it, play and rate every clip, reload, export, analyse.

Needs Debian's chromium (`make sysdeps`: apt-get install chromium) and the `playwright` Python package (no browser
download: the system executable is used). Skipped locally when either is missing; in CI (`CI` set) that is a failure."""
import json, os, shutil, sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from musicnet_ldm.listening import (add_anchors, analyse_listening, build_listening_test, listening_paired,
                                    read_ratings,
                                    screen_raters)
from musicnet_ldm.audio import write_wav

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
try: from playwright import sync_api
except ImportError: sync_api = None
MISSING = ("no chromium on PATH (make sysdeps)" if CHROMIUM is None else "pip install playwright" if sync_api is None
           else None)
if MISSING and os.environ.get("CI"): raise RuntimeError(f"the browser test must run in CI: {MISSING}")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=str(MISSING))]   # a browser

TRUTH = {"fine-tuned": (72, 61), "pre_trained": (48, 33), "reference": (90, 85)}


def make_kit(tmp_path):
    clips = []
    for s_i, system in enumerate(TRUTH):
        for k in range(2):
            t = np.arange(8000) / 16000
            path = tmp_path / f"{system}_{k}.wav"
            write_wav(path, (0.3 * np.sin(2 * np.pi * (200 + 100 * s_i + 30 * k) * t)).astype(np.float32))
            # every system on the same prompts
            clips.append({"system": system, "path": path, "prompt": f"prompt {k}"})
    clips = add_anchors(clips, "reference", tmp_path / "anchors")
    return build_listening_test(clips, tmp_path / "kit", seed=1)


def score(system, rater):
    ovl, rel = TRUTH.get(system, (20, 30))
    return (95, rel) if rater == "careless" and system.startswith("anchor") else (ovl, rel)


def rate_in_browser(html_path, key, rater, tmp_path, fmt, skip_rel_of=None, unplayed=None):
    """Open the page, play and rate every clip (the key tells the test the system), reload, check nothing is lost,
    export."""
    items = key["items"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(accept_downloads=True)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html_path.as_uri())
        assert page.locator("audio").count() == len(items)
        # no export without a rater id
        page.click("#json")
        assert "rater ID" in page.inner_text("#status")
        page.fill("#rater", rater)
        order = page.eval_on_selector_all(".item", "els => els.map(e => e.dataset.item)")
        assert sorted(order) == sorted(items)
        for item in order:
            block = page.locator(f'.item[data-item="{item}"]')
            assert block.locator('input[name="ovl"]').is_disabled()                          # locked until played
            if item == unplayed: continue
            block.locator("audio").evaluate("a => a.play()")
            page.wait_for_function(f'document.querySelector(\'.item[data-item="{item}"]\').dataset.played === "1"')
            ovl, rel = score(items[item]["system"], rater)
            block.locator('input[name="ovl"]').fill(str(ovl))
            if item != skip_rel_of: block.locator('input[name="rel"]').fill(str(rel))
            assert block.locator("output").first.inner_text() == str(ovl)
        # nothing lost: order, id, ratings
        page.reload()
        assert page.eval_on_selector_all(".item", "els => els.map(e => e.dataset.item)") == order
        assert page.input_value("#rater") == rater
        for item in order:
            if item == unplayed: continue
            block = page.locator(f'.item[data-item="{item}"]')
            assert block.locator('input[name="ovl"]').input_value() == str(score(items[item]["system"], rater)[0])
            assert not block.locator('input[name="ovl"]').is_disabled()
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
    first, second = list(key["items"])[:2]
    a, order_a, status_a = rate_in_browser(html_path, key, "alice", tmp_path, "json", skip_rel_of=first)
    b, _, status_b = rate_in_browser(html_path, key, "bob", tmp_path, "csv", unplayed=second)
    c, _, _ = rate_in_browser(html_path, key, "careless", tmp_path, "json")
    assert "1 clip(s) not played or with an untouched slider" in status_a and "1 clip(s)" in status_b
    exported = json.loads(a.read_text())
    assert exported["page_id"] == key["page_id"] and exported["rater"] == "alice"
    assert [r["item"] for r in exported["ratings"]] == order_a and all(r["played"] for r in exported["ratings"])
    ratings = read_ratings([a, b, c], key_path)
    assert (len(ratings) == 3 * len(key["items"]) and ratings["rel"].isna().sum() == 2
            and ratings["ovl"].isna().sum() == 1)
    screen = screen_raters(ratings).set_index("rater")
    assert screen["flagged"].to_dict() == {"alice": False, "bob": False, "careless": True}
    kept = ratings[ratings.rater.isin(screen.index[~screen.flagged])]
    res = analyse_listening(kept).set_index("system")
    for system, (ovl, rel) in TRUTH.items():
        assert res.loc[system, "ovl"] == ovl and res.loc[system, "n_raters"] == 2
    diff = {(x["a"], x["b"], x["metric"]): x
            for x in listening_paired(kept, [("fine-tuned", "pre_trained")], n_boot=200)}
    assert diff[("fine-tuned", "pre_trained", "ovl")]["diff"] == 72 - 48
