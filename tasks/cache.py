"""The cache policy every stage task uses, and the decorators that apply it.

Prefect's default policy includes the run id, so it never hits across runs; its INPUTS
policy hashes a path as a string, not the file. Ours keys a step on what defines its
result: the step's name and version, its params slice, the content hashes of upstream outputs
(StageOutput.fingerprint) and of every input file (a reference track, prompt audio), never
their paths. Results are stored as JSON through tasks.results, which reads a record whose
files were deleted or changed since (or any record not of ours) as absent: the stage runs again. Stages run
under SERIALIZABLE isolation (tasks.locks): two runs that reach the same key compute it once.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from prefect import task
from prefect.cache_policies import CachePolicy
from pydantic import BaseModel

from songforge.artifacts import StageOutput, content_sha256
from songforge.registry import get_step

from .locks import STAGE_LOCKS
from .results import RESULT_OPTIONS, STAGE_KEYS


def canonical(value: Any) -> Any:
    """A JSON-able form of a task input that changes exactly when the result would."""
    if isinstance(value, StageOutput):
        return {"stage": value.stage, "files": value.fingerprint()}
    if isinstance(value, BaseModel):
        return _fields(value)
    if isinstance(value, Path):
        # A file counts by its content (a reference replaced at the same path is a new input); a
        # folder, where a stage writes, by where it is.
        return {"file_sha256": content_sha256(value)} if value.is_file() else str(value.resolve())
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def _fields(model: BaseModel) -> dict[str, Any]:
    """A model's fields, canonical, but those it excludes from its dumps (knobs that change no output)."""
    return {name: canonical(getattr(model, name)) for name, field in type(model).model_fields.items() if not field.exclude}


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class StageCache(CachePolicy):
    """Key = name + version + canonical inputs. A task of one stage names itself (`stage`, `version`); the one
    task that runs every step of a plan leaves `stage` empty, and the key takes the step its `step` input names."""

    stage: str = ""
    version: str = "1"

    def compute_key(self, task_ctx, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> str:
        if self.stage:
            return _digest(self.stage, self.version, canonical(inputs))
        step = get_step(inputs["step"])
        return _digest(step.key, step.version, canonical(inputs))


def cached_task(name: str, version: str = "1", stage: str | None = None, **options: Any) -> Callable:
    """@task cached on StageCache, computed once under concurrent runs, its result stored as JSON.

    stage: the name in the key (default `name`); "" for the step runner, keyed on the step it runs.
    """
    policy = StageCache(stage=name if stage is None else stage, version=version, key_storage=STAGE_KEYS,
                        isolation_level="SERIALIZABLE", lock_manager=STAGE_LOCKS)
    return task(name=name, cache_policy=policy, **RESULT_OPTIONS, **options)


def record_now(result: Any) -> None:
    """Write the running task's cache record now, before Prefect marks the task Completed.

    Prefect sets Completed first and writes the record when its transaction commits, a moment
    later: a run killed in between would make a finished step again on resume (an hour of YuE).
    Written here, the commit only rewrites the same record.
    """
    from prefect.transactions import get_transaction

    txn = get_transaction()
    if txn is None or not txn.key or txn.store is None or not txn.write_on_commit:
        return
    holder = STAGE_LOCKS.holder_in_this_process(txn.key)
    txn.store.persist_result_record(txn.store.create_result_record(result, key=txn.key), holder=holder or "")


def stage_task(name: str, version: str = "1", stage: str | None = None, **options: Any) -> Callable:
    """cached_task for a song's work: retried on I/O errors only, its runs named after the song's folder, its
    record written the moment it returns (record_now)."""
    options.setdefault("retries", 2)
    options.setdefault("retry_delay_seconds", 2)
    options.setdefault("retry_condition_fn", _transient)
    options.setdefault("task_run_name", f"{name}-{{song_dir.name}}")

    def decorate(work: Callable) -> Callable:
        @functools.wraps(work)
        def recorded(*args: Any, **kwargs: Any) -> Any:
            result = work(*args, **kwargs)
            record_now(result)
            return result

        return cached_task(name, version, stage, **options)(recorded)

    return decorate


def _transient(task, task_run, state) -> bool:
    """Retry only errors that can pass by themselves (I/O, timeouts), never bad input."""
    try:
        state.result()
    except (OSError, TimeoutError, ConnectionError) as error:
        return not isinstance(error, (FileNotFoundError, PermissionError))
    except Exception:
        return False
    return False
