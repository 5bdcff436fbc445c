"""The cache policy every stage task uses, and the decorator that applies it.

Prefect's default policy includes the run id, so it never hits across runs; its INPUTS
policy hashes a path as a string, not the file. Ours keys a stage on what defines its
result: the stage's name and version, its params, and the content hashes of upstream
outputs (StageOutput.fingerprint). A hit whose files were deleted or changed since is not
trusted: the policy steps to a derived key, so the stage runs again and the fresh result
is stored under that key, which the next run finds the same way. No record is deleted,
so this works on any result storage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from prefect import task
from prefect.cache_policies import CachePolicy
from prefect.results import get_result_store
from pydantic import BaseModel

from songforge.artifacts import StageOutput
from songforge.params import SongSpec
from songforge.stages import STAGE_VERSIONS

_MAX_STALE_STEPS = 16


def canonical(value: Any) -> Any:
    """A JSON-able form of a task input that changes exactly when the result would."""
    if isinstance(value, StageOutput):
        return {"stage": value.stage, "files": value.fingerprint()}
    if isinstance(value, SongSpec):
        # The mix settings reach the mix stage as their own input; leaving them out here
        # keeps a mix change from regenerating the song. The engine's identity (code
        # version, model revision) is in, since the same params on new weights differ.
        engine, params = value.engine.resolve()
        return {**value.model_dump(mode="json", exclude={"mix"}), "engine_identity": engine.identity(params)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class StageCache(CachePolicy):
    """Key = stage + version + canonical inputs; a stale hit (files gone) steps to a new key."""

    stage: str = ""

    def compute_key(self, task_ctx, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> str:
        key = _digest(self.stage, STAGE_VERSIONS.get(self.stage, "0"), canonical(inputs))
        store = get_result_store()
        for _ in range(_MAX_STALE_STEPS):
            if not store.exists(key):
                return key
            cached = store.read(key).result
            if _intact(cached):
                return key
            key = _digest(key, repr(cached))
        return key


def _intact(result: Any) -> bool:
    """A cached result's files are all still there (a batch stage's result is a list of outputs)."""
    if isinstance(result, (list, tuple)):
        return all(_intact(item) for item in result)
    return not hasattr(result, "is_intact") or result.is_intact()


def stage_task(stage: str, **options: Any) -> Callable:
    """@task for a pipeline stage: cached across runs, results persisted, retried on I/O errors only."""
    options.setdefault("retries", 2)
    options.setdefault("retry_delay_seconds", 2)
    options.setdefault("retry_condition_fn", _transient)
    options.setdefault("task_run_name", f"{stage}-{{song_dir.name}}")
    return task(name=stage, cache_policy=StageCache(stage=stage), persist_result=True, **options)


def _transient(task, task_run, state) -> bool:
    """Retry only errors that can pass by themselves (I/O, timeouts), never bad input."""
    try:
        state.result()
    except (OSError, TimeoutError, ConnectionError) as error:
        return not isinstance(error, (FileNotFoundError, PermissionError))
    except Exception:
        return False
    return False
