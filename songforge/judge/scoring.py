"""What every judge step does around its model: score a file with the model loaded on the step's device (its
memory handed back after, for the next model step), and keep the scores with what made them in <stage>.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from ..artifacts import StageOutput, output
from ..audio.io import read_audio
from ..device_memory import default_device, free_memory
from ..paths import write_json

Model = TypeVar("Model")
Scores = TypeVar("Scores")


def score_file(path: Path, load: Callable[[str], Model], score: Callable[[Model, np.ndarray, int], Scores]) -> Scores:
    """score(model, audio, rate) of the audio at `path`, the model from load(device) on the default device."""
    audio, rate = read_audio(path)
    model = load(default_device())
    try:
        return score(model, audio, rate)
    finally:
        del model
        free_memory()


def judged(stage: str, scores: dict[str, float], folder: Path, **made_by: Any) -> StageOutput:
    """The step's output: the scores as its data (the song's metrics) and <stage>.json, the scores beside what
    made them (model, its files' identity, licence, text, ...)."""
    return output(stage, scores, **{stage: write_json(folder / f"{stage}.json", {**scores, **made_by})})
