"""The engine interface: what every engine takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from ..params import EngineParams
from ..models import ModelNeed  # noqa: F401  (engines name it from here)
from ..step import Progress, Step


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


class Engine(Protocol):
    """What the registry hands out: an engine's params, its steps in a song's plan, and its identity.

    steps: the engine's part of a song's plan (the generate phase), e.g. one `generate`, or YuE's stage 1,
    stage 2 and decode; each step declares whether it loads models (and so holds a GPU slot) and its licence.
    tag_vocabulary: "yue" if songs' genre/mood/instrument/voice tags must come from YuE's vocabulary, None
    for free text. identity: engine, code version and model revision (in cache keys and lineage).
    An engine that loads models also has `models_needed(params) -> list[ModelNeed]`: every model its steps
    would load with these params, checked on disk without reading weights, so that an album can be refused
    before any run starts (songforge.preflight). Engines without models leave it out.
    """

    name: ClassVar[str]
    Params: ClassVar[type[EngineParams]]
    steps: ClassVar[tuple[Step, ...]]
    tag_vocabulary: ClassVar[str | None]

    def identity(self, params: EngineParams) -> str:
        """Engine name, code version and model revision: changes whenever outputs would."""
        ...

    def model_revision(self, params: EngineParams) -> str:
        """The weights (or what stands in for them) these params use, for lineage."""
        ...

    def generate(self, song: "SongSpec", params: EngineParams, seed: int, progress: Progress | None = None) -> Stems:
        """The whole take in one call (library and CLI use; the song flow runs `steps`)."""
        ...


def needed_models(engine: Engine, params: EngineParams) -> list[ModelNeed]:
    """engine.models_needed(params), or [] for an engine that loads no models (and so does not define it)."""
    method = getattr(engine, "models_needed", None)
    return list(method(params)) if callable(method) else []


def take_identity(song: "SongSpec") -> str:
    """The identity of `song`'s take by its engine: engine.song_identity(song) where the engine's identity depends
    on the song (and so defines it), else engine.identity(params)."""
    engine = song.engine.engine
    method = getattr(engine, "song_identity", None)
    return method(song) if callable(method) else engine.identity(song.engine.params)
