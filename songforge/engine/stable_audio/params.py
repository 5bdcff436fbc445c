"""Stable Audio Open's own params: the model, the sampler and its guidance. Each knob is defined once here.

The song gives the rest: its style tags (free text) make the prompt, its `duration_s` the length (at most
MAX_DURATION_S), its `seed` the noise. The engine makes no vocal.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..base import EngineParams

# Stable Audio Open 1.0 renders 1024 latent frames of 2048 samples at 44.1 kHz (47.55 s); its model card says 47 s.
MAX_DURATION_S = 47.0
DEFAULT_MODEL = "stable-audio-open"


class StableAudioParams(EngineParams):
    """Params of the stable-audio-open engine; `{}` is valid (the pulled model, diffusers' defaults)."""

    model: str = Field(DEFAULT_MODEL, min_length=1, description="'stable-audio-open' (pulled by `songforge models "
                       "pull stable-audio-open`) or a folder holding a StableAudioPipeline saved by diffusers")
    inference_steps: int = Field(100, ge=1, le=1000, description="denoising steps of the sampler (more: slower, "
                                 "usually cleaner; 100 as the model card)")
    guidance_scale: float = Field(7.0, ge=0, le=30, description="classifier-free guidance: how closely the audio "
                                  "follows the prompt (above 1 turns it on; 7 as the model card)")
    negative_prompt: str = Field("", max_length=500, description="what the audio should not sound like, e.g. "
                                 "'low quality, vocals' (empty: none)")
    bpm_in_prompt: bool = Field(True, description="end the prompt with the song's tempo ('120 BPM'), as the "
                                "model's training captions name it")
    sigma_min: float | None = Field(None, gt=0, le=10, description="the sampler's lowest noise level (None: the "
                                    "model's scheduler config, 0.3 for Stable Audio Open)")
    sigma_max: float | None = Field(None, gt=0, le=1000, description="the sampler's highest noise level (None: the "
                                    "model's scheduler config, 500 for Stable Audio Open)")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="weights' precision: auto is float16 on a GPU, float32 on the CPU")

    @model_validator(mode="after")
    def _sigmas_ordered(self) -> "StableAudioParams":
        if self.sigma_min is not None and self.sigma_max is not None and self.sigma_min >= self.sigma_max:
            raise ValueError(f"sigma_min ({self.sigma_min:g}) must be below sigma_max ({self.sigma_max:g}): lower "
                             "sigma_min or raise sigma_max")
        return self
