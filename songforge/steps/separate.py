"""The separate step: vocals and instrumental made anew by an audio-separator model, after the engine and before the
mix, which then reads them with no edit (it reads the roles' last makers).

A song asks for it with `separate: {model: NAME, stems: [vocals, instrumental], source: mix|tracks}`.
source mix: the engine's mix, or its vocals and instrumental summed where it made no mix, is separated
(an engine that makes only a mix gets its stems this way). source tracks: each asked track is separated and
keeps its own stem (cleans the instrumental bleeding through a YuE vocal track, and the reverse). A role not
asked for is passed on as the engine made it (separated too where the engine made none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import StageOutput, output
from ..audio.io import read_audio, write_wav
from ..errors import ParamsError
from ..params import Frozen
from ..registry import register_step
from ..separation.chunks import fit_length
from ..separation.models import identity, licence_of, model_need
from ..separation.settings import ROLES, SeparateSettings
from ..step import Inputs, Progress, Step


class SeparateCall(Frozen):
    """What a separation's result depends on: the settings and the model's files (their identity)."""

    settings: SeparateSettings
    model_identity: str


def separate_call(song: Any, album: Any) -> SeparateCall | None:
    """The song's separation, or None (not asked for). ParamsError, before anything runs, for tracks the engine
    does not make."""
    settings = song.steps.get("separate")
    if settings is None:
        return None
    made = {role for step in song.engine.engine.steps for role in step.makes}
    if settings.source == "tracks" and (absent := [stem for stem in settings.stems if stem not in made]):
        raise ParamsError("separate.source", f"is tracks, but the '{song.engine.name}' engine makes no "
                          f"{' or '.join(absent)} track", "use source: mix")
    return SeparateCall(settings=settings, model_identity=identity(settings.model))


def separate_stems(call: SeparateCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """separated/<stem>.wav (float32) for each stem made anew; the other role passed on as the engine made it."""
    from ..separation.separator import loaded, pick, separate

    settings, report = call.settings, progress or (lambda fraction, what: None)
    wanted = [role for role in ROLES if role in settings.stems or role not in inputs]
    stems: dict[str, tuple[np.ndarray, int]] = {}
    with loaded(settings.model) as model:
        sources = [(wanted, _mix(inputs))] if settings.source == "mix" else [
            ([stem], read_audio(inputs[stem].path(stem))) for stem in wanted]
        for n, (asked, (audio, rate)) in enumerate(sources):
            def part(fraction: float, what: str, n: int = n) -> None:
                report((n + fraction) / len(sources), what)
            found = separate(model, audio, rate, settings.chunk_s, settings.overlap_s, part)
            stems |= {stem: (audio, rate) for stem, audio in pick(found, asked, settings.model).items()}
    files = {stem: write_wav(folder / "separated" / f"{stem}.wav", audio, rate, "FLOAT")
             for stem, (audio, rate) in stems.items()}
    made = output("separate", {"model": settings.model, "source": settings.source, "separated": sorted(files)}, **files)
    passed = {role: inputs[role].files[role] for role in ROLES if role not in files}
    return StageOutput(made.stage, {**made.files, **passed}, made.data)


def _mix(inputs: Inputs) -> tuple[np.ndarray, int]:
    """The engine's mix, else its vocals and instrumental summed (equal length by the take's contract)."""
    if "engine_mix" in inputs:
        return read_audio(inputs["engine_mix"].path("engine_mix"))
    vocals, rate = read_audio(inputs["vocals"].path("vocals"))
    instrumental, _ = read_audio(inputs["instrumental"].path("instrumental"), rate)
    return vocals + fit_length(instrumental, len(vocals)), rate


STEP = register_step(Step(
    name="separate", version="1", phase="post", params=separate_call, run=separate_stems, settings=SeparateSettings,
    may_read=(*ROLES, "engine_mix"), makes=ROLES, loads_models=True,
    licence=lambda call: licence_of(call.settings.model), models=lambda call: [model_need(call.settings.model)],
    players=(("vocals", "separated vocals"), ("instrumental", "separated instrumental"))))
