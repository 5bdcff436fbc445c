"""The engine steps of many songs at once: identical steps submitted once, YuE's stage 1 batched.

Songs whose stage-1 settings agree (model, sampling knobs, prompt audio) differ only in lyrics,
style and seed, so their stage 1 can decode as one batch: each step of the batch reads the 7B
model's weights once for all of them. The batch task writes each take into its song's folder;
each song's own stage-1 task then finds its codes there, so every song keeps its own cache key
and a rerun redoes only the takes that changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

from prefect import allow_failure
from prefect.futures import PrefectFuture

from songforge.params import SongSpec
from songforge.stages import YuETake
from tasks import stages
from tasks.cache import canonical

Futures = dict[str, PrefectFuture]


class EngineSteps:
    """Submits the engine steps of (song, folder) pairs; the stage-1 batches go first, at construction.

    `submit(i)` gives song i's engine futures: {"generate"}, or YuE's {"yue-stage1", "yue-stage2", "generate"}.
    A step whose inputs equal an earlier song's (in `shared`, which several instances may share) reuses that
    song's future and files: a sweep over master references generates each song once.
    """

    def __init__(self, songs: Sequence[tuple[SongSpec, Path]], shared: dict | None = None):
        self.songs, self.shared = list(songs), {} if shared is None else shared
        self.steps = [_yue_steps(song) for song, _ in self.songs]
        self.batches = _submit_stage1_batches(self.songs, self.steps, self.shared)

    def submit(self, i: int) -> Futures:
        (song, folder), steps = self.songs[i], self.steps[i]
        return _submit_one(song, folder, steps, self.batches.get(i), self.shared)


def _yue_steps(song: SongSpec) -> dict[str, dict] | None:
    if song.engine.name != "yue":
        return None
    from songforge.engine.yue.engine import step_inputs

    return step_inputs(song)


def _submit_one(song: SongSpec, folder: Path, steps: dict[str, dict] | None, batch: PrefectFuture | None,
                shared: dict) -> Futures:
    if steps is None:
        return {"generate": submit_once(shared, ("generate", song), lambda: stages.generate.submit(song, folder))}
    # A failed batch (out of memory, one bad take) fails no song: each then decodes its take alone.
    wait_for = [allow_failure(batch)] if batch is not None else None
    stage1 = submit_once(shared, ("yue-stage1", steps["stage1"]),
                         lambda: stages.yue_stage1.submit(**steps["stage1"], song_dir=folder, wait_for=wait_for))
    stage2 = submit_once(shared, ("yue-stage2", steps["stage1"], steps["stage2"]),
                         lambda: stages.yue_stage2.submit(stage1, **steps["stage2"], song_dir=folder))
    decoded = submit_once(shared, ("yue-decode", steps["stage1"], steps["stage2"], steps["decode"]),
                          lambda: stages.yue_decode.submit(stage2, **steps["decode"], song_dir=folder))
    return {"yue-stage1": stage1, "yue-stage2": stage2, "generate": decoded}


def _submit_stage1_batches(songs: Sequence[tuple[SongSpec, Path]], steps: list[dict[str, dict] | None],
                           shared: dict) -> dict[int, PrefectFuture]:
    """One batch task per group of new stage-1 takes that share their settings; song index -> its batch."""
    groups: dict[str, list[int]] = {}
    seen: set[str] = set()
    for i, inputs in enumerate(steps):
        if inputs is None or inputs["stage1"]["params"].batch_size == 1:
            continue
        take_key = _key(("yue-stage1", inputs["stage1"]))
        if take_key in shared or take_key in seen:  # already submitted, or the same take as an earlier song
            continue
        seen.add(take_key)
        settings = {k: v for k, v in inputs["stage1"].items() if k not in ("style", "lyrics", "seed")}
        groups.setdefault(_key(settings), []).append(i)
    batches: dict[int, PrefectFuture] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        first = steps[members[0]]["stage1"]
        takes = [YuETake(style=steps[i]["stage1"]["style"], lyrics=steps[i]["stage1"]["lyrics"],
                         seed=steps[i]["stage1"]["seed"], song_dir=songs[i][1]) for i in members]
        batch = stages.yue_stage1_batch.submit(takes, first["params"], first["model_identity"])
        batches.update({i: batch for i in members})
    return batches


def submit_once(shared: dict, inputs: Any, submit: Callable[[], PrefectFuture]) -> PrefectFuture:
    """shared's future for these inputs, submitting it first if there is none."""
    key = _key(inputs)
    if key not in shared:
        shared[key] = submit()
    return shared[key]


def _key(inputs: Any) -> str:
    return json.dumps(canonical(inputs), sort_keys=True, default=str)
