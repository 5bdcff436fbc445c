"""The mulan step: the MuQ-MuLan similarity of the master to the song's style text (metric `mulan`).

Opt-in (`mulan: {}` in a song or the album's defaults): its weights are pulled, never downloaded at run time,
and are CC BY-NC 4.0, so an album with `commercial: true` refuses it before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from ..artifacts import StageOutput
from ..judge.folders import identity, licence_of, need
from ..judge.scoring import judged, score_file
from ..judge.text import JudgedText, judged_text
from ..judge.mulan import NAME, NEEDED
from ..params import Frozen
from ..registry import register_step
from ..step import Inputs, Progress, Step


class MulanSettings(Frozen):
    """model: a catalogue name or a folder laid out as a pull leaves it; text: what the audio is held against
    (default: the song's style tags)."""

    model: str = Field(NAME, min_length=1, description="a catalogue name (`songforge models pull NAME`) or a "
                       "folder laid out as a pull leaves it")
    text: JudgedText


class MulanCall(Frozen):
    """What the similarity depends on: the model (and its files' identity) and the text."""

    model: str
    model_identity: str
    text: str


def mulan_call(song: Any, album: Any) -> MulanCall | None:
    settings = song.steps.get("mulan")
    if settings is None:
        return None
    return MulanCall(model=settings.model, model_identity=identity(settings.model, NEEDED),
                     text=judged_text(song, settings.text, "mulan.text"))


def mulan(call: MulanCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """mulan.json (the similarity, the model, the text and its licence); the data is the song's `mulan`."""
    from ..judge.mulan import load_mulan, mulan_score

    score = score_file(inputs["master"].path("master"), lambda device: load_mulan(call.model, device),
                       lambda model, audio, rate: mulan_score(model, audio, rate, call.text))
    return judged("mulan", {"mulan": score}, folder, model=call.model, model_identity=call.model_identity,
                  text=call.text, licence=str(licence_of(call.model)))


STEP = register_step(Step(
    name="mulan", version="1", phase="measure", params=mulan_call, run=mulan, settings=MulanSettings,
    reads=("master",), makes=("mulan",), artifacts=("mulan",), loads_models=True, metrics=True,
    metric_names=("mulan",), licence=lambda call: licence_of(call.model),
    models=lambda call: [need("mulan", call.model, NEEDED)]))
