"""The research record, docs/research.md, rendered from docs/research.template.md: each `{{name}}` there is filled from
committed JSON — the learning runs (nbs/results/learning/standin_seed*.json), the stand-in's record
(musicnet_ldm/checkpoints/audioldm2-standin/standin.json), the projection (docs/results/projection.json) and the smoke
run's Table 1 FAD (docs/media/media.json) — or from the code that owns a rule (`core.component_dtypes`), so that no
measured number is copied by hand.
`tools/readme.py` writes it beside README.md; `record_text(sources)` renders it from other files (the tests perturb
them)."""
import json, re, sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT/"docs"/"research.template.md"
RECORD = ROOT/"docs"/"research.md"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass
class Sources:
    "Where the record's numbers come from."
    learning_dir: Path = ROOT/"nbs"/"results"/"learning"
    standin: Path = ROOT/"musicnet_ldm"/"checkpoints"/"audioldm2-standin"/"standin.json"
    projection: Path | None = None            # None: `bench.PROJECTION_RECORD`, where `bench --projection` writes it
    media: Path = ROOT/"docs"/"media"/"media.json"   # the smoke run behind the README's media, with its Table 1 FAD


def _package():
    "The repository's own package first (an editable install may point at another checkout)."
    if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))


def g(x: float) -> str:
    "A measured number as the record prints it: 3 significant digits."
    return f"{x:.3g}"


def ci(d: dict, key: str = "mean") -> str:
    "`estimate [low, high]` of a record with an interval (`ci` or `ci95`)."
    low, high = d.get("ci", d.get("ci95"))
    return f"{g(d[key])} [{g(low)}, {g(high)}]"


def seed_list(seeds) -> str:
    "0, 1 and 2"
    seeds = [str(s) for s in seeds]
    return seeds[0] if len(seeds) == 1 else ", ".join(seeds[:-1]) + " and " + seeds[-1]


def learning_runs(runs_dir: Path) -> dict:
    "{seed: learning.json} of every committed run, by seed; an error when there is none."
    paths = sorted(Path(runs_dir).glob("standin_seed*.json"), key=lambda p: int(p.stem.rsplit("seed", 1)[1]))
    if not paths: raise SystemExit(f"no committed learning runs (standin_seed*.json) in {runs_dir}")
    return {int(p.stem.rsplit("seed", 1)[1]): json.loads(p.read_text(encoding="utf-8")) for p in paths}


def learning_checks(runs: dict) -> dict:
    "{seed: {direction: {value, threshold, met}}} by `learning.check_directions`."
    _package()
    from musicnet_ldm.learning import check_directions
    return {seed: check_directions(r) for seed, r in runs.items()}


def learning_table(runs: dict) -> str:
    "A markdown table: each direction's threshold and, per seed, its measured value and ✓/✗."
    checks = learning_checks(runs)
    first = next(iter(checks.values()))
    rows = [f"| direction | wanted | {' | '.join(f'seed {k}' for k in checks)} |", "|---|---|" + "---|" * len(checks)]
    for name in first:
        cells = [f"{g(c[name]['value'])} {'✓' if c[name]['met'] else '✗'}" for c in checks.values()]
        rows.append(f"| {name} | {first[name]['threshold']} | {' | '.join(cells)} |")
    return "\n".join(rows)


def learning_status(runs: dict) -> str:
    "One sentence: how many direction checks the committed seeds meet, and each one missed with its value."
    checks = learning_checks(runs)
    met = sum(d["met"] for c in checks.values() for d in c.values())
    total = sum(len(c) for c in checks.values())
    missed = [f"{name} at seed {seed} ({g(d['value'])}, wanted {d['threshold']})"
              for seed, c in checks.items() for name, d in c.items() if not d["met"]]
    head = f"{met} of {total} direction checks met at seeds {seed_list(checks)}"
    return head + (f"; missed: {'; '.join(missed)}" if missed else "")


def learning_summary(runs: dict) -> str:
    "`learning_status` in short, for the README: the count, then each missed direction once with its seeds."
    checks = learning_checks(runs)
    met = sum(d["met"] for c in checks.values() for d in c.values())
    total = sum(len(c) for c in checks.values())
    missed = {}
    for seed, c in checks.items():
        for name, d in c.items():
            if not d["met"]: missed.setdefault(name, []).append(seed)
    head = f"{met} of {total} direction checks met at seeds {seed_list(checks)}"
    if not missed: return head
    return head + "; missed: " + "; ".join(f"{name} (seed{'s' * (len(k) > 1)} {seed_list(k)})"
                                           for name, k in missed.items())


def headline_table(runs: dict) -> str:
    "`learning.headline` of every seed: one row per measure, one column per seed."
    _package()
    from musicnet_ldm.learning import headline
    rows = {seed: headline(r) for seed, r in runs.items()}
    first = next(iter(rows.values()))
    out = [f"| measure | {' | '.join(f'seed {k}' for k in rows)} |", "|---|" + "---|" * len(rows)]
    out += [f"| {name} | {' | '.join(str(r[name]) for r in rows.values())} |" for name in first]
    return "\n".join(out)


def learning_headroom(runs: dict, key: str = "latent_fd") -> str:
    """Per seed: the training clips' own FD (`key`) to the held-out clips (what a model that reproduced its training
    clips would reach: a reference, not a bound), the pretrained model's, their ratio, and the fine-tuned model's."""
    parts = []
    for seed, r in runs.items():
        fd = r[key]
        if "train_data" not in fd: raise SystemExit(f"learning run of seed {seed} has no training clips' FD: re-run it")
        train, pre, tuned = fd["train_data"]["fd"], fd["pretrained"]["fd"], fd["finetuned"]["fd"]
        parts.append(f"seed {seed}: training clips {g(train)}, pretrained {g(pre)}, ratio {g(pre / train)} "
                     f"(fine-tuned {g(tuned)})")
    return "; ".join(parts)


LEARNING_SETTINGS = ("model", "ensembles", "recordings_per_ensemble", "recording_seconds", "clip_seconds",
                     "hop_seconds", "max_steps", "batch_size", "lr", "ema_decay", "cond_dropout", "loss_draws",
                     "prompts_per_ensemble", "sample_steps", "guidance_scale", "kd_steps", "lcm_steps", "student_steps",
                     "student_scheduler", "channel_mult")


def ratio(d: dict) -> str:
    "`ratio [low, high]` of a Fréchet-distance ratio record."
    return f"{g(d['ratio'])} [{g(d['ci'][0])}, {g(d['ci'][1])}]"


def student_table(runs: dict) -> str:
    "Per seed: the student's latent FD over its teacher's, and the same ratio for its two baselines."
    rows = ["| latent FD ÷ the teacher's (20 DDIM steps) | " + " | ".join(f"seed {k}" for k in runs) + " |",
            "|---|" + "---|" * len(runs)]
    first = next(iter(runs.values()))["student"]
    lines = {f"the student, {first['scheduler']} sampler (distilled)": "student_over_teacher",
             f"the teacher's UNet, {first['scheduler']} sampler (before distillation)":
             "before_distillation_over_teacher",
             f"the student, {first['other_scheduler']} sampler": "other_scheduler_over_teacher"}
    for label, key in lines.items():
        rows.append(f"| {label} | " + " | ".join(ratio(r["student"][key]) for r in runs.values()) + " |")
    return "\n".join(rows)


def learning_values(runs: dict, runs_dir: Path) -> dict:
    "The learning experiment's placeholders: its settings (one setup for every seed), tables, status and figure."
    first = next(iter(runs.values()))["settings"]
    for seed, r in runs.items():
        differ = [k for k in LEARNING_SETTINGS if r["settings"][k] != first[k]]
        if differ: raise SystemExit(f"learning run of seed {seed} differs from the others in {differ}")
    figures = sorted(p.name for p in Path(runs_dir).glob("standin_seed*.png"))
    if not figures: raise SystemExit(f"no committed learning figure (standin_seed*.png) in {runs_dir}")
    minutes = [r["timing"]["total"] / 60 for r in runs.values()]
    values = {f"learning_{k}": str(first[k]) for k in LEARNING_SETTINGS}
    values["learning_ensembles"] = ", ".join(e.strip() for e in first["ensembles"].split(","))
    span = dict.fromkeys(f"{m:.0f}" for m in (min(minutes), max(minutes)))     # one number when they agree
    return {**values,
            "learning_seeds": seed_list(runs), "learning_minutes": "–".join(span),
            "learning_status": learning_status(runs), "learning_table": learning_table(runs),
            "learning_headroom": learning_headroom(runs), "learning_headroom_mel": learning_headroom(runs, "mel_fd"),
            "headline_table": headline_table(runs), "student_table": student_table(runs),
            "learning_figure": f"../nbs/results/learning/{figures[0]}"}


def prediction_error_table(rec: dict) -> str:
    "Per timestep: ᾱ and the MSE of the implied x₀ for the ε stand-in (before) and the v stand-in (committed)."
    eps, v = rec["checks_epsilon"]["prediction_errors"], rec["checks"]["prediction_errors"]
    rows = ["| t | ᾱ (ε schedule) | x₀ error, ε stand-in | ᾱ (v schedule) | x₀ error, v stand-in |",
            "|---|---|---|---|---|"]
    for t in sorted(eps, key=int):
        cells = [g(eps[t]["alpha_bar"]), g(eps[t]["x0_mse"]), g(v[t]["alpha_bar"]), g(v[t]["x0_mse"])]
        rows.append(f"| {t} | {' | '.join(cells)} |")
    return "\n".join(rows)


def standin_values(path: Path) -> dict:
    "The stand-in's placeholders, from its `standin.json`."
    rec = json.loads(Path(path).read_text(encoding="utf-8"))
    s, vv, c, e = rec["settings"], rec["vae_vocoder"], rec["checks"], rec["checks_epsilon"]
    acc = c["ensemble_accuracy"]
    return {"standin_ensembles": ", ".join(rec["data"]["ensembles"]), "standin_recordings": str(s["recordings"]),
            "standin_clip_seconds": str(s["clip_seconds"]),
            **{f"standin_{k}_clips": str(n) for k, n in rec["data"]["clips"].items()},
            "vae_l1_random": g(vv["vae_reconstruction_l1"]["random"]),
            "vae_l1_fitted": g(vv["vae_reconstruction_l1"]["fitted"]),
            "vocoder_l1_random": g(vv["vocoder_mel_l1"]["random"]),
            "vocoder_l1_fitted": g(vv["vocoder_mel_l1"]["fitted_on_decoded_mels"]),
            "scaling_factor": g(vv["scaling_factor"]),
            **{f"{k}_steps": str(rec[k]["steps"]) for k in ("unet", "unet_alone", "unet_v")},
            "unet_v_best_step": str(rec["unet_v"]["best_step"]),
            "gap_eps": g(e["prompt_gap_eval"]["relative_gap"]), "gap_v": g(c["prompt_gap_eval"]["relative_gap"]),
            "gap_v_ci": ci(c["prompt_gap_eval"]["gap"]), "gap_n": str(c["prompt_gap_eval"]["gap"]["n"]),
            "acc_generated": ci(acc["generated"], "accuracy"), "acc_data": ci(acc["held_out_data"], "accuracy"),
            "acc_chance": g(acc["generated"]["chance"]), "acc_n": str(acc["generated"]["n"]),
            "latent_std_generated": g(c["generated_latent_std"]), "latent_std_data": g(c["data_latent_std"]),
            "prediction_error_table": prediction_error_table(rec),
            "standin_minutes": f"{sum(rec['seconds'].values()) / 60:.0f}"}


def smoke_values(path: Path) -> dict:
    "The smoke run's Table 1 FAD placeholders, from docs/media/media.json (`tools/media.py`)."
    rec = json.loads(Path(path).read_text(encoding="utf-8"))
    t = rec["table1"]
    missing = sorted({"reconstructed", "pretrained", "finetuned", "student"} - set(t["rows"]))
    if missing or "finetuned-pretrained" not in t["paired"]:
        raise SystemExit(f"{path}: the smoke run's Table 1 lacks {missing or 'the fine-tuned − pretrained pair'}: "
                         "re-run `make smoke` (evaluate.reconstruct on) and tools/media.py")
    rows, paired, sampling = t["rows"], t["paired"]["finetuned-pretrained"], t["sampling"]
    lo, hi = paired["ci"]
    direction = ("towards the test clips" if hi < 0 else "away from them" if lo > 0
                 else "neither way (its interval spans 0)")
    return {"smoke_run_id": rec["run_id"], "smoke_n": str(rows["pretrained"]["n"]),
            "smoke_prompts": str(rows["pretrained"]["n_prompts"]), "smoke_fad_metric": t["metric"].removeprefix("fad_"),
            "smoke_steps": str(sampling["finetuned"]["steps"]), "smoke_scheduler": sampling["finetuned"]["scheduler"],
            "smoke_guidance": g(sampling["finetuned"]["guidance_scale"]),
            "smoke_student_steps": str(sampling["student"]["steps"]),
            "smoke_student_scheduler": sampling["student"]["scheduler"],
            **{f"smoke_fad_{k}": ci(rows[k], "fad") for k in ("reconstructed", "pretrained", "finetuned", "student")},
            "smoke_fad_paired": ci(paired, "difference"), "smoke_direction": direction,
            "smoke_fad_pretrained_point": g(rows["pretrained"]["fad"])}


def projection_values(path: Path | None) -> dict:
    "The projection's placeholders: `bench.projection_table` of the committed record and where its memory was measured."
    _package()
    from musicnet_ldm.bench import PROJECTION_RECORD, projection_table
    p = json.loads(Path(path or ROOT/PROJECTION_RECORD).read_text(encoding="utf-8"))
    return {"projection_table": projection_table(p), "projection_model": p["model"],
            "projection_device": p["measured_memory"][0]["device"],
            "projection_clips": str(p["training_clips_estimate"])}


def precision_table() -> str:
    "`core.component_dtypes` at each resolved precision: the rule as the code applies it."
    _package()
    from musicnet_ldm.core import component_dtypes
    rules = {p: component_dtypes(p) for p in ("no", "bf16", "fp16")}
    names = list(rules["no"])
    rows = [f"| precision | {' | '.join(f'`{n}`' for n in names)} |", "|---|" + "---|" * len(names)]
    rows += [f"| {p} | {' | '.join(str(d[n]).removeprefix('torch.') for n in names)} |" for p, d in rules.items()]
    return "\n".join(rows)


def fill(template: str, values: dict) -> str:
    "`template` with each `{{name}}` replaced; a placeholder without a value is an error naming it."
    missing = sorted(set(PLACEHOLDER.findall(template)) - set(values))
    if missing: raise KeyError(f"{TEMPLATE.name}: no value for placeholder(s) {missing}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def record_values(sources: Sources = Sources()) -> dict:
    "Every placeholder's value, from `sources`."
    runs = learning_runs(sources.learning_dir)
    return {**learning_values(runs, sources.learning_dir), **standin_values(sources.standin),
            **projection_values(sources.projection), **smoke_values(sources.media),
            "precision_table": precision_table()}


def record_text(sources: Sources = Sources(), template: Path = TEMPLATE) -> str:
    "docs/research.md's text."
    return fill(template.read_text(encoding="utf-8"), record_values(sources))
