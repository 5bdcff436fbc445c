"""MusicGen checkpoints: their catalogue entries (`songforge models pull`), their licence, what a folder must hold,
and loading one (model + processor) from disk only.

A folder holds a MusicGen or a MusicGen-Melody model in transformers' format (config.json's model_type says
which): the text encoder (T5), the EnCodec codec and the decoder in safetensors, and the processor's files
(the T5 tokenizer; for Melody, the chroma feature extractor).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...catalogue import HubModel, model_folder, register_model
from ...errors import EngineError, ParamsError
from ...licences import CC_BY_NC_4
from ... import models
from ...models import ModelNeed, folder_state

# Meta's MusicGen weights are CC BY-NC 4.0 (the model cards): no commercial use, whoever runs them.
LICENCE = CC_BY_NC_4
# No commit of these repos could be read from this (offline) machine: a pull asks the hub which commit "main" is,
# downloads exactly that one and records it in the folder's manifest (songforge.catalogue._resolve).
_UNPINNED = "main"
_PATTERNS = ("*.json", "*.safetensors", "spiece.model")
MELODY_TYPE = "musicgen_melody"


def _entry(size: str, what: str) -> HubModel:
    return HubModel(f"facebook/musicgen-{size}", _UNPINNED, LICENCE, _PATTERNS, what)


MODELS = {name: register_model(name, entry) for name, entry in {
    "musicgen-small": _entry("small", "MusicGen 300M (text to music, mono 32 kHz)"),
    "musicgen-medium": _entry("medium", "MusicGen 1.5B (text to music, mono 32 kHz)"),
    "musicgen-large": _entry("large", "MusicGen 3.3B (text to music, mono 32 kHz)"),
    "musicgen-melody": _entry("melody", "MusicGen-Melody 1.5B (text and a melody's chroma to music, mono 32 kHz)"),
}.items()}
_MELODY_NAMES = {"musicgen-melody"}
_REQUIRED = (("config.json",), ("*.safetensors",), ("tokenizer.json", "spiece.model"))


@dataclass
class Loaded:
    """A model ready to generate: the transformers model, its processor, and whether it takes a melody."""

    model: Any
    processor: Any
    melody: bool

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def frame_rate(self) -> int:
        return int(self.model.config.audio_encoder.frame_rate)


def missing_files(folder: Path) -> list[str]:
    """What a model folder lacks; [] when usable (songforge.models.missing_files)."""
    return models.missing_files(folder, _REQUIRED)


def model_need(name_or_path: str) -> ModelNeed:
    """The model the render step loads, checked on disk, for the album-wide check before any run."""
    folder = model_folder(name_or_path)
    return ModelNeed("musicgen", name_or_path, folder, tuple(missing_files(folder)),
                     pull=name_or_path if name_or_path in MODELS else None)


def _fix(name_or_path: str) -> str:
    if name_or_path in MODELS:
        return f"run `songforge models pull {name_or_path}`"
    return f"restore the files in {name_or_path}, or point engine.params.model at another MusicGen folder"


def folder_identity(name_or_path: str) -> str:
    """Changes when the model's files do (songforge.models.folder_identity)."""
    return models.folder_identity(model_folder(name_or_path), name_or_path, _fix(name_or_path))


def is_melody(name_or_path: str) -> bool | None:
    """Whether the model takes a melody: known for catalogue names, read from config.json for a folder (None: no
    readable config there yet; the missing-model check reports that)."""
    if name_or_path in MODELS:
        return name_or_path in _MELODY_NAMES
    try:
        return json.loads((model_folder(name_or_path) / "config.json").read_text())["model_type"] == MELODY_TYPE
    except (OSError, ValueError, KeyError):
        return None


def check_melody(name_or_path: str, wants_melody: bool) -> None:
    """ParamsError, before any run, for a melody given to a model that cannot follow one."""
    if wants_melody and is_melody(name_or_path) is False:
        raise ParamsError("engine.params.melody", f"is set, but the model '{name_or_path}' is a text-only MusicGen",
                          "use model: musicgen-melody (or a MusicGen-Melody folder), or remove melody")


def load(name_or_path: str, device: str | None = None) -> Loaded:
    """The model and processor from the folder, never from the network (float32: sampling stays reproducible)."""
    import torch
    from transformers import (AutoProcessor, MusicgenForConditionalGeneration,
                              MusicgenMelodyForConditionalGeneration)

    folder = model_folder(name_or_path)
    if missing := missing_files(folder):
        raise EngineError(f"MusicGen model folder {folder} lacks {', '.join(missing)}. Fix: {_fix(name_or_path)}.")
    folder_state(folder, _fix(name_or_path))  # a recorded file changed or gone is said before loading
    melody = is_melody(name_or_path)
    cls = MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = cls.from_pretrained(folder, local_files_only=True, dtype=torch.float32).to(device).eval()
    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    return Loaded(model, processor, bool(melody))
