"""ACE-Step 1.5's weights: the catalogue entry, the two folder layouts the engine loads, what each must hold, the
folder's identity, and the conversion of the main repository's DiT into diffusers' components.

Layouts. (1) ACE-Step's main repository as `songforge models pull ace-step-1.5` leaves it: `vae/` (diffusers'
AutoencoderOobleck), `Qwen3-Embedding-0.6B/` (text encoder + tokenizer), `acestep-v15-turbo/` (the DiT in
ACE-Step's own format) and, made by the pull, `acestep-v15-turbo-diffusers/` (that DiT split into diffusers'
transformer, condition encoder, audio tokenizer and detokenizer). (2) Any AceStepPipeline folder (model_index.json
and one subfolder per component, e.g. ACE-Step's own diffusers repositories, or the tests' tiny pipeline).
The conversion follows diffusers' scripts/convert_ace_step_to_diffusers.py (key renames, configs, silence latent).
"""

from __future__ import annotations

import json
from pathlib import Path

from ...catalogue import HubModel, model_folder, register_model
from ...licences import MIT
from ... import models
from ...models import folder_state, missing_recorded
from ..base import ModelNeed
from .params import LM, MODEL

DIT = "acestep-v15-turbo"
CONVERTED = f"{DIT}-diffusers"
TEXT = "Qwen3-Embedding-0.6B"
INDEX = "model_index.json"
DIT_PARTS = ("transformer", "condition_encoder", "audio_tokenizer", "audio_token_detokenizer")


def _convert_after_pull(dest: Path) -> None:
    convert_dit(dest / DIT, dest / CONVERTED)


# ACE-Step's main repository (MIT, code and weights). The commit is the one third-party byte-identical copies of it
# record (Audante/ACE-Step-1.5-bf16, arraypress/song-ace-step-1.5: "ACE-Step/Ace-Step1.5 at revision 19671f4...").
# The VAE, the text encoder, the turbo DiT and the 1.7B planner LM (the `plan` step's, with its tokenizer and chat
# template) are taken; the other DiTs and LMs of the repository are not.
ENTRY = register_model(MODEL, HubModel(
    "ACE-Step/Ace-Step1.5", "19671f406d603126926c1b7e2adc169acbcade22", MIT,
    patterns=("vae/*.json", "vae/*.safetensors", f"{TEXT}/*.json", f"{TEXT}/*.safetensors", f"{TEXT}/*.txt",
              f"{DIT}/config.json", f"{DIT}/*.safetensors", f"{DIT}/silence_latent.pt",
              f"{LM}/*.json", f"{LM}/*.safetensors", f"{LM}/*.txt", f"{LM}/*.jinja"),
    what="ACE-Step 1.5: Oobleck VAE, Qwen3 text encoder, turbo DiT, 1.7B planner LM",
    after_pull=_convert_after_pull))


def components(folder: Path) -> dict[str, Path]:
    """Where each pipeline component of a model folder is (component name -> subfolder), by the folder's layout."""
    folder = Path(folder)
    if (folder / INDEX).is_file():
        names = [name for name, value in json.loads((folder / INDEX).read_text()).items()
                 if not name.startswith("_") and isinstance(value, list) and value[0] is not None]
        return {name: folder / name for name in names}
    return {"vae": folder / "vae", "text_encoder": folder / TEXT, "tokenizer": folder / TEXT,
            **{part: folder / CONVERTED / part for part in DIT_PARTS}}


def missing_files(folder: Path) -> list[str]:
    """What a model folder lacks to load (paths relative to it; "." for the folder); [] when usable. Stat only."""
    folder = Path(folder)
    if not folder.is_dir():
        return ["."]
    recorded = missing_recorded(folder)
    if recorded:
        return recorded
    need = {"tokenizer": ("tokenizer.json",), "text_encoder": ("config.json", "*.safetensors")}
    found = []
    for name, where in components(folder).items():
        if name == "scheduler":
            continue
        for pattern in need.get(name, ("config.json", "*.safetensors")):
            if not next(where.glob(pattern), None):
                found.append(f"{where.relative_to(folder)}/{pattern}")
    return found


def model_need(name_or_path: str) -> ModelNeed:
    """The ACE-Step model a render loads, checked on disk (songforge.preflight names it before any run)."""
    folder = model_folder(name_or_path)
    return ModelNeed("ACE-Step DiT, VAE and text encoder", name_or_path, folder, tuple(missing_files(folder)),
                     pull=name_or_path if name_or_path == MODEL else None)


def _fix(name_or_path: str) -> str:
    if name_or_path == MODEL:
        return f"run `songforge models pull {MODEL}` (it restores what the pull recorded)"
    return f"restore the file in {name_or_path}, or point engine.params.model at another folder"


def folder_identity(name_or_path: str, include: str | None = None, exclude: str | None = None) -> str:
    """Changes when the model's files do (songforge.models.folder_identity), only those below subfolder `include`
    counted / those below `exclude` not."""
    return models.folder_identity(model_folder(name_or_path), name_or_path, _fix(name_or_path), include, exclude)


def render_identity(name_or_path: str) -> str:
    """The render's model: the folder less its planner LM subfolder (the plan step's own identity covers the LM;
    pulling or changing the LM re-keys no render)."""
    return folder_identity(name_or_path, exclude=LM)


def verified_folder(name_or_path: str) -> Path:
    """The model's folder, its recorded files checked (EngineError naming a missing one and the fix)."""
    folder = model_folder(name_or_path)
    if folder.is_dir():
        folder_state(folder, _fix(name_or_path))
    return folder


# -- conversion of ACE-Step's own DiT checkpoint ------------------------------------------------------------------

_ATTN = ((".q_proj.", ".to_q."), (".k_proj.", ".to_k."), (".v_proj.", ".to_v."), (".o_proj.", ".to_out.0."),
         (".q_norm.", ".norm_q."), (".k_norm.", ".norm_k."))
_PREFIXES = {"decoder.": "transformer", "encoder.": "condition_encoder", "tokenizer.": "audio_tokenizer",
             "detokenizer.": "audio_token_detokenizer"}


def diffusers_key(key: str) -> tuple[str, str] | None:
    """ACE-Step's checkpoint key -> (component, diffusers key); None for a key no component holds."""
    if key == "null_condition_emb":
        return "condition_encoder", key
    prefix = next((p for p in _PREFIXES if key.startswith(p)), None)
    if prefix is None:
        return None
    new = key[len(prefix):]
    if prefix == "decoder.":  # Sequential(Lambda, Conv, Lambda): only index 1 has weights
        new = new.replace("proj_in.1.", "proj_in_conv.").replace("proj_out.1.", "proj_out_conv.")
    for old, renamed in _ATTN:
        new = new.replace(old, renamed)
    return _PREFIXES[prefix], new


def component_configs(config: dict) -> dict[str, dict]:
    """The four DiT-side components' configs from ACE-Step's config.json (the XL fields fall back as diffusers')."""
    c = config
    width = c.get("encoder_hidden_size", c["hidden_size"])
    inner = c.get("encoder_intermediate_size", c["intermediate_size"])
    heads = c.get("encoder_num_attention_heads", c["num_attention_heads"])
    kv = c.get("encoder_num_key_value_heads", c["num_key_value_heads"])
    shared = {k: c[k] for k in ("head_dim", "rope_theta", "attention_bias", "attention_dropout", "rms_norm_eps",
                                "sliding_window")}
    encoder = {"hidden_size": width, "intermediate_size": inner, "num_attention_heads": heads,
               "num_key_value_heads": kv, **shared}
    poolers = c.get("num_attention_pooler_hidden_layers", 2)
    pooler = {**encoder, "audio_acoustic_hidden_dim": c["audio_acoustic_hidden_dim"],
              "pool_window_size": c.get("pool_window_size", 5), "num_attention_pooler_hidden_layers": poolers,
              "layer_types": c["layer_types"][:poolers] if c.get("layer_types") else None}
    return {
        "transformer": {**{k: c[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                             "num_attention_heads", "num_key_value_heads", "in_channels",
                                             "audio_acoustic_hidden_dim", "patch_size")},
                        "layer_types": c.get("layer_types"),
                        **shared, "encoder_hidden_size": width, "is_turbo": bool(c.get("is_turbo", False)),
                        "model_version": c.get("model_version")},
        "condition_encoder": {**encoder, "text_hidden_dim": c["text_hidden_dim"],
                              "timbre_hidden_dim": c["timbre_hidden_dim"],
                              "num_lyric_encoder_hidden_layers": c["num_lyric_encoder_hidden_layers"],
                              "num_timbre_encoder_hidden_layers": c["num_timbre_encoder_hidden_layers"]},
        "audio_tokenizer": {**pooler, "fsq_dim": c.get("fsq_dim", width),
                            "fsq_input_levels": c.get("fsq_input_levels", [8, 8, 8, 5, 5, 5]),
                            "fsq_input_num_quantizers": c.get("fsq_input_num_quantizers", 1)},
        "audio_token_detokenizer": pooler,
    }


def convert_dit(source: Path, dest: Path) -> Path:
    """ACE-Step's DiT folder (config.json, model.safetensors or shards, silence_latent.pt) saved as diffusers'
    transformer, condition_encoder, audio_tokenizer and audio_token_detokenizer under dest (weights kept in their
    dtype; every key placed, strictly)."""
    import torch
    from diffusers import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import (AceStepAudioTokenDetokenizer, AceStepAudioTokenizer,
                                              AceStepConditionEncoder)
    from safetensors.torch import load_file

    classes = {"transformer": AceStepTransformer1DModel, "condition_encoder": AceStepConditionEncoder,
               "audio_tokenizer": AceStepAudioTokenizer, "audio_token_detokenizer": AceStepAudioTokenDetokenizer}
    config = json.loads((source / "config.json").read_text())
    states: dict[str, dict] = {part: {} for part in DIT_PARTS}
    for shard in sorted(source.glob("*.safetensors")):
        for key, value in load_file(shard).items():
            placed = diffusers_key(key)
            if placed is not None:
                states[placed[0]][placed[1]] = value
    silence = source / "silence_latent.pt"
    if silence.is_file():  # stored (1, C, T); the condition encoder's buffer is (1, T, C)
        states["condition_encoder"]["silence_latent"] = torch.load(silence, weights_only=True,
                                                                   map_location="cpu").transpose(1, 2).contiguous()
    for part, settings in component_configs(config).items():
        model = classes[part](**settings)
        dtype = next(iter(states[part].values())).dtype if states[part] else torch.float32
        model.to(dtype).load_state_dict(states[part], strict=True)
        model.save_pretrained(dest / part, safe_serialization=True)
    return dest
