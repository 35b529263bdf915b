"""A run's media for readers: Figures 4 and 5 side by side (JPEG) and the two clips they draw (Ogg Vorbis), written to
docs/media/ with media.json saying which run, preset, prompt and seed they come from, and the run's Table 1 FAD rows
(docs/research.md renders them). README.md and nbs/04_generate.ipynb show the media. After `make smoke`:
`python tools/media.py outputs/<run_id>`."""
import json, sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT/"docs"/"media"
FIGURE_PROMPT = "A cheerful ukulele"        # the prompt of Figures 4 and 5 (04_generate's pipeline step)
SYSTEMS = ("pretrained", "finetuned")


def figure_clip(run: Path, system: str) -> tuple[Path, dict]:
    "The WAV and sidecar of `system`'s clip that Figures 4 and 5 draw: the figure prompt at its lowest seed."
    found = []
    for sidecar in sorted((run/"samples"/system).glob("*.json")):
        meta = json.loads(sidecar.read_text())
        if meta["prompt"].startswith(FIGURE_PROMPT): found.append((meta["seed"], sidecar.with_suffix(".wav"), meta))
    if not found: raise FileNotFoundError(f"{run}/samples/{system}/ has no clip of the prompt {FIGURE_PROMPT!r}")
    seed, wav, meta = min(found, key=lambda f: f[0])
    return wav, meta


def write_media(run: Path, out: Path = MEDIA) -> dict:
    "Write fig4_5.jpg, pretrained.ogg and finetuned.ogg for `run` into `out`, with media.json; return the record."
    from musicnet_ldm.audio import figure_jpeg, ogg_bytes
    from musicnet_ldm.generate import figures_4_5
    clips = {s: figure_clip(run, s) for s in SYSTEMS}
    wavs = {s: sf.read(wav, dtype="float32")[0] for s, (wav, _) in clips.items()}
    meta = clips["finetuned"][1]
    out.mkdir(parents=True, exist_ok=True)
    figure = figures_4_5(wavs["pretrained"], wavs["finetuned"], prompt=meta["prompt"], seed=meta["seed"])
    (out/"fig4_5.jpg").write_bytes(figure_jpeg(figure["fig4_5_side_by_side"]).data)
    for s in SYSTEMS: (out/f"{s}.ogg").write_bytes(ogg_bytes(wavs[s]))
    config = json.loads((run/"config.json").read_text())["config"]
    record = {"run_id": run.name, "preset": config["preset"], "model": config["model"], "prompt": meta["prompt"],
              "seed": meta["seed"], "steps": meta.get("steps"), "guidance_scale": meta.get("guidance_scale"),
              "files": {"figure": "fig4_5.jpg", **{s: f"{s}.ogg" for s in SYSTEMS}}}
    record["table1"] = table1_fad(run)
    (out/"media.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def table1_fad(run: Path, metric: str = "fad_logmel") -> dict:
    "The run's Table 1 `metric` per system (estimate, 95 % CI, N) and its paired differences, for the research record."
    table = json.loads((run/"table1.json").read_text())
    rows = {r["system"]: {"fad": r[metric], "ci": r[f"{metric}_ci"], "n": r[f"{metric}_n"],
                          "n_prompts": r[f"{metric}_n_prompts"]}
            for r in table["rows"] if r.get(metric) is not None}
    paired = {f"{p['a']}-{p['b']}": {"difference": p["diff"], "ci": p["ci"], "n": p["n"]}
              for p in table["paired"] if p["metric"] == metric and p["ci"] is not None}
    return {"metric": metric, "rows": rows, "paired": paired, "sampling": table["protocol"]["sampling"]}


if __name__ == "__main__":
    if len(sys.argv) != 2: sys.exit(__doc__)
    print(json.dumps(write_media(Path(sys.argv[1])), indent=1))
