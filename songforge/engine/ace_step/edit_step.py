"""The `repaint` step `songforge edit` plans for an ACE-Step song (songforge.song_edit): the song's take with a
time range made anew (edit.repaint: an end past the take's end extends it), written as a take like the render's,
so that the song's chain (separate, mix, master, measure, ...) runs on it unchanged.

It is one of the engine's steps (so every process finds it by its key, ace-step/repaint) but never in a song's
own plan: its params are None there; the edit plan gives it an EditCall. steps.py imports this module and makes
the engine's Editor of it (with its render_call): nothing here imports steps.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from pydantic import SerializeAsAny

from ...artifacts import StageOutput
from ...audio.io import read_audio
from ...errors import ParamsError
from ...licences import MIT
from ...params import Frozen
from ...song_edit import EditRequest
from ...step import Inputs, Progress, Step
from ..base import Stems
from ..take import TAKE_PLAYERS, TAKE_ROLES, write_take
from . import pipeline as ace  # called through the module: a test may count loads
from . import edit  # CROSSFADE_S read through the module: a test may change it
from .edit import check_range, repaint
from .params import PLACEMENT
from .render import caption
from .weights import model_need

SOURCE = Path("stems") / "engine_mix.wav"  # the take an edit starts from, in the song's folder (the render's mix)


class EditCall(Frozen):
    """What an edit depends on: the render's call for the song as edited (steps.RenderCall: the song, the engine's
    identity and input files, where it runs outside the key), the original take's mix (a file: its content is in
    the cache key), the range, the seed and the crossfade margin (edit.CROSSFADE_S: a new margin is new audio)."""

    render: SerializeAsAny[Frozen]
    source: Path
    start_s: float
    end_s: float
    seed: int
    crossfade_s: float


def edit_call(render: Any, folder: Path, request: EditRequest) -> EditCall:
    """The repaint of `request`'s range of the take in `folder` (render: steps.render_call of the edited song);
    ParamsError for a folder without the take's mix, or a range the take lacks."""
    source = Path(folder) / SOURCE
    if not source.is_file():
        raise ParamsError("SONG_FOLDER", f"{folder} has no {SOURCE.as_posix()}, the ACE-Step mix an edit starts "
                          "from", "edit the folder of a song the ace-step engine made (out/<album>/<nn>-<song>/)")
    check_range(request.start_s, request.end_s, soundfile.info(str(source)).duration)
    return EditCall(render=render, source=source.resolve(), start_s=request.start_s, end_s=request.end_s,
                    seed=request.seed, crossfade_s=edit.CROSSFADE_S)


def run_edit(call: EditCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """The edited take: stems/engine_mix.wav (the original outside the range beyond edit.CROSSFADE_S), its
    silent vocals and mix-as-instrumental, and take.json: the original's facts (licence, stems note), with what
    this take is and what was edited."""
    render: Any = call.render
    song, report = render.song, progress or (lambda fraction, what: None)
    params = song.engine.params.model_copy(update={"memory": render.memory})
    report(0.0, "loading ACE-Step")
    with ace.loaded(params) as (pipe, memory):
        original, rate = read_audio(call.source, pipe.sample_rate)
        report(0.2, f"repainting {call.start_s:g}-{call.end_s:g} s")
        edited = repaint(pipe, song, params, original, call.start_s, call.end_s, call.seed, call.crossfade_s)
    report(1.0, "done")
    before = json.loads((call.source.parent.parent / "take.json").read_text(encoding="utf-8"))
    metadata = {**{k: v for k, v in before.items() if k not in ("engine", "duration_s", "edit", "planned")},
                "identity": render.identity, "seed": call.seed, "caption": caption(song, params),
                "lyrics": song.lyrics, "memory": memory, "params": params.model_dump(mode="json", exclude=PLACEMENT),
                "edit": {**edited.facts(), "task": "repaint", "seed": call.seed, "of": str(call.source)}}
    mix = edited.audio
    return write_take(Stems(np.zeros_like(mix), mix, rate, mix=mix, metadata=metadata), folder, render.identity,
                      call.seed)


REPAINT = Step(name="repaint", owner="ace-step", version="1", phase="generate", params=lambda song, album: None,
               run=run_edit, makes=(*TAKE_ROLES, "engine_mix"), loads_models=True,
               licence=MIT,  # ACE-Step's, as the render's (steps.LICENCE: steps.py imports this module)
               models=lambda call: [model_need(call.render.song.engine.params.model)], players=TAKE_PLAYERS,
               artifacts=("take",))
