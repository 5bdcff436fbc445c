"""The plots step: the master's waveform over its spectrogram, and the sung pitch over the written line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..artifacts import StageOutput, output
from ..audio.io import read_audio
from ..params import Frozen
from ..registry import register_step
from ..step import Inputs, Progress, Step


class Titled(Frozen):
    title: str


def plots(titled: Titled, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """waveform.png (waveform over spectrogram, sections marked) and pitch.png (sung vs written vocal line)."""
    from ..report.plots import pitch_contour_png, waveform_spectrogram_png

    audio, rate = read_audio(inputs["master"].path("master"))
    take = json.loads(inputs["take"].path("take").read_text())
    sections = [(s["start_s"], s["tag"]) for s in take.get("sections", [])]
    waveform = waveform_spectrogram_png(audio, rate, folder / "waveform.png", titled.title, sections=sections)
    contour = np.load(inputs["pitch_contour"].path("pitch_contour"))
    notes = [tuple(n[:3]) for n in take.get("vocal_notes", [])] or None
    pitch = pitch_contour_png(contour["times_s"], contour["midi"], folder / "pitch.png", titled.title, notes=notes)
    return output("plots", waveform=waveform, pitch=pitch)


STEP = register_step(Step(
    name="plots", version="3", phase="report", run=plots, params=lambda song, album: Titled(title=song.title),
    reads=("master", "pitch_contour", "take"), makes=("waveform", "pitch"), pictures=("waveform", "pitch"),
    artifacts=("waveform", "pitch")))
