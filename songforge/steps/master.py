"""The master step: the mix mastered to a reference or a loudness target, true-peak limited, with an MP3 preview."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import StageOutput, output
from ..audio.io import read_audio, write_mp3, write_wav
from ..params import MasterSpec
from ..registry import register_step
from ..step import Inputs, Progress, Step


def master(spec: MasterSpec, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """master.wav (24-bit) and master.mp3 (preview), mastered to a reference or a loudness target."""
    from ..audio.master import master as master_audio

    audio, rate = read_audio(inputs["mix"].path("mix"))
    result = master_audio(audio, rate, spec)
    return output("master", result.metrics(), master=write_wav(folder / "master.wav", result.audio, rate, "PCM_24"),
                  preview=write_mp3(folder / "master.mp3", result.audio, rate))


STEP = register_step(Step(
    name="master", version="2", phase="master", run=master, params=lambda song, album: album.master,
    reads=("mix",), makes=("master", "preview"), players=(("preview", "master"),), artifacts=("preview",)))
