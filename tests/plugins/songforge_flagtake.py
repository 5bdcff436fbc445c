"""A plugin's metric step for the takes tests: it raises a failure flag on the takes whose seed a song lists, as
the flags step would on a silent or looping take (`failed` > 0: never chosen), and fails outright on those whose
seed it lists under `crash` (a take whose step errors). Opt-in: `flagtake: {seeds: [...], crash: [...]}`.
Registered when imported."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from songforge.artifacts import StageOutput, output
from songforge.params import Frozen
from songforge.registry import register_step
from songforge.step import Inputs, Progress, Step


class FlagSeeds(Frozen):
    seeds: list[int] = Field(default_factory=list, description="seeds of the takes to flag")
    crash: list[int] = Field(default_factory=list, description="seeds of the takes whose step fails")


class FlagTake(Frozen):
    seed: int
    flagged: bool
    crash: bool = False


def params(song, album) -> FlagTake | None:
    settings = song.steps.get("flagtake")
    if settings is None:
        return None
    return FlagTake(seed=song.seed, flagged=song.seed in settings.seeds, crash=song.seed in settings.crash)


def flag(take: FlagTake, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    assert inputs["master"].path("master").is_file()
    if take.crash:
        raise RuntimeError(f"the test's crash of the take with seed {take.seed}")
    return output("flagtake", {"failed": int(take.flagged), "flag_test_silence": int(take.flagged)})


STEP = register_step(Step(name="flagtake", version="1", phase="measure", params=params, run=flag, reads=("master",),
                          metrics=True, metric_names=("failed", "flag_test_silence"), settings=FlagSeeds))
