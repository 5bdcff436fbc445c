"""One Prefect task per song stage, each a thin wrapper over songforge.stages."""

from __future__ import annotations

from pathlib import Path

from prefect.logging import get_run_logger

from songforge import stages
from songforge.artifacts import StageOutput
from songforge.params import MasterSpec, MeasureSpec, MixSpec, SongSpec

from .cache import stage_task
from .gpu import engine_slot

write_lyrics = stage_task("lyrics")(stages.write_lyrics)
mix = stage_task("mix")(stages.mix)
master = stage_task("master")(stages.master)
measure = stage_task("measure")(stages.measure)
plots = stage_task("plots")(stages.plots)


@stage_task("generate", tags=["engine"])
def generate(song: SongSpec, song_dir: Path) -> StageOutput:
    """The engine run, holding one of this host's engine slots; logs its progress every tenth of the way."""
    with engine_slot():
        return stages.generate(song, song_dir, progress=_logged_progress(song_dir.name))


@stage_task("yue-stage1", tags=["engine"])
def yue_stage1(style: str, lyrics: str, params, seed: int, model_identity: str, song_dir: Path) -> StageOutput:
    """One take's stage 1; found ready-made (without waiting for a slot) when a batch already decoded it."""
    take = stages.YuETake(style=style, lyrics=lyrics, seed=seed, song_dir=song_dir)
    if (done := stages.finished_stage1(take, params, model_identity)) is not None:
        return done
    with engine_slot(loads_models=True):
        return stages.yue_stage1(style, lyrics, params, seed, model_identity, song_dir, _logged_progress(song_dir.name))


def _batch_run_name() -> str:
    from prefect.runtime import task_run

    takes = task_run.parameters["takes"]
    return f"yue-stage1-batch-{len(takes)}-takes-from-{takes[0].song_dir.name}"


@stage_task("yue-stage1-batch", tags=["engine"], task_run_name=_batch_run_name)
def yue_stage1_batch(takes: list[stages.YuETake], params, model_identity: str) -> list[StageOutput]:
    """Stage 1 of several songs or seeds in one batch (flows.engines groups them); each lands in its folder."""
    with engine_slot(loads_models=True):
        return stages.yue_stage1_batch(takes, params, model_identity, _logged_progress(f"batch of {len(takes)}"))


@stage_task("yue-stage2", tags=["engine"])
def yue_stage2(stage1: StageOutput, params, model_identity: str, song_dir: Path) -> StageOutput:
    with engine_slot(loads_models=True):
        return stages.yue_stage2(stage1, params, model_identity, song_dir, _logged_progress(song_dir.name))


@stage_task("yue-decode", tags=["engine"])
def yue_decode(stage2: StageOutput, params, codec_identity: str, take: dict, song_dir: Path) -> StageOutput:
    with engine_slot(loads_models=True):
        return stages.yue_decode(stage2, params, codec_identity, take, song_dir)


def _logged_progress(label: str):
    """A progress callback that logs every tenth of the way."""
    logger = get_run_logger()
    last = [-1]

    def progress(fraction: float, step: str) -> None:
        if int(fraction * 10) > last[0]:
            last[0] = int(fraction * 10)
            logger.info("%s: %3.0f%% %s", label, 100 * fraction, step)

    return progress


__all__ = ["write_lyrics", "generate", "yue_stage1", "yue_stage1_batch", "yue_stage2", "yue_decode", "mix", "master", "measure", "plots",
           "MasterSpec", "MeasureSpec", "MixSpec"]
