"""The musicgen engine's params: the model, the sampling knobs, the melody it follows and the windows of a long song.

The song's own fields give the rest: its duration_s is the take's exact length, its genre, mood and instrument
tags (free text) and bpm and key are the text prompt, its seed the sampling seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ..base import EngineParams

MAX_WINDOW_S = 30.0  # what MusicGen was trained on (its decoder's positions reach about 40 s)


class MusicGenParams(EngineParams):
    """Params of the musicgen engine; `{}` is valid (musicgen-small, the model card's sampling settings)."""

    model: str = Field(
        "musicgen-small", min_length=1,
        description="a catalogue name (`songforge models pull musicgen-small`, musicgen-medium, musicgen-large, "
                    "musicgen-melody) or a folder holding a MusicGen or MusicGen-Melody model in transformers' format")
    guidance_scale: float = Field(
        3.0, ge=1, le=15, description="classifier-free guidance: 1 = none, higher = closer to the text (and melody)")
    temperature: float = Field(1.0, gt=0, le=2, description="sampling temperature: low = safer, 1 = the model's own")
    top_k: int = Field(250, ge=0, le=4096, description="sample among the k likeliest codes at each step; 0 = all")
    melody: Literal["sketch"] | Path | None = Field(
        None, description="the melody a MusicGen-Melody model follows (the chroma of it): 'sketch' = the sketch "
                          "engine's guide vocal for the song's lyrics, or an audio file; None = text only")
    window_s: float = Field(
        MAX_WINDOW_S, ge=5, le=MAX_WINDOW_S,
        description="MusicGen makes at most this many seconds at once: a longer song continues in windows, each "
                    "prompted with the codes of the last overlap_s seconds made")
    overlap_s: float = Field(
        10.0, ge=1, le=25, description="seconds of codes each continuation window is prompted with (< window_s)")

    @model_validator(mode="after")
    def _overlap_inside_window(self) -> "MusicGenParams":
        if self.overlap_s >= self.window_s:
            raise ValueError(f"overlap_s ({self.overlap_s:g}) must be shorter than window_s ({self.window_s:g}): "
                             "lower overlap_s")
        return self

    @property
    def melody_file(self) -> Path | None:
        return self.melody if isinstance(self.melody, Path) else None
