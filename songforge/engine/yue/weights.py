"""YuE checkpoints: where they live, how to fetch them, and the explicit HF -> engine weight map."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor

from ...errors import EngineError, ParamsError
from .model import ModelArgs, Transformer

# Model names users type (`songforge models pull NAME`) -> Hugging Face repo ids (SPEC §1).
MODELS = {
    "yue-en-cot": "m-a-p/YuE-s1-7B-anneal-en-cot",
    "yue-en-icl": "m-a-p/YuE-s1-7B-anneal-en-icl",
    "yue-zh-cot": "m-a-p/YuE-s1-7B-anneal-zh-cot",
    "yue-zh-icl": "m-a-p/YuE-s1-7B-anneal-zh-icl",
    "yue-jp-kr-cot": "m-a-p/YuE-s1-7B-anneal-jp-kr-cot",
    "yue-jp-kr-icl": "m-a-p/YuE-s1-7B-anneal-jp-kr-icl",
    "yue-s2": "m-a-p/YuE-s2-1B-general",
    "xcodec": "m-a-p/xcodec_mini_infer",  # codec + Vocos upsamplers + HuBERT config; converted after download
}
_FILES = ["*.json", "*.safetensors", "tokenizer.model"]
# The xcodec repo also holds code and sample audio; take only the checkpoints and their configs.
_PATTERNS = {"xcodec": ["final_ckpt/*", "decoders/*", "semantic_ckpts/hf_1_325000/*"]}
_IGNORED = ("rotary_emb.inv_freq",)  # recomputed by the engine; some older checkpoints carry it


def models_dir() -> Path:
    """Root of downloaded models: $SONGFORGE_MODELS, else ~/.cache/songforge/models."""
    return Path(os.environ.get("SONGFORGE_MODELS", Path.home() / ".cache" / "songforge" / "models"))


def pull(model_name: str, dest: Path | None = None) -> Path:
    """Download a model into dest (default models_dir()/name): a YuE LM's config, shards and tokenizer, or
    the xcodec repo's checkpoints, which are then converted for transformers into dest/hf."""
    if model_name not in MODELS:
        raise ParamsError("model", f"unknown YuE model '{model_name}'", f"use one of: {', '.join(MODELS)}")
    from huggingface_hub import snapshot_download

    dest = Path(dest) if dest is not None else models_dir() / model_name
    try:
        snapshot_download(MODELS[model_name], local_dir=dest, allow_patterns=_PATTERNS.get(model_name, _FILES))
    except Exception as error:  # network, auth, disk: all end the same way for the user
        raise EngineError(f"could not download {MODELS[model_name]} into {dest}: {error}. Fix: check the network "
                          f"and disk space, then rerun `songforge models pull {model_name}`.") from error
    if model_name == "xcodec":
        from .codec import CONVERTED, convert_official

        convert_official(dest, dest / CONVERTED)
    return dest


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
