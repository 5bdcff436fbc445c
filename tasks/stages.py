"""One Prefect task per song stage, each a thin wrapper over songforge.stages."""

from __future__ import annotations

from pathlib import Path

from prefect.logging import get_run_logger

from songforge import stages
from songforge.artifacts import StageOutput
from songforge.params import MasterSpec, MeasureSpec, MixSpec, SongSpec

from .cache import stage_task

write_lyrics = stage_task("lyrics")(stages.write_lyrics)
mix = stage_task("mix")(stages.mix)
master = stage_task("master")(stages.master)
measure = stage_task("measure")(stages.measure)
plots = stage_task("plots")(stages.plots)


@stage_task("generate", tags=["engine"])
def generate(song: SongSpec, song_dir: Path) -> StageOutput:
    """The engine run; logs its progress every tenth of the way."""
    logger = get_run_logger()
    last = [-1]

    def progress(fraction: float, step: str) -> None:
        if int(fraction * 10) > last[0]:
            last[0] = int(fraction * 10)
            logger.info("%s: %3.0f%% %s", song.title, 100 * fraction, step)

    return stages.generate(song, song_dir, progress=progress)


__all__ = ["write_lyrics", "generate", "mix", "master", "measure", "plots",
           "MasterSpec", "MeasureSpec", "MixSpec"]
