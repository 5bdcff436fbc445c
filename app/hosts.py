"""Setting up a Prefect server for songforge's hosts: work pools, the shared result store, crash detection, workers.

`setup` runs once per server (songforge serve does it; `songforge setup` on a cluster), and
`worker_argv` once per GPU host (`songforge worker`). Everything here is idempotent.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

from songforge.errors import SongforgeError
from tasks.gpu import HOST_ENV, ensure_limit, gpu_slots, host_name, limit_name

GPU_POOL = "gpu"  # song runs: a worker per GPU host, --limit = its GPUs
STUDIO_POOL = "studio"  # album and sweep runs: light, they only wait on song runs
STORE_BLOCK = "songforge-results"
CRASH_AUTOMATION = "songforge: crash flow runs that stop sending heartbeats"
HEARTBEAT_S = 30  # what workers ask their flow runs to send (Prefect's minimum)
SILENT_S = 90  # no heartbeat for this long: the run's host is gone, mark it Crashed


def setup(store: str | None = None, silent_s: int = SILENT_S) -> dict[str, str]:
    """Pools, the crash automation and (given `store`) the server's default result storage; what was set."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        done = {pool: ensure_pool(client, pool) for pool in (GPU_POOL, STUDIO_POOL)}
        done["automation"] = ensure_crash_automation(client, silent_s)
        if store:
            done["store"] = set_result_store(client, store)
    return done


def ensure_pool(client, name: str) -> str:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    try:
        client.create_work_pool(WorkPoolCreate(name=name, type="process",
                                               base_job_template=ProcessWorker.get_default_base_job_template()))
        return "created"
    except ObjectAlreadyExists:
        return "exists"


def ensure_crash_automation(client, silent_s: int = SILENT_S) -> str:
    """Prefect's zombie-run recipe: a run that sent a heartbeat, then nothing for `silent_s`, is marked Crashed.

    The album flow then schedules it again, and another host's worker takes it.
    """
    from prefect.automations import AutomationCore
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    if client.read_automations_by_name(CRASH_AUTOMATION):
        return "exists"
    final = {f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")}
    client.create_automation(AutomationCore(
        name=CRASH_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"}, expect={"prefect.flow-run.heartbeat", *final},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
            within=timedelta(seconds=silent_s)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"no heartbeat for {silent_s} s: its host or worker is gone")]))
    return "created"


def set_result_store(client, store: str) -> str:
    """Make `store` (a folder every host mounts at the same path, or an s3:// URI) the server's result storage.

    Every client of the server then persists task and flow results there, so a song retried
    on another host finds the stages the first host finished.
    """
    from prefect.filesystems import LocalFileSystem, RemoteFileSystem

    if "://" in store:
        if store.startswith("s3://"):
            try:
                import s3fs  # noqa: F401
            except ImportError:
                raise SongforgeError(f"result store {store} needs s3fs. Fix: pip install -e '.[s3]' on every host "
                                     "(and give them AWS credentials the usual way).") from None
        block = RemoteFileSystem(basepath=store.rstrip("/"))
    else:
        Path(store).mkdir(parents=True, exist_ok=True)
        block = LocalFileSystem(basepath=str(Path(store).resolve()))
    block_id = block.save(STORE_BLOCK, overwrite=True)
    client.update_server_default_result_storage(block_id)
    return f"{block.get_block_type_slug()}/{STORE_BLOCK} -> {block.basepath}"


def worker_argv(pool: str = GPU_POOL, host: str | None = None, slots: int | None = None,
                runs: int | None = None) -> tuple[list[str], dict[str, str]]:
    """The `prefect worker start` command for this host, and its environment.

    Creates (or resizes) the host's limit `gpu-<host>` to `slots` (default: its GPUs); the
    worker takes up to `runs` flow runs at once (default: as many as slots).
    """
    host = host or host_name()
    slots = slots or gpu_slots()
    env = {**os.environ, HOST_ENV: host}
    env.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_S))
    os.environ[HOST_ENV] = host
    if pool == GPU_POOL:
        ensure_limit(limit_name(host), slots, resize=True)
    argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process",
            "--name", f"{host}-{pool}", "--limit", str(runs or slots)]
    return argv, env
