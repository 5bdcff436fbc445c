"""The mix step: the last vocal and instrumental stems the plan made, balanced, processed and summed."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import StageOutput, output
from ..audio.io import read_audio, write_wav
from ..params import MixSpec
from ..registry import register_step
from ..step import Inputs, Progress, Step


def mix(spec: MixSpec, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """mix.wav (float32): the stems through songforge.audio.mix."""
    from ..audio.mix import mix_stems

    vocals, rate = read_audio(inputs["vocals"].path("vocals"))
    instrumental, _ = read_audio(inputs["instrumental"].path("instrumental"), rate)
    return output("mix", mix=write_wav(folder / "mix.wav", mix_stems(vocals, instrumental, rate, spec), rate, "FLOAT"))


STEP = register_step(Step(
    name="mix", version="2", phase="mix", run=mix, params=lambda song, album: song.mix,
    reads=("vocals", "instrumental"), makes=("mix",)))
