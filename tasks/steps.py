"""The one task that runs any step of a song's plan, and the one that runs a batch of a step for several songs.

What a step is (its version, whether it loads models, how it batches) is the step's own data
(songforge.step); these tasks only read it. A model-loading step holds one of the host's GPU slots
while it runs; a step a batch already made is returned without waiting for one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.logging import get_run_logger
from pydantic import BaseModel

from songforge.artifacts import StageOutput
from songforge.registry import get_step

from .cache import stage_task
from .gpu import engine_slot


@stage_task("step", stage="", task_run_name="{step}-{song_dir.name}")
def run_step(step: str, params: BaseModel, inputs: dict[str, StageOutput], song_dir: Path) -> StageOutput:
    """Step `step` (its registry key) of one song, into `song_dir`: cached on the step, its params and inputs."""
    kind = get_step(step)
    if kind.batching and (made := kind.batching.ready(params, song_dir)) is not None:
        return made  # a batch of several songs made it: no GPU slot needed
    with engine_slot(loads_models=kind.loads_models):
        return kind.run(params, inputs, song_dir, logged_progress(song_dir.name))


@task(name="step-batch", tags=["engine"])
def run_batch(step: str, members: list[tuple[BaseModel, Path]]) -> None:
    """Step `step` of several songs at once (its Batching); each member lands in its own folder, where the
    song's own run_step finds it. Not cached itself: each song's step is."""
    kind = get_step(step)
    assert kind.batching is not None, step
    with engine_slot(loads_models=kind.loads_models):
        kind.batching.run(members, logged_progress(f"{kind.name} batch of {len(members)}"))


def logged_progress(label: str) -> Any:
    """A progress callback that logs every tenth of the way."""
    logger = get_run_logger()
    last = [-1]

    def progress(fraction: float, step: str) -> None:
        if int(fraction * 10) > last[0]:
            last[0] = int(fraction * 10)
            logger.info("%s: %3.0f%% %s", label, 100 * fraction, step)

    return progress
