"""A song's step as data: what it reads and makes, the params that define its result, and the function doing it.

A step never names the steps around it. It reads *roles* (a StageOutput's files are keyed by role:
"vocals", "mix", "master", ...) and makes roles; a song's plan (songforge.plan) wires each role it
reads to the last earlier step that made it. So a step that makes "vocals" again after the engine
(a refined voice) is what the mix then reads, with no edit anywhere else.

Orchestration (caching, retries, the GPU slot, batching, tracking) reads these fields; the step's
`run` is a plain function of the library: `run(params, inputs, folder, progress) -> StageOutput`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional, get_args

from pydantic import BaseModel

from .artifacts import StageOutput
from .licences import Licence
from .models import ModelNeed

Phase = Literal["words", "prepare", "generate", "post", "mix", "master", "measure", "report"]
PHASES: tuple[str, ...] = get_args(Phase)

Progress = Callable[[float, str], None]
Inputs = Mapping[str, StageOutput]
"""Role -> the output of the step that made it last, for every role a step reads."""

Run = Callable[[Any, Inputs, Path, Optional[Progress]], StageOutput]
ParamsOf = Callable[[Any, Any], Optional[BaseModel]]
"""(song, album) -> the params slice that defines the step's result for that song, or None: not in its plan."""


@dataclass(frozen=True)
class Batching:
    """How the same step of several songs runs as one batch (each song keeps its own result and cache key).

    key(params): steps whose keys are equal may share a batch (None: this one runs alone). run(members, progress): computes each
    (params, folder) member into its folder. ready(params, folder): a member's output if a batch (or an
    earlier run) already made it there, else None; the song's own step returns it without the GPU.
    """

    key: Callable[[Any], Optional[str]]
    run: Callable[[list[tuple[Any, Path]], Optional[Progress]], None]
    ready: Callable[[Any, Path], Optional[StageOutput]]


@dataclass(frozen=True)
class Step:
    """One step of a song's plan, as data. `name` is unique within its owner (the song steps, or an engine).

    version: bump it whenever the same inputs would give a different result (it is in every cache key).
    loads_models: the step loads model weights onto the device, and so holds one of the host's GPU slots.
    licence: of the model or data it uses (or a function of its params, when the song names the model); an album
    with `commercial: true` refuses one that forbids it.
    models: the models it would load with these params, checked on disk (songforge.models.ModelNeed), so that
    an album is refused before any run when one is missing (songforge.preflight).
    players / pictures / artifacts: roles a person listens to, looks at (the review page), and MLflow keeps.
    metrics: the step's data are the song's metrics (MLflow metrics, the report's numbers, metrics.csv).
    metric_names: the keys of those data, declared so that a selection rule (songforge.select) naming a metric no
    planned step makes is refused when the album loads; a metrics step that declares none is not checked.
    settings: the model of what a song (or an album's defaults) may set for this step, as a field named after
    the step; `song.steps[name]` holds it, validated, and `params` reads it (None there: not in the plan).
    """

    name: str
    version: str
    phase: Phase
    params: ParamsOf
    run: Run
    reads: tuple[str, ...] = ()
    may_read: tuple[str, ...] = ()  # roles read when an earlier step makes them, left out of its inputs otherwise
    makes: tuple[str, ...] = ()
    loads_models: bool = False
    licence: Licence | Callable[[Any], Licence] | None = None
    models: Callable[[Any], list[ModelNeed]] | None = None
    players: tuple[str, ...] = ()
    pictures: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()
    metrics: bool = False
    metric_names: tuple[str, ...] = ()
    batching: Batching | None = None
    settings: type[BaseModel] | None = None
    owner: str = "song"  # "song", or the engine whose steps these are (engine steps may share names)

    def __post_init__(self) -> None:
        assert self.phase in PHASES, self.phase
        assert self.name and "/" not in self.name, self.name

    def licence_for(self, params: Any) -> Licence | None:
        return self.licence(params) if callable(self.licence) else self.licence

    @property
    def key(self) -> str:
        """How the registry and the orchestration name it: 'mix', or '<engine>/<step>' for an engine's step."""
        return self.name if self.owner == "song" else f"{self.owner}/{self.name}"
