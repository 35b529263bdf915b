"""best/ writes only what fine-tuning changes: the UNet, adapter/, the scheduler and model_index.json are files, the
frozen components links to the base model's folder. A saved tiny folder is the base: fine-tuned a few steps, best/
loads through `load_pipeline` and `AudioLDM2Pipeline.from_pretrained` with the base's frozen weights and the trained
UNet; saving again replaces the links and never writes through one into the base; without a base folder every
component is written; inside the repository the links are relative and survive a move."""
import hashlib, os, shutil
from pathlib import Path

import pytest
import torch
from diffusers import AudioLDM2Pipeline

from musicnet_ldm.cache import collate
from musicnet_ldm.hub import save_tiny_audioldm2, standin_folder
from musicnet_ldm.finetune import (FROZEN_COMPONENTS, ConditionedUNet, fit, pipeline_saver, save_pipeline_folder,
                                   toy_conditioned_latents)
from musicnet_ldm.model import load_pipeline

MODELS = ("vae", "vocoder", "text_encoder", "text_encoder_2", "projection_model", "language_model")
quiet = lambda *_: None


def weights(module) -> dict: return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a: dict, b: dict) -> bool: return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def tree_digest(folder: Path) -> str:
    "A digest of every file's name and bytes under `folder` (links not followed into other folders)."
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink(): h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("best")
    base = save_tiny_audioldm2(root/"base", seed=3)
    digest = tree_digest(base)
    pipe = load_pipeline(str(base), device="cpu", dtype=torch.float32)
    start = weights(pipe.unet)
    train = toy_conditioned_latents(pipe, n=8, frames=16)
    held_out = toy_conditioned_latents(pipe, n=4, seed=1, frames=16)
    said = []
    fit(pipe, train, held_out, root/"run", collate=collate, mixed_precision="no", max_steps=3, batch_size=4,
        eval_batch_size=4, lr=1e-2, base_model=base, log=said.append)
    return {"root": root, "base": base, "digest": digest, "pipe": pipe, "start": start, "best": root/"run"/"best",
            "said": said}


def test_frozen_components_are_links_and_trained_parts_are_files(run):
    best, base = run["best"], run["base"]
    for name in FROZEN_COMPONENTS:
        assert (best/name).is_symlink(), name
        assert (best/name).resolve() == (base/name).resolve(), name
        assert os.path.isabs(os.readlink(best/name))                    # the base is outside the repository
    for name in ("unet", "scheduler", "adapter"):
        assert (best/name).is_dir() and not (best/name).is_symlink(), name
    assert (best/"unet"/"diffusion_pytorch_model.safetensors").is_file()
    assert (best/"adapter"/"diffusion_pytorch_model.safetensors").is_file()
    assert (best/"model_index.json").is_file() and not (best/"model_index.json").is_symlink()
    assert any("links the frozen components" in s for s in run["said"])
    assert tree_digest(base) == run["digest"]                           # the base folder is untouched


@pytest.mark.parametrize("loader", ["load_pipeline", "from_pretrained"])
def test_best_loads_with_the_bases_frozen_weights_and_the_trained_unet(run, loader):
    best = run["best"]
    load = (lambda f: load_pipeline(str(f), device="cpu", dtype=torch.float32)) if loader == "load_pipeline" else \
        (lambda f: AudioLDM2Pipeline.from_pretrained(str(f)))        # the hub's classes: GPT2Model, as the base says
    loaded, base = load(best), load(run["base"])
    for name in MODELS: assert same(weights(getattr(loaded, name)), weights(getattr(base, name))), name
    assert loaded.tokenizer_2("a string quartet").input_ids == base.tokenizer_2("a string quartet").input_ids
    trained = weights(run["pipe"].unet)                                 # fit ends holding best/'s weights
    assert same(weights(loaded.unet), trained) and not same(trained, run["start"])
    if loader == "load_pipeline": assert same(weights(loaded.adapter), weights(run["pipe"].adapter))


def test_saving_again_replaces_links_and_never_writes_through_them(run):
    pipe, base, folder = run["pipe"], run["base"], run["root"]/"again"
    save = pipeline_saver(pipe, lora=False, base=base, log=quiet)
    model = ConditionedUNet(pipe.unet, pipe.adapter)
    save(model, folder)
    save(model, folder)                                                 # links replaced, no error
    (folder/"unet").rename(folder/"unet.old")
    (folder/"unet").symlink_to(base/"unet", target_is_directory=True)  # a stale link where a trained part goes
    (folder/"vae").unlink()
    shutil.copytree(base/"vae", folder/"vae")                           # a real folder where a link goes
    save(model, folder)
    assert not (folder/"unet").is_symlink() and (folder/"vae").is_symlink()
    assert tree_digest(base) == run["digest"]                           # the base's UNet was not overwritten
    assert same(weights(load_pipeline(str(folder), device="cpu").unet), weights(pipe.unet))


def test_without_a_base_folder_every_component_is_written(run, tmp_path):
    said = []
    save = pipeline_saver(run["pipe"], lora=False, base=None, log=said.append)
    save(ConditionedUNet(run["pipe"].unet, run["pipe"].adapter), tmp_path/"best")
    assert said and "every component" in said[0]
    assert not any(p.is_symlink() for p in (tmp_path/"best").iterdir())
    assert all((tmp_path/"best"/name).is_dir() for name in FROZEN_COMPONENTS)
    load_pipeline(str(tmp_path/"best"), device="cpu")


def test_lora_best_writes_the_merged_unet_and_the_factors(run, tmp_path):
    pipe = load_pipeline(str(run["base"]), device="cpu", dtype=torch.float32)
    train = toy_conditioned_latents(pipe, n=4, frames=16)
    fit(pipe, train, train, tmp_path/"run", collate=collate, mixed_precision="no", max_steps=2, batch_size=4,
        eval_batch_size=4, lr=1e-2, lora=True, adapter=False, base_model=run["base"], log=quiet)
    best = tmp_path/"run"/"best"
    assert (best/"lora"/"adapter_model.safetensors").is_file() and not (best/"unet").is_symlink()
    assert all((best/name).is_symlink() for name in FROZEN_COMPONENTS)
    merged = load_pipeline(str(best), device="cpu").unet
    assert not any("lora" in n for n, _ in merged.named_parameters())


def test_links_inside_the_repository_are_relative_and_survive_a_move(tmp_path, monkeypatch):
    repo = tmp_path/"repo"
    shutil.copytree(standin_folder(), repo/"checkpoints"/"standin")
    monkeypatch.setenv("MUSICNET_LDM_ROOT", str(repo))                  # config.repo_root(): this folder
    pipe = load_pipeline(str(repo/"checkpoints"/"standin"), device="cpu")
    save_pipeline_folder(pipe, repo/"outputs"/"run"/"best", base=repo/"checkpoints"/"standin")
    assert os.readlink(repo/"outputs"/"run"/"best"/"vae") == "../../../checkpoints/standin/vae"
    moved = shutil.move(str(repo), str(tmp_path/"moved"))
    back = load_pipeline(str(Path(moved)/"outputs"/"run"/"best"), device="cpu")
    assert same(weights(back.vae), weights(pipe.vae)) and same(weights(back.unet), weights(pipe.unet))
