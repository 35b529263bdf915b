"""The precision rule end to end on CPU: the half-precision branches forced, every component's dtype checked, and a
distillation step whose teacher would be half precision on a GPU."""
import json

import pytest
import torch

import musicnet_ldm.core as core
import musicnet_ldm.hub as hub
from musicnet_ldm.config import load_config
from musicnet_ldm.distill import encode_conditioning, load_teacher, make_student, train_distill
from musicnet_ldm.generate import generate
from musicnet_ldm.model import load_pipeline

COMPONENTS = ("unet", "text_encoder", "text_encoder_2", "projection_model", "language_model", "vae", "vocoder")


@pytest.fixture
def bf16_gpu(monkeypatch):
    "As on an H100: `auto` resolves to bf16, and explicit half precision is honoured (a CPU would fall back to fp32)."
    def as_on_a_gpu(device, mixed_precision="auto"):
        return "bf16" if mixed_precision in (None, "auto") else mixed_precision
    monkeypatch.setattr(core, "pick_mixed_precision", as_on_a_gpu)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return str(hub.save_tiny_audioldm2(tmp_path_factory.mktemp("tiny") / "teacher"))


def _dtypes(pipe) -> dict:
    return {n: getattr(pipe, n).dtype for n in COMPONENTS}


def _cfg(tiny_folder, **top):
    return load_config("smoke", {"distill.teacher": tiny_folder, **top})


def test_mixed_precision_no_means_fp32_everywhere_even_where_auto_picks_bf16(bf16_gpu, tiny_folder, tmp_path):
    "The crash of issue 26: a teacher loaded by default in bf16 met the fp32 student. Now it follows the config."
    assert core.resolve_precision("train", "auto", "cuda") == "bf16"          # the trap is armed
    teacher, _ = load_teacher(_cfg(tiny_folder, mixed_precision="no"), tmp_path, device="cpu")
    assert set(_dtypes(teacher).values()) == {torch.float32}
    summary = _kd_steps(teacher, tmp_path / "kd", mixed_precision="no")
    assert summary["steps"] == 2 and all(map(lambda x: x == x, summary["losses"]))


def test_a_bf16_teacher_distils_into_an_fp32_student(bf16_gpu, tiny_folder, tmp_path):
    "distill.precision bf16 with mixed_precision no: the teacher computes in bf16, the student trains in fp32."
    cfg = _cfg(tiny_folder, mixed_precision="no")
    cfg.distill.precision = "bf16"
    teacher, _ = load_teacher(cfg, tmp_path, device="cpu")
    assert _dtypes(teacher) == {"unet": torch.bfloat16, "text_encoder": torch.bfloat16,
                                "text_encoder_2": torch.bfloat16,
                                "projection_model": torch.bfloat16, "language_model": torch.bfloat16,
                                "vae": torch.float32, "vocoder": torch.float32}
    summary = _kd_steps(teacher, tmp_path / "kd", mixed_precision="no")
    assert summary["steps"] == 2 and all(torch.isfinite(torch.tensor(summary["losses"])))


def _kd_steps(teacher, out_dir, mixed_precision: str) -> dict:
    "Two KD steps of a narrow fp32 student against `teacher`, on its own conditioning of four prompts."
    prompts = ["a solo piano piece", "a string quartet", "a flute solo", "a cello suite"]
    conds = {k: v.float() if v.is_floating_point() else v for k, v in encode_conditioning(teacher, prompts).items()}
    latents = torch.randn(len(prompts), teacher.unet.config.in_channels, 16, 16,
                          generator=torch.Generator().manual_seed(0))
    items = [{"latents": latents[i], **{k: v[i] for k, v in conds.items()}, "prompt": p} for i, p in enumerate(prompts)]
    student = make_student(teacher.unet, channel_mult=0.5)
    summary = train_distill(student, teacher.unet, items, out_dir, "kd", scheduler=teacher.scheduler, batch_size=2,
                            max_steps=2, log_every=1, mixed_precision=mixed_precision, log=lambda *_: None)
    assert next(student.parameters()).dtype == torch.float32
    return summary


@pytest.mark.parametrize("precision,text", [("bf16", torch.bfloat16), ("fp16", torch.float32)])
def test_generation_records_its_precision(tiny_folder, tmp_path, precision, text):
    "A half-precision generation on CPU: finite audio, the VAE and vocoder upcast, the precision in every sidecar."
    import soundfile as sf
    paths = generate(tiny_folder, ["a string quartet"], seeds=[0], steps=2, audio_length_s=2.56, out_dir=tmp_path,
                     device="cpu", precision=precision, candidates=2, progress=False)
    meta = json.loads(paths[0].with_suffix(".json").read_text())
    half = {"bf16": "torch.bfloat16", "fp16": "torch.float16"}[precision]
    assert meta["precision"] == precision and meta["candidates"] == 2 and len(meta["clap_scores"]) == 2
    assert meta["component_dtypes"]["unet"] == half and meta["component_dtypes"]["text_encoder_2"] == str(text)
    assert meta["component_dtypes"]["vae"] == meta["component_dtypes"]["vocoder"] == "torch.float32"
    audio, _ = sf.read(paths[0])
    assert audio.std() > 0 and not (audio != audio).any()
    # the same folder at fp32 into the same place is another setting, never a silent mix
    with pytest.raises(ValueError, match="other settings"):
        generate(tiny_folder, ["a string quartet"], seeds=[0], steps=2, audio_length_s=2.56, out_dir=tmp_path,
                 device="cpu", precision="no", candidates=2, progress=False)


def test_upcast_decode_off_keeps_the_decoder_in_half_precision(tiny_folder):
    pipe = load_pipeline(tiny_folder, device="cpu", precision="bf16", upcast_decode=False)
    assert pipe.vae.dtype == pipe.vocoder.dtype == torch.bfloat16
    audio = pipe("a string quartet", num_inference_steps=2, audio_length_in_s=2.56).audios
    assert audio.dtype.name == "float32" and (audio == audio).all()
