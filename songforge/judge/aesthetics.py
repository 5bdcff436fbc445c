"""Audiobox Aesthetics: Meta's four no-reference ratings of a recording (production quality PQ, production
complexity PC, content enjoyment CE, content usefulness CU, each about 1..10), from its checkpoint.

The model is the `audiobox_aesthetics` package's own (`AesMultiOutput`: a WavLM encoder, a learned mix of its
layers and one small head per axis), built from the checkpoint's config.json and loaded from its
model.safetensors, offline; the package's inference code (which needs torchaudio) is not used. Preprocessing
is the package's: mono (the mean of the channels), 16 kHz, 10 s windows every 10 s, the last one zero-padded
and masked; each window's ratings, mapped back from the model's normalised targets, are averaged weighted by
the share of the window that holds audio. Resampling is soxr's (the package uses torchaudio's sinc resampler).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..audio.io import resample, to_mono
from ..catalogue import HubModel, register_model
from ..errors import AudioError, EngineError
from ..licences import CC_BY_4
from .folders import require

NAME = "audiobox-aesthetics"  # `songforge models pull audiobox-aesthetics`
# The commit two independent projects pin for facebook/audiobox-aesthetics's model.safetensors (415.5 MB).
ENTRY = register_model(NAME, HubModel(
    "facebook/audiobox-aesthetics", "9b1dd8e5df9af7216e836a98974fe3b82c56ded6", CC_BY_4,
    ("config.json", "model.safetensors"), "Meta Audiobox Aesthetics (PQ, PC, CE, CU ratings of a recording)"))
NEEDED = ("config.json", "model.safetensors")
AXES = ("PQ", "PC", "CE", "CU")
SAMPLE_RATE = 16_000
WINDOW_S = 10  # the package's window and hop (AesPredictor.forward: make_inference_batch(wavs, 10, 10))
HOP_S = 10


@dataclass(frozen=True)
class Windows:
    """Audio cut as the model reads it: wavs [N, T] float32 at 16 kHz, masks [N, T] (True where there is audio),
    weights [N] (the share of each window that holds audio)."""

    wavs: np.ndarray
    masks: np.ndarray
    weights: np.ndarray


def load_aesthetics(name: str, device: str | torch.device = "cpu") -> Any:
    """The AesMultiOutput named (catalogue name or folder: config.json + model.safetensors), in eval mode on `device`;
    EngineError with the fix otherwise."""
    from audiobox_aesthetics.model.aes import AesMultiOutput
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = require(name, NEEDED, "Audiobox Aesthetics")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        accepted = {field.name for field in dataclasses.fields(AesMultiOutput)}
        model = AesMultiOutput(**{key: value for key, value in config.items() if key in accepted})
        model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as error:
        raise EngineError(f"Audiobox Aesthetics model '{name}' in {folder} cannot be loaded ({str(error)[:300]}). "
                          "Fix: pull it again (`songforge models pull audiobox-aesthetics`).") from None
    if not model.target_transform or set(AXES) - set(model.target_transform):
        raise EngineError(f"{folder / 'config.json'} has no target_transform for {', '.join(AXES)}: not an Audiobox "
                          "Aesthetics checkpoint. Fix: pull it again (`songforge models pull audiobox-aesthetics`).")
    return model.to(device).eval()


def windows(audio: np.ndarray, sample_rate: int) -> Windows:
    """(samples,) or (samples, channels) audio -> mono 16 kHz windows of 10 s every 10 s, as the package cuts them."""
    mono = resample(to_mono(audio)[:, None], sample_rate, SAMPLE_RATE)[:, 0]
    if len(mono) == 0:
        raise AudioError("Audiobox Aesthetics got no audio to rate. Fix: check the master, which is empty.")
    length, hop = WINDOW_S * SAMPLE_RATE, HOP_S * SAMPLE_RATE
    starts = range(0, len(mono), hop)
    wavs = np.zeros((len(starts), length), np.float32)
    masks = np.zeros((len(starts), length), bool)
    for n, start in enumerate(starts):
        part = mono[start:start + length]
        wavs[n, :len(part)], masks[n, :len(part)] = part, True
    return Windows(wavs, masks, masks.sum(axis=1) / length)


@torch.inference_mode()
def aesthetics_scores(model: Any, audio: np.ndarray, sample_rate: int, batch_windows: int = 8) -> dict[str, float]:
    """{'PQ', 'PC', 'CE', 'CU'} -> the recording's rating: each window's, weighted by the audio it holds."""
    cut = windows(audio, sample_rate)
    device = next(model.parameters()).device
    ratings: dict[str, list[torch.Tensor]] = {axis: [] for axis in AXES}
    for start in range(0, len(cut.wavs), batch_windows):
        wav = torch.from_numpy(cut.wavs[start:start + batch_windows])[:, None].to(device)
        mask = torch.from_numpy(cut.masks[start:start + batch_windows])[:, None].to(device)
        for axis, predicted in model({"wav": wav, "mask": mask}).items():
            if axis in ratings:
                ratings[axis].append(predicted.float().cpu())
    weights = torch.from_numpy(cut.weights).float()
    return {axis: float((_rating(model, axis, torch.cat(found)) * weights).sum() / weights.sum())
            for axis, found in ratings.items()}


def _rating(model: Any, axis: str, normalised: torch.Tensor) -> torch.Tensor:
    """The model's output for an axis mapped back to the rating scale (its target_transform's mean and std)."""
    transform = model.target_transform[axis]
    return normalised * transform["std"] + transform["mean"]
