"""YuE checkpoints: their catalogue entries (hub commits, songforge.catalogue), what a folder must hold, how to
verify and load them, and the explicit HF -> engine weight map."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

from ...catalogue import HubModel, model_folder, register_model
from ...errors import EngineError, ParamsError
from ...licences import APACHE_2, unknown
from ... import models
from ...models import folder_state
from ..base import ModelNeed
from .model import ModelArgs, Transformer

# Model names users type (`songforge models pull NAME`) -> hub repos at a fixed commit (SPEC §1). The commits
# were read from the hub's immutable tree pages (huggingface.co/<repo>/tree/<sha>), checked 2026-12.
# _UNPINNED: no commit sha of these four repos could be found from this (offline) machine; until one is filled
# in, `pull` asks the hub which commit "main" is, downloads exactly that commit and records it in the manifest.
_UNPINNED = "main"
_CODEC_PATTERNS = ("final_ckpt/*", "decoders/*", "semantic_ckpts/hf_1_325000/*")


def _convert_xcodec(dest: Path) -> None:
    """xcodec_mini_infer's checkpoints, converted for transformers into dest/hf (codec.CONVERTED)."""
    from .codec import CONVERTED, convert_official

    convert_official(dest, dest / CONVERTED)


def _stage1(language: str, mode: str, revision: str) -> HubModel:
    return HubModel(f"m-a-p/YuE-s1-7B-anneal-{language}-{mode}", revision, APACHE_2,  # YuE's, since 2025-01-30
                    what=f"YuE stage 1 ({language}, {'audio prompt' if mode == 'icl' else 'lyrics and tags'})")


MODELS = {name: register_model(name, entry) for name, entry in {
    "yue-en-cot": _stage1("en", "cot", "454c20e1748888800f8e4b3da45125f55482d967"),
    "yue-en-icl": _stage1("en", "icl", "024ea105533fdd99f8a67ee75abce61c7b813938"),
    "yue-zh-cot": _stage1("zh", "cot", _UNPINNED),
    "yue-zh-icl": _stage1("zh", "icl", _UNPINNED),  # main was e631706... (short sha only)
    "yue-jp-kr-cot": _stage1("jp-kr", "cot", _UNPINNED),
    "yue-jp-kr-icl": _stage1("jp-kr", "icl", _UNPINNED),
    "yue-s2": HubModel("m-a-p/YuE-s2-1B-general", "9dfa90b7013f6b5e7eb5eb2991620dca33058a0e", APACHE_2,
                       what="YuE stage 2"),
    # codec + Vocos upsamplers + HuBERT config; the repo also holds code and sample audio: only the
    # checkpoints and their configs are taken, then converted for transformers (codec.CONVERTED)
    "xcodec": HubModel("m-a-p/xcodec_mini_infer", "fe781a67815ab47b4a3a5fce1e8d0a692da7e4e5",
                       unknown("xcodec_mini_infer", "https://huggingface.co/m-a-p/xcodec_mini_infer"),
                       _CODEC_PATTERNS, "X-Codec and the Vocos upsamplers", _convert_xcodec),
}.items()}
_IGNORED = ("rotary_emb.inv_freq",)  # recomputed by the engine; some older checkpoints carry it


# What each role's loader opens, for a folder with no manifest; each tuple is alternatives (globs).
_LM = (("config.json",), ("*.safetensors", "pytorch_model*.bin"))


def _required(role: str) -> tuple[tuple[str, ...], ...]:
    if role == "stage 1":
        return _LM + (("tokenizer.model",),)
    if role == "stage 2":
        return _LM
    from .codec import CHECKPOINT, CONVERTED, SEMANTIC_CONFIG
    from .upsampler import CONFIG, INSTRUMENTAL_WEIGHTS, VOCAL_WEIGHTS

    return ((f"{CONVERTED}/model.safetensors", "model.safetensors", CHECKPOINT),
            (f"{CONVERTED}/config.json", "config.json", SEMANTIC_CONFIG),
            (CONFIG,), (VOCAL_WEIGHTS,), (INSTRUMENTAL_WEIGHTS,))


def missing_files(folder: Path, role: str) -> list[str]:
    """What a model folder lacks for `role` ('stage 1', 'stage 2', 'codec'); [] when it is usable. Stat only.

    A pulled folder is held to its manifest (every file it records); any other folder to the files the
    role's loader opens.
    """
    return models.missing_files(folder, _required(role))


def model_need(role: str, name_or_path: str) -> ModelNeed:
    """The model a YuE step loads, checked on disk, for the album-wide check before any run (songforge.preflight)."""
    folder = model_folder(name_or_path)
    return ModelNeed(role, name_or_path, folder, tuple(missing_files(folder, role)),
                     pull=name_or_path if name_or_path in MODELS else None)


def _fix(name_or_path: str) -> str:
    if name_or_path in MODELS:
        return f"run `songforge models pull {name_or_path}` (it restores what the pull recorded)"
    return f"restore the file in {name_or_path}, or point the song's engine params at another model folder"


def folder_identity(name_or_path: str) -> str:
    """Changes when the model's files do (songforge.models.folder_identity)."""
    return models.folder_identity(model_folder(name_or_path), name_or_path, _fix(name_or_path))


def verified_folder(name_or_path: str) -> Path:
    """The model's folder, checked before loading: a recorded file gone raises EngineError with the fix."""
    folder = model_folder(name_or_path)
    if folder.is_dir():
        folder_state(folder, _fix(name_or_path))
    return folder


def weight_map(n_layers: int) -> dict[str, tuple[str, ...]]:
    """Engine parameter name -> the HF LlamaForCausalLM names it is made of (several are concatenated on dim 0)."""
    names = {"tok_embeddings.weight": ("model.embed_tokens.weight",), "norm.weight": ("model.norm.weight",),
             "output.weight": ("lm_head.weight",)}
    for i in range(n_layers):
        hf, ours = f"model.layers.{i}.", f"layers.{i}."
        names |= {
            ours + "attention.wqkv.weight": tuple(hf + f"self_attn.{p}_proj.weight" for p in "qkv"),
            ours + "attention.wo.weight": (hf + "self_attn.o_proj.weight",),
            ours + "feed_forward.w1.weight": (hf + "mlp.gate_proj.weight",),
            ours + "feed_forward.w3.weight": (hf + "mlp.up_proj.weight",),
            ours + "feed_forward.w2.weight": (hf + "mlp.down_proj.weight",),
            ours + "attention_norm.weight": (hf + "input_layernorm.weight",),
            ours + "ffn_norm.weight": (hf + "post_attention_layernorm.weight",),
        }
    return names


def convert_state_dict(hf: dict[str, Tensor], n_layers: int, dtype: torch.dtype) -> dict[str, Tensor]:
    """HF-named tensors -> engine-named tensors in `dtype`; a missing or unknown tensor raises EngineError."""
    mapping = weight_map(n_layers)
    used = {name for parts in mapping.values() for name in parts}
    missing = sorted(used - hf.keys())
    unknown = sorted(k for k in hf.keys() - used if not k.endswith(_IGNORED))
    if missing or unknown:
        raise EngineError(f"checkpoint does not match a {n_layers}-layer LLaMA: missing {missing[:3]}, "
                          f"unexpected {unknown[:3]}. Fix: re-download the model.")
    return {ours: torch.cat([hf[p] for p in parts]).to(dtype) if len(parts) > 1 else hf[parts[0]].to(dtype)
            for ours, parts in mapping.items()}


def read_checkpoint(folder: Path, device: torch.device) -> dict[str, Tensor]:
    """All tensors of a HF folder: *.safetensors shards, else pytorch_model*.bin (weights_only)."""
    from safetensors.torch import load_file

    shards = sorted(folder.glob("*.safetensors"))
    if shards:
        return {k: v for shard in shards for k, v in load_file(shard, device=str(device)).items()}
    bins = sorted(folder.glob("pytorch_model*.bin"))
    if bins:
        return {k: v for b in bins for k, v in torch.load(b, map_location=device, weights_only=True, mmap=True).items()}
    raise _missing(folder / "model.safetensors", folder.name)


def default_device_dtype(device: str | torch.device | None) -> tuple[torch.device, torch.dtype]:
    """bf16 on CUDA (as YuE runs), float32 on CPU (bf16 matmuls there are slow and imprecise)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return device, torch.bfloat16 if device.type == "cuda" else torch.float32


def load_model(folder: Path, device: str | torch.device | None = None, dtype: torch.dtype | None = None,
               model_name: str | None = None) -> Transformer:
    """A Transformer built on the meta device and given the folder's weights (assign=True: no double copy)."""
    folder, model_name = Path(folder), model_name or Path(folder).name
    config = folder / "config.json"
    if not config.is_file():
        raise _missing(config, model_name)
    args = ModelArgs.from_hf_config(json.loads(config.read_text()))
    device, default_dtype = default_device_dtype(device)
    state = convert_state_dict(read_checkpoint(folder, device), args.n_layers, dtype or default_dtype)
    with torch.device("meta"):
        model = Transformer(args)
    model.load_state_dict(state, assign=True, strict=True)
    return model.eval()


def _missing(path: Path, model_name: str) -> EngineError:
    name = model_name if model_name in MODELS else "<model>"
    return EngineError(f"YuE model file {path} is missing. Fix: run `songforge models pull {name}` "
                       f"(models: {', '.join(MODELS)}).")
