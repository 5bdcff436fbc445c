"""CLAP score: the cosine similarity between a song's audio and a text (its style), with transformers' ClapModel.

Preprocessing is the checkpoint's own: mono, resampled to its feature extractor's rate (48 kHz), then the
extractor's log-mel and its handling of audio longer than its window (10 s): `larger_clap_music` was trained
with "fusion" (a mel of the whole song shrunk to one window, stacked with three crops drawn from its front,
middle and back thirds); `rand_trunc` checkpoints take one random crop. Those crops are drawn from numpy's
global random state; this module draws them from a fixed seed (the state restored after), so the same audio
always gets the same score. Text is tokenized as CLAP trained it (truncated to 77 tokens).

Any transformers CLAP checkpoint can be named (a catalogue name or a folder); it is loaded offline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..audio.io import resample, to_mono
from ..catalogue import HubModel, register_model
from ..errors import EngineError
from ..licences import APACHE_2
from .folders import require

NAME = "larger-clap-music"  # `songforge models pull larger-clap-music`
# The repo's main at its last commit ("Update README.md", 2023-10-30), as the hub lists its history.
ENTRY = register_model(NAME, HubModel(
    "laion/larger_clap_music", "a0b4534a14f58e20944452dff00a22a06ce629d1", APACHE_2,
    ("*.json", "merges.txt", "pytorch_model.bin", "*.safetensors"),
    "LAION CLAP (HTSAT + RoBERTa) trained on music: the CLAP score of a song against its style"))
NEEDED = ("config.json",)
TEXT_TOKENS = 77  # CLAP's tokenizer length in training
_random_state = threading.Lock()  # the extractor's crops use numpy's global state: one seeded draw at a time


@dataclass(frozen=True)
class Clap:
    """A loaded CLAP checkpoint: the model (eval, on its device) and its processor (feature extractor + tokenizer)."""

    model: Any
    processor: Any

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def load_clap(name: str, device: str | torch.device = "cpu") -> Clap:
    """The CLAP checkpoint named (catalogue name or folder), offline; EngineError with the fix otherwise."""
    from transformers import ClapModel, ClapProcessor

    folder = require(name, NEEDED, "CLAP")
    try:
        model = ClapModel.from_pretrained(str(folder), local_files_only=True)
        processor = ClapProcessor.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError) as error:
        raise EngineError(f"CLAP model '{name}' in {folder} cannot be loaded ({str(error)[:300]}). Fix: pull it "
                          "again, or name a transformers CLAP checkpoint (config.json, weights, processor and "
                          "tokenizer files).") from None
    return Clap(model.to(device).eval(), processor)


def audio_inputs(clap: Clap, audio: np.ndarray, sample_rate: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """(samples,) or (samples, channels) audio -> the extractor's input_features [1, 4 or 1, frames, mels] and
    is_longer [1, 1], as the checkpoint was trained (mono, its rate, its long-audio handling, crops from `seed`)."""
    extractor = clap.processor.feature_extractor
    mono = resample(to_mono(audio)[:, None], sample_rate, extractor.sampling_rate)[:, 0]
    with _random_state:
        saved = np.random.get_state()
        np.random.seed(seed)
        try:
            features = extractor(mono, sampling_rate=extractor.sampling_rate, return_tensors="pt")
        finally:
            np.random.set_state(saved)
    return {key: features[key].to(clap.device) for key in ("input_features", "is_longer")}


@torch.inference_mode()
def audio_embedding(clap: Clap, audio: np.ndarray, sample_rate: int, seed: int = 0) -> torch.Tensor:
    """The audio's unit-length CLAP embedding [projection_dim]."""
    return clap.model.get_audio_features(**audio_inputs(clap, audio, sample_rate, seed)).pooler_output[0].float()


@torch.inference_mode()
def text_embedding(clap: Clap, text: str) -> torch.Tensor:
    """The text's unit-length CLAP embedding [projection_dim]."""
    tokens = clap.processor.tokenizer([text], truncation=True, max_length=TEXT_TOKENS, return_tensors="pt")
    tokens = {key: value.to(clap.device) for key, value in tokens.items() if key in ("input_ids", "attention_mask")}
    return clap.model.get_text_features(**tokens).pooler_output[0].float()


def clap_score(clap: Clap, audio: np.ndarray, sample_rate: int, text: str, seed: int = 0) -> float:
    """Cosine similarity (-1..1) between the audio and the text in the checkpoint's joint space."""
    if not text.strip():
        raise EngineError("the CLAP score needs a text to hold the audio against, and it is empty. Fix: give the "
                          "song style tags, or set clap.text.")
    audio_vector, text_vector = audio_embedding(clap, audio, sample_rate, seed), text_embedding(clap, text)
    return float(torch.nn.functional.cosine_similarity(audio_vector, text_vector, dim=0))

