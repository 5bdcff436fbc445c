"""StableAudioEngine: an instrumental take from the song's style tags through diffusers' StableAudioPipeline.

One step (`generate`, on the GPU slot). The prompt is the song's genre, instrument and mood tags (free text) and
its tempo; the length is the song's duration_s, at most the model's 47 s (refused when the song loads, not after
the run); the noise is the song's seed, drawn on the CPU so that a take is the same on any device. The take is
an instrumental stem and a silent vocal stem; its licence (Stability AI Community License) is in take.json.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np

from ...errors import EngineError
from ...params import SongSpec
from ...step import Step
from ..base import EngineParams, ModelNeed, Progress, Stems
from ..take import generate_step
from .params import MAX_DURATION_S, StableAudioParams
from .weights import LICENCE, folder_identity, load_pipeline, max_seconds, model_need

NAME = "stable-audio-open"
VERSION = "stable-audio-open-v1"  # bump whenever the same inputs would give different audio
_loaded: dict[tuple[str, str, str], Any] = {}  # the last pipeline loaded: (identity, device, dtype) -> pipeline
_lock = threading.Lock()  # one render at a time per process: the cached pipeline's scheduler is per call


def prompt_of(song: SongSpec, params: StableAudioParams) -> str:
    """The song's genre, instrument and mood tags, comma-separated, then its tempo ('..., 120 BPM')."""
    parts = [*song.genre, *song.instrument, *song.mood]
    return ", ".join(parts + ([f"{song.bpm:g} BPM"] if params.bpm_in_prompt else []))


def device_and_dtype(params: StableAudioParams) -> tuple[str, Any]:
    """cuda when there is one; float16 there and float32 on the CPU unless params name a dtype."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = params.dtype if params.dtype != "auto" else ("float16" if device == "cuda" else "float32")
    return device, getattr(torch, name)


def _pipeline(params: StableAudioParams) -> Any:
    """The pipeline these params load, kept for the next take of the same model (one kept at a time)."""
    device, dtype = device_and_dtype(params)
    key = (folder_identity(params.model), device, str(dtype))
    if key not in _loaded:
        _loaded.clear()  # free the previous model first
        _loaded[key] = load_pipeline(params.model, device, dtype)
    return _loaded[key]


def render(song: SongSpec, params: StableAudioParams, seed: int) -> tuple[np.ndarray, int, dict[str, Any]]:
    """(samples, 2) float32 audio of song.duration_s, its sample rate, and what made it."""
    import torch

    with _lock:
        pipeline = _pipeline(params)
        longest = max_seconds(pipeline)
        if song.duration_s > longest:
            raise EngineError(f"'{song.title}' asks for {song.duration_s:g} s, but the model in {params.model} "
                              f"renders at most {longest:.2f} s. Fix: set duration_s to {int(longest)} or less.")
        scheduler = pipeline.scheduler
        overrides = {k: v for k, v in (("sigma_min", params.sigma_min), ("sigma_max", params.sigma_max)) if v}
        pipeline.scheduler = type(scheduler).from_config(scheduler.config, **overrides)  # fresh state per take
        try:
            prompt = prompt_of(song, params)
            audio = pipeline(prompt, negative_prompt=params.negative_prompt or None, audio_end_in_s=song.duration_s,
                             num_inference_steps=params.inference_steps, guidance_scale=params.guidance_scale,
                             generator=torch.Generator("cpu").manual_seed(seed), output_type="np").audios[0]
        finally:
            pipeline.scheduler = scheduler
    audio = np.ascontiguousarray(audio.T, dtype=np.float32)  # (channels, samples) -> (samples, channels)
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    facts = {"prompt": prompt, "negative_prompt": params.negative_prompt, "max_duration_s": round(longest, 3),
             "instrumental": True, "licence": asdict(LICENCE)}
    return audio, int(pipeline.vae.config.sampling_rate), facts


class StableAudioEngine:
    """Stable Audio Open 1.0: instrumentals up to 47 s from free-text tags; same seed, same take."""

    name: ClassVar[str] = NAME
    Params: ClassVar[type[EngineParams]] = StableAudioParams
    steps: ClassVar[tuple[Step, ...]] = (generate_step(NAME, version="1", licence=LICENCE, loads_models=True),)
    tag_vocabulary: ClassVar[str | None] = None  # free text: the tags are the prompt

    def identity(self, params: EngineParams) -> str:
        """Code version, params hash and the model folder's identity (its pulled commit and file hashes)."""
        assert isinstance(params, StableAudioParams), type(params)
        digest = hashlib.sha256(params.model_dump_json().encode()).hexdigest()[:12]
        return f"{VERSION}:{digest}:{folder_identity(params.model)}"

    def model_revision(self, params: EngineParams) -> str:
        assert isinstance(params, StableAudioParams), type(params)
        return f"{params.model}={folder_identity(params.model)}"

    def models_needed(self, params: EngineParams) -> list[ModelNeed]:
        assert isinstance(params, StableAudioParams), type(params)
        return [model_need(params.model)]

    def max_duration_s(self, params: EngineParams) -> float:
        """The longest song it renders: a song asking for more is refused when it loads (SongSpec)."""
        return MAX_DURATION_S

    def generate(self, song: SongSpec, params: EngineParams, seed: int, progress: Progress | None = None) -> Stems:
        """44.1 kHz stereo float32: the instrumental, and a silent vocal stem of the same length."""
        assert isinstance(params, StableAudioParams), type(params)
        report = progress or (lambda fraction, step: None)
        report(0.0, "rendering")
        audio, rate, facts = render(song, params, seed)
        report(1.0, "done")
        metadata = {**facts, "seed": seed, "model": params.model, "identity": self.identity(params)}
        return Stems(np.zeros_like(audio), audio, rate, metadata=metadata)
