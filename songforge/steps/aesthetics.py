"""The aesthetics step: Meta's Audiobox Aesthetics ratings of the master (songforge.judge.aesthetics), as
`audiobox_pq`, `audiobox_pc`, `audiobox_ce` and `audiobox_cu`.

Opt-in (no weights exist on a fresh machine): a song or the album's defaults writes `aesthetics: {}` (the
default checkpoint, `songforge models pull audiobox-aesthetics`), or `aesthetics: {model: NAME_OR_FOLDER}`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from pydantic import Field

from ..artifacts import StageOutput
from ..errors import ParamsError
from ..judge import aesthetics as judge
from ..judge.folders import identity, licence_of, need
from ..judge.scoring import judged, score_file
from ..params import Frozen
from ..registry import register_step
from ..step import Inputs, Progress, Step


class AestheticsSettings(Frozen):
    """What a song may set for its Audiobox Aesthetics ratings."""

    model: str = Field(judge.NAME, min_length=1, description="a catalogue name (`songforge models pull NAME`) or "
                       "a folder with an Audiobox Aesthetics config.json and model.safetensors")


class AestheticsCall(Frozen):
    """What a song's ratings depend on: the checkpoint and its files' identity."""

    model: str
    model_identity: str


def aesthetics_call(song: Any, album: Any) -> AestheticsCall | None:
    settings = song.steps.get("aesthetics")
    if settings is None:
        return None
    if importlib.util.find_spec("audiobox_aesthetics") is None:  # its model class; pip alone does not install it
        raise ParamsError("aesthetics", "needs the audiobox_aesthetics package, which is not installed",
                          "run scripts/install.sh, or `pip install --no-deps audiobox_aesthetics==0.0.4` (it "
                          "declares torchaudio, which it does not need here)")
    return AestheticsCall(model=settings.model, model_identity=identity(settings.model, judge.NEEDED))


def rate_master(call: AestheticsCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """aesthetics.json (the ratings, the checkpoint and its licence); the data are the song's audiobox_* metrics."""
    ratings = score_file(inputs["master"].path("master"), lambda device: judge.load_aesthetics(call.model, device),
                         judge.aesthetics_scores)
    return judged("aesthetics", {metric_name(axis): value for axis, value in ratings.items()}, folder,
                  model=call.model, model_identity=call.model_identity, licence=str(licence_of(call.model)))


def metric_name(axis: str) -> str:
    return f"audiobox_{axis.lower()}"


STEP = register_step(Step(
    name="aesthetics", version="1", phase="measure", params=aesthetics_call, run=rate_master,
    settings=AestheticsSettings, reads=("master",), makes=("aesthetics",), artifacts=("aesthetics",), metrics=True,
    metric_names=tuple(metric_name(axis) for axis in judge.AXES), loads_models=True,
    licence=lambda call: licence_of(call.model), models=lambda call: [need("aesthetics", call.model, judge.NEEDED)]))

