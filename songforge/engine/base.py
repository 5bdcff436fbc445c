"""The engine interface: what every engine takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ..params import SongSpec

Progress = Callable[[float, str], None]
"""Called with the fraction done (0..1) and a short description of the current step."""


@dataclass
class Stems:
    """An engine's output: vocal and instrumental stems, float32 (samples, 2) at `sample_rate`.

    `mix` is set by engines that produce a mixture first (separation derives the stems);
    `midi` by engines that know their notes (a Standard MIDI File of the arrangement);
    `metadata` holds JSON-able facts about the take (section times, the vocal's notes, ...).
    """

    vocals: np.ndarray
    instrumental: np.ndarray
    sample_rate: int
    mix: np.ndarray | None = None
    midi: bytes | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.vocals.ndim == 2 and self.vocals.shape[1] == 2, self.vocals.shape
        assert self.vocals.shape == self.instrumental.shape, (self.vocals.shape, self.instrumental.shape)

    @property
    def duration_s(self) -> float:
        return self.vocals.shape[0] / self.sample_rate


class EngineParams(BaseModel):
    """Base for an engine's own params (frozen, unknown keys rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class ModelNeed:
    """A model an engine would load for a song: the step that loads it, the name the song gives it, the folder
    it is looked for in, and what that folder lacks (`missing`, paths relative to it, "." for the folder
    itself; empty when the model is usable). `pull`: the name `songforge models pull` fetches it by, None
    for a folder of the user's own that no command can fetch."""

    role: str
    name: str
    folder: Path
    missing: tuple[str, ...] = ()
    pull: str | None = None


class Engine(Protocol):
    """What the registry hands out. `identity` goes into cache keys and lineage.

    An engine that loads models also has `models_needed(params) -> list[ModelNeed]`: every model
    `generate` would load with these params, checked on disk without reading weights, so that an album
    can be refused before any run starts (songforge.preflight). Engines without models leave it out.
    """

    name: ClassVar[str]
    Params: ClassVar[type[EngineParams]]

    def identity(self, params: EngineParams) -> str:
        """Engine name, code version and model revision: changes whenever outputs would."""
        ...

    def generate(self, song: "SongSpec", params: EngineParams, seed: int, progress: Progress | None = None) -> Stems:
        ...


def needed_models(engine: Engine, params: EngineParams) -> list[ModelNeed]:
    """engine.models_needed(params), or [] for an engine that loads no models (and so does not define it)."""
    method = getattr(engine, "models_needed", None)
    return list(method(params)) if callable(method) else []
