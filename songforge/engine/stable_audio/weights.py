"""Stable Audio Open's weights: the catalogue entry (`songforge models pull stable-audio-open`, a gated hub repo:
the user's token), what a folder must hold, its identity, and the pipeline loaded from disk only.

A folder is diffusers' StableAudioPipeline layout: model_index.json and one subfolder per component (transformer,
vae, text_encoder, projection_model, tokenizer, scheduler). The repo also holds stable-audio-tools' single-file
checkpoints (model.safetensors, model.ckpt: several GB): a pull leaves them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...catalogue import HubModel, model_folder, register_model
from ...errors import EngineError
from ...licences import STABILITY_COMMUNITY
from ... import models
from ...models import ModelNeed, folder_state
from .params import DEFAULT_MODEL

LICENCE = STABILITY_COMMUNITY
COMPONENTS = ("transformer", "vae", "text_encoder", "projection_model", "tokenizer", "scheduler")
# No commit of this repo could be found from this (offline) machine: a pull asks the hub which commit "main" is,
# downloads exactly that one and records it in the folder's manifest (songforge.catalogue._resolve).
_UNPINNED = "main"
_PATTERNS = ("model_index.json", "LICENSE.md", *(f"{part}/*" for part in COMPONENTS))
MODELS = {DEFAULT_MODEL: register_model(DEFAULT_MODEL, HubModel(
    "stabilityai/stable-audio-open-1.0", _UNPINNED, LICENCE, _PATTERNS,
    "Stable Audio Open 1.0 (text to 44.1 kHz stereo audio, up to 47 s; gated: needs HF_TOKEN)", gated=True))}
_REQUIRED = (("model_index.json",), *((f"{part}/*config.json",) for part in COMPONENTS if part != "tokenizer"),
             ("tokenizer/tokenizer_config.json",),
             *((f"{part}/*.safetensors",) for part in ("transformer", "vae", "text_encoder", "projection_model")))


def missing_files(folder: Path) -> list[str]:
    """What a model folder lacks; [] when usable (songforge.models.missing_files)."""
    return models.missing_files(folder, _REQUIRED)


def model_need(name_or_path: str) -> ModelNeed:
    """The pipeline the generate step loads, checked on disk, for the album-wide check before any run."""
    folder = model_folder(name_or_path)
    return ModelNeed("stable-audio-open", name_or_path, folder, tuple(missing_files(folder)),
                     pull=name_or_path if name_or_path in MODELS else None)


def _fix(name_or_path: str) -> str:
    if name_or_path in MODELS:
        return (f"run `songforge models pull {name_or_path}` (a gated repo: accept its licence on the hub and set "
                "HF_TOKEN first)")
    return f"restore the files in {name_or_path}, or point engine.params.model at another StableAudioPipeline folder"


def folder_identity(name_or_path: str) -> str:
    """Changes when the model's files do (songforge.models.folder_identity)."""
    return models.folder_identity(model_folder(name_or_path), name_or_path, _fix(name_or_path))


def max_seconds(pipeline: Any) -> float:
    """The longest audio the loaded pipeline renders: the DiT's latent length times the VAE's hop, in seconds."""
    return pipeline.transformer.config.sample_size * pipeline.vae.hop_length / pipeline.vae.config.sampling_rate


def load_pipeline(name_or_path: str, device: str, dtype: Any) -> Any:
    """StableAudioPipeline from the folder, never from the network; EngineError with the fix when files lack."""
    from diffusers import StableAudioPipeline

    folder = model_folder(name_or_path)
    if missing := missing_files(folder):
        raise EngineError(f"Stable Audio Open model folder {folder} lacks {', '.join(missing)}. "
                          f"Fix: {_fix(name_or_path)}.")
    folder_state(folder, _fix(name_or_path))  # a recorded file changed or gone is said before loading
    pipeline = StableAudioPipeline.from_pretrained(folder, local_files_only=True, dtype=dtype)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)
