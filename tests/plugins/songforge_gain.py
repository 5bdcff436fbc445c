"""A plugin's song step for the architecture tests: a gain between mix and master, one module, one registration.

It reads the mix and makes the mix again, so the master (which reads "mix") takes the gained one with no
edit anywhere else. Registered when imported: by a test, or by a worker through the `songforge.plugins`
entry point a test installs.
"""

from __future__ import annotations

from pathlib import Path

from songforge.artifacts import StageOutput, output
from songforge.audio.io import read_audio, write_wav
from songforge.params import Frozen
from songforge.registry import register_step
from songforge.step import Inputs, Progress, Step


class Gain(Frozen):
    db: float = -3.0


def apply_gain(gain: Gain, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    audio, rate = read_audio(inputs["mix"].path("mix"))
    gained = audio * 10 ** (gain.db / 20)
    return output("gain", {"gain_db": gain.db}, mix=write_wav(folder / "gain.wav", gained, rate, "FLOAT"))


STEP = register_step(Step(name="gain", version="1", phase="mix", params=lambda song, album: Gain(), run=apply_gain,
                          reads=("mix",), makes=("mix",), players=(("mix", "after the gain"),), artifacts=("mix",)))
