"""The songeval step: SongEval's five aesthetic scores of the master (songforge.judge.songeval): metrics
`songeval_coherence`, `songeval_memorability`, `songeval_naturalness`, `songeval_clarity`, `songeval_musicality`.

Opt-in (`songeval: {}` in a song or the album's defaults): its head is CC BY-NC-SA 4.0 and its MuQ CC BY-NC 4.0,
so it is off unless asked for, its licence is written beside its numbers, and a `commercial: true` album
refuses it before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from ..artifacts import StageOutput
from ..judge import songeval as judge
from ..judge.folders import identity, licence_of, need
from ..judge.scoring import judged, score_file
from ..licences import Licence
from ..params import Frozen
from ..registry import register_step
from ..step import Inputs, Progress, Step


class SongEvalSettings(Frozen):
    """Which SongEval head and which MuQ it reads (catalogue names or folders)."""

    model: str = Field(judge.NAME, min_length=1, description="SongEval's head: a catalogue name or a folder with "
                       "config.yaml and ckpt/model.safetensors")
    muq: str = Field(judge.MUQ_NAME, min_length=1, description="the MuQ the head reads: a catalogue name or a "
                     "folder with config.json and its weights")


class SongEvalCall(Frozen):
    """What the scores depend on: both models and their files' identities."""

    settings: SongEvalSettings
    model_identity: str
    muq_identity: str


def songeval_call(song: Any, album: Any) -> SongEvalCall | None:
    settings = song.steps.get("songeval")
    if settings is None:
        return None
    return SongEvalCall(settings=settings, model_identity=identity(settings.model, judge.FILES),
                        muq_identity=identity(settings.muq, judge.MUQ_NEEDED))


def licence(call: SongEvalCall) -> Licence:
    """The head's licence (CC BY-NC-SA 4.0 for the catalogue's), unless the MuQ it reads forbids commercial use and
    the head does not say so (a head of one's own over the catalogue's CC BY-NC 4.0 MuQ)."""
    head, muq = licence_of(call.settings.model), licence_of(call.settings.muq)
    return muq if muq.commercial == "no" and head.commercial != "no" else head


def score_songeval(call: SongEvalCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """songeval.json (the scores, both models, the licences); the data are the song's five songeval_* metrics."""
    settings = call.settings
    scores = score_file(inputs["master"].path("master"),
                        lambda device: judge.load_songeval(settings.model, settings.muq, device), judge.songeval_scores)
    return judged("songeval", scores, folder, model=settings.model, muq=settings.muq,
                  model_identity=call.model_identity, muq_identity=call.muq_identity,
                  licence=str(licence_of(settings.model)), muq_licence=str(licence_of(settings.muq)))


STEP = register_step(Step(
    name="songeval", version="1", phase="measure", params=songeval_call, run=score_songeval,
    settings=SongEvalSettings, reads=("master",), makes=("songeval",), artifacts=("songeval",), metrics=True,
    metric_names=judge.SCORES,
    loads_models=True, licence=licence,
    models=lambda call: [need("songeval", call.settings.model, judge.FILES),
                         need("songeval", call.settings.muq, judge.MUQ_NEEDED)]))
