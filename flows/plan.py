"""Submit songs' plans: the one song DAG every flow runs (album, sweep, and one song of a deployment).

Each planned step becomes a run_step task whose inputs are the futures of the steps it reads. Steps
of one song whose calls are identical (same step, params and upstream futures: takes of a sweep over
master references make each song's take once) are submitted once, through `shared`. Steps that batch
(Step.batching) are grouped across songs by their batch key and each group of two or more is
submitted first as one run_batch task; every song's own step then waits for it (a failed batch fails
no song: each then runs alone) and finds its output ready.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

from prefect import allow_failure
from prefect.futures import PrefectFuture

from songforge.plan import PlannedStep, SongPlan
from tasks.cache import canonical
from tasks.steps import run_batch, run_step

Futures = dict[str, PrefectFuture]


def submit_plans(songs: Sequence[tuple[SongPlan, Path]], shared: dict | None = None) -> list[Futures]:
    """Every step of every (plan, folder); futures by step name, per song. Nothing blocks."""
    shared = {} if shared is None else shared
    batches = _submit_batches(songs, shared)
    return [submit_plan(plan, folder, shared, {name: batch for (n, name), batch in batches.items() if n == i})
            for i, (plan, folder) in enumerate(songs)]


def submit_plan(plan: SongPlan, folder: Path, shared: dict, batches: dict[str, PrefectFuture] | None = None) -> Futures:
    """One song's steps, each after the futures of the steps it reads (and after its batch, if any)."""
    futures: Futures = {}
    for planned in plan.steps:
        inputs = {role: futures[source] for role, source in planned.sources}
        batch = (batches or {}).get(planned.name)
        futures[planned.name] = submit_once(shared, (plan.song, _call(planned, inputs)),
                                            lambda: _submit_step(planned, inputs, folder, batch))
    return futures


def _submit_step(planned: PlannedStep, inputs: Futures, folder: Path, batch: PrefectFuture | None) -> PrefectFuture:
    step = planned.step
    task = run_step.with_options(name=step.name, task_run_name=f"{step.name}-{folder.name}",
                                 tags=["engine"] if step.phase == "generate" else [])
    wait_for = [allow_failure(batch)] if batch is not None else None
    return task.submit(step.key, planned.params, inputs, folder, wait_for=wait_for)


def _submit_batches(songs: Sequence[tuple[SongPlan, Path]], shared: dict) -> dict[tuple[int, str], PrefectFuture]:
    """One run_batch per group of two or more new calls of a batching step that share a batch key."""
    groups: dict[tuple[str, str], list[tuple[int, PlannedStep, Path]]] = {}
    seen: set[str] = set()
    for i, (plan, folder) in enumerate(songs):
        for planned in plan.steps:
            batching = planned.step.batching
            call = _key((plan.song, _call(planned, {})))
            if batching is None or planned.sources or call in shared or call in seen:
                continue  # not batchable here (only first steps, which read nothing, batch), or a repeat
            seen.add(call)
            if (key := batching.key(planned.params)) is not None:
                groups.setdefault((planned.step.key, key), []).append((i, planned, folder))
    batches = {}
    for (key, _), members in groups.items():
        if len(members) < 2:
            continue
        name = members[0][1].name
        task = run_batch.with_options(task_run_name=f"{name}-batch-{len(members)}-takes-from-{members[0][2].name}")
        batch = task.submit(key, [(planned.params, folder) for _, planned, folder in members])
        batches.update({(i, planned.name): batch for i, planned, _ in members})
    return batches


def _call(planned: PlannedStep, inputs: Futures) -> Any:
    """What makes a step's call the same as another's: the step, its params and the futures it reads."""
    return (planned.step.key, planned.params, sorted((role, id(future)) for role, future in inputs.items()))


def submit_once(shared: dict, inputs: Any, submit: Callable[[], PrefectFuture]) -> PrefectFuture:
    """shared's future for these inputs, submitting it first if there is none."""
    key = _key(inputs)
    if key not in shared:
        shared[key] = submit()
    return shared[key]


def _key(inputs: Any) -> str:
    return json.dumps(canonical(inputs), sort_keys=True, default=str)
