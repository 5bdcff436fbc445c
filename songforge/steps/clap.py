"""The clap step: the CLAP score of the master against the song's style text (songforge.judge.clap).

Opt-in (no weights exist on a fresh machine): a song or the album's defaults writes `clap: {}` (the default
checkpoint, `songforge models pull larger-clap-music`), or `clap: {model: NAME_OR_FOLDER, text: "..."}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from ..artifacts import StageOutput
from ..judge import clap as judge
from ..judge.folders import identity, licence_of, need
from ..judge.scoring import judged, score_file
from ..judge.text import JudgedText, judged_text
from ..params import Frozen
from ..registry import register_step
from ..step import Inputs, Progress, Step


class ClapSettings(Frozen):
    """What a song may set for its CLAP score."""

    model: str = Field(judge.NAME, min_length=1, description="a catalogue name (`songforge models pull NAME`) or "
                       "the folder of a transformers CLAP checkpoint")
    text: JudgedText


class ClapCall(Frozen):
    """What a song's CLAP score depends on: the checkpoint (and its files' identity) and the text."""

    model: str
    text: str
    model_identity: str


def clap_call(song: Any, album: Any) -> ClapCall | None:
    settings = song.steps.get("clap")
    if settings is None:
        return None
    return ClapCall(model=settings.model, text=judged_text(song, settings.text, "clap.text"),
                    model_identity=identity(settings.model, judge.NEEDED))


def score_clap(call: ClapCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """clap.json (the score, the checkpoint, the text and its licence); the data is the song's `clap_score`."""
    score = score_file(inputs["master"].path("master"), lambda device: judge.load_clap(call.model, device),
                       lambda clap, audio, rate: judge.clap_score(clap, audio, rate, call.text))
    return judged("clap", {"clap_score": score}, folder, model=call.model, model_identity=call.model_identity,
                  text=call.text, licence=str(licence_of(call.model)))


STEP = register_step(Step(
    name="clap", version="1", phase="measure", params=clap_call, run=score_clap, settings=ClapSettings,
    reads=("master",), makes=("clap",), artifacts=("clap",), metrics=True, metric_names=("clap_score",),
    loads_models=True,
    licence=lambda call: licence_of(call.model), models=lambda call: [need("clap", call.model, judge.NEEDED)]))
