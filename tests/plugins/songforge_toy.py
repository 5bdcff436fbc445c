"""A plugin's engine for the architecture tests: two steps, the second loading a (pretend) model.

`compose` writes a small score; `render` holds the model for TOY_HOLD_S seconds, appending when it started
and ended to the file TOY_ENGINE_LOG (so a test can check that two songs' model steps never overlap),
and writes the stems every engine's take writes. Its model is declared non-commercial (CC BY-NC 4.0),
so a commercial album is refused. Registered when imported.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from songforge.artifacts import StageOutput, output
from songforge.engine.base import EngineParams, Stems
from songforge.engine.take import TAKE_PLAYERS, TAKE_ROLES, SongTake, write_take
from songforge.licences import CC_BY_NC_4
from songforge.paths import write_json
from songforge.registry import register_engine
from songforge.step import Inputs, Progress, Step

RATE = 44_100


class ToyParams(EngineParams):
    seconds: float = 4.0


def compose(take: SongTake, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    score = {"seed": take.song.seed, "hz": 220.0 * 2 ** ((take.song.seed % 12) / 12)}  # as generate() below
    return output("compose", score=write_json(folder / "score.json", score))


def render(take: SongTake, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    started = time.time()
    time.sleep(float(os.environ.get("TOY_HOLD_S", "1.0")))
    ended = time.time()
    with open(os.environ["TOY_ENGINE_LOG"], "a") as log:
        log.write(json.dumps({"song": take.song.title, "start": started, "end": ended, "pid": os.getpid()}) + "\n")
    score = json.loads(inputs["score"].path("score").read_text())
    stems = _stems(score["hz"], take.song.engine.params.seconds)
    return write_take(stems, folder, take.identity, take.song.seed)


def _stems(hz: float, seconds: float) -> Stems:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.repeat((0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[:, None], 2, axis=1)
    return Stems(tone, 0.5 * tone, RATE, metadata={"toy": True})


class ToyEngine:
    name: ClassVar[str] = "toy"
    Params: ClassVar[type[EngineParams]] = ToyParams
    tag_vocabulary: ClassVar[str | None] = None
    steps: ClassVar[tuple[Step, ...]] = (
        Step(name="compose", owner="toy", version="1", phase="generate", params=SongTake.of, run=compose,
             makes=("score",)),
        Step(name="render", owner="toy", version="1", phase="generate", params=SongTake.of, run=render,
             reads=("score",), makes=TAKE_ROLES, loads_models=True, licence=CC_BY_NC_4, players=TAKE_PLAYERS,
             artifacts=("take",)),
    )

    def identity(self, params: EngineParams) -> str:
        return f"toy-v1:{params.model_dump_json()}"

    def model_revision(self, params: EngineParams) -> str:
        return "toy-weights-v1"

    def generate(self, song, params: EngineParams, seed: int, progress: Progress | None = None) -> Stems:
        return _stems(220.0 * 2 ** ((seed % 12) / 12), params.seconds)


register_engine("toy", f"{__name__}:ToyEngine")
