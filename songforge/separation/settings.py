"""What a song (or an album's defaults) sets for the separate step, `separate: {...}`; the `songforge separate`
command takes its model, chunk and overlap options from the same fields."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..params import Frozen
from .models import DEFAULT_MODEL

ROLES = ("vocals", "instrumental")


class SeparateSettings(Frozen):
    """`separate:` on a song or in an album's defaults."""

    model: str = Field(DEFAULT_MODEL, description="a separator model: a name `songforge models list` shows, a "
                       "file name audio-separator lists (pulled by `songforge models pull`), or a folder of your own")
    stems: tuple[Literal["vocals", "instrumental"], ...] = Field(
        ROLES, min_length=1, description="the stems made anew: [vocals], [instrumental] or [vocals, instrumental]")
    source: Literal["mix", "tracks"] = Field("mix", description="mix: separate the engine's mix (or its stems "
                                             "summed); tracks: separate each of the engine's tracks")
    chunk_s: float = Field(300.0, ge=30, le=3600, description="seconds separated at once (memory)")
    overlap_s: float = Field(4.0, ge=1, le=60, description="seconds consecutive chunks share and crossfade over")

    @model_validator(mode="after")
    def _consistent(self) -> "SeparateSettings":
        if len(set(self.stems)) != len(self.stems):
            raise ValueError("stems lists a stem twice; list each once")
        if self.overlap_s > self.chunk_s / 2:
            raise ValueError(f"overlap_s {self.overlap_s} is over half of chunk_s {self.chunk_s}; lower it")
        return self
