"""A plugin engine that makes only a mix (as some engines do): the sketch engine's stems, summed, as engine_mix.

With no vocals or instrumental of its own, a song of it plans only with the separate step, which makes them.
Registered when imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from songforge.artifacts import StageOutput, output
from songforge.audio.io import write_wav
from songforge.engine.base import EngineParams, Stems
from songforge.engine.sketch.engine import SketchEngine
from songforge.engine.sketch.params import SketchParams
from songforge.engine.take import SongTake
from songforge.paths import write_json
from songforge.registry import register_engine
from songforge.step import Inputs, Progress, Step


def render_mix(take: SongTake, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    stems = MixOnlyEngine().generate(take.song, take.song.engine.params, take.song.seed)
    mix = stems.vocals + stems.instrumental
    return output("generate", {"engine": take.identity}, engine_mix=write_wav(
        folder / "stems" / "engine_mix.wav", mix, stems.sample_rate, "FLOAT"),
        take=write_json(folder / "take.json", {"engine": take.identity, "seed": take.song.seed}))


class MixOnlyEngine:
    name: ClassVar[str] = "mixonly"
    Params: ClassVar[type[EngineParams]] = SketchParams
    tag_vocabulary: ClassVar[str | None] = None
    steps: ClassVar[tuple[Step, ...]] = (
        Step(name="generate", owner="mixonly", version="1", phase="generate", params=SongTake.of, run=render_mix,
             makes=("engine_mix", "take"), players=(("engine_mix", "engine mix"),)),)

    def identity(self, params: EngineParams) -> str:
        return "mixonly-" + SketchEngine().identity(params)

    def model_revision(self, params: EngineParams) -> str:
        return SketchEngine().model_revision(params)

    def min_duration_s(self, song, params: EngineParams) -> float:
        return SketchEngine().min_duration_s(song, params)

    def generate(self, song, params: EngineParams, seed: int, progress: Progress | None = None) -> Stems:
        return SketchEngine().generate(song, params, seed, progress)


register_engine("mixonly", f"{__name__}:MixOnlyEngine")
