"""An album's songs as flow runs of a deployment (`album-song/gpu`): any host's worker takes any song.

Each song's flow run is created with an idempotency key, so submitting the same album again
finds the run it made the first time instead of making a second one. A run whose host died
(marked Crashed by the heartbeat automation, see app/hosts.py), or one left failed or
with deleted files by an earlier submission, is scheduled again: the same flow run, on
whichever worker is free, where the stage cache on the shared store skips what is done.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.states import Scheduled
from prefect.utilities.asyncutils import run_coro_as_sync

from songforge.params import AlbumSpec
from tasks.results import RefusedRecord, read_result
from tasks.track import TrackedRun

POLL_S = 2.0
RERUNS = 2  # how often one submission schedules a song's run again after its host died


def song_run_key(album: AlbumSpec, index: int, out_dir: Path, parent_run_id: str) -> str:
    """The song's idempotency key: what defines its result (album settings, its place, its spec, where it goes).

    The album's MLflow run is in it: an album run is reused while the album is unchanged
    (its task is cached), so a re-submission finds the same key and the same flow run.
    """
    song = album.songs[index]
    defining = {"album": album.model_dump(mode="json", exclude={"songs", "rejected", "concurrency"}),
                "number": album.song_numbers[index], "song": song.model_dump(mode="json"),
                "out_dir": str(Path(out_dir).resolve()), "mlflow_parent": parent_run_id}
    digest = hashlib.sha256(json.dumps(defining, sort_keys=True).encode()).hexdigest()
    return f"songforge-{album.slug[:40]}-{album.song_numbers[index]:02d}-{digest[:32]}"


def run_songs_on_deployment(album: AlbumSpec, folders: list[Path], parent: TrackedRun, deployment: str,
                            out_dir: Path) -> list[dict]:
    """Per song, {"results": stage -> result (or "error"), "host": where it ran}, in album order."""
    return run_coro_as_sync(_fan_out(album, folders, parent, deployment, out_dir))


async def _fan_out(album: AlbumSpec, folders: list[Path], parent: TrackedRun, deployment: str,
                   out_dir: Path) -> list[dict]:
    async with get_client() as client:
        songs = [_run_song(client, album, index, folder, parent, deployment, out_dir)
                 for index, folder in enumerate(folders)]
        return list(await asyncio.gather(*songs))


async def _run_song(client: PrefectClient, album: AlbumSpec, index: int, folder: Path, parent: TrackedRun,
                    deployment: str, out_dir: Path) -> dict:
    song, number = album.songs[index], album.song_numbers[index]
    run = await arun_deployment(
        deployment, client=client, timeout=0, idempotency_key=song_run_key(album, index, out_dir, parent.run_id),
        flow_run_name=f"{album.slug}-{number:02d}-{song.slug}"[:100], tags=["songforge", f"album:{album.slug}"],
        parameters={"album": album.model_dump(mode="json"), "index": index, "out_dir": str(out_dir),
                    "tracking_uri": parent.tracking_uri, "parent_run_id": parent.run_id})
    if run.state and run.state.is_final():  # made by an earlier submission
        if outcome := await _reusable(run):
            return outcome
        run = await _schedule_again(client, run, "the album was submitted again")
    reruns = RERUNS
    while True:
        run = await _until_final(client, run.id)
        if run.state.is_completed() and (outcome := await _reusable(run)):
            return outcome
        if not run.state.is_crashed() or reruns == 0:
            return {"results": {"error": _reason(run), "folder": str(folder)}, "host": None}
        reruns -= 1
        run = await _schedule_again(client, run, f"its last run crashed ({run.state.message})")


async def _until_final(client: PrefectClient, run_id) -> FlowRun:
    while True:
        run = await client.read_flow_run(run_id)
        if run.state and run.state.is_final():
            return run
        await asyncio.sleep(POLL_S)


async def _reusable(run: FlowRun) -> dict | None:
    """A completed run's outcome, read as our own JSON record (never unpickled), if every file it made is still there."""
    storage_key = getattr(run.state.data, "storage_key", None)
    if not run.state.is_completed() or not storage_key:
        return None
    try:
        outcome = read_result(storage_key)
    except RefusedRecord:
        return None
    return outcome if isinstance(outcome, dict) else None


async def _schedule_again(client: PrefectClient, run: FlowRun, why: str) -> FlowRun:
    """The same flow run, back in the queue for any worker (what the UI's Retry does)."""
    await client.set_flow_run_state(run.id, Scheduled(message=f"songforge: scheduled again: {why}"), force=True)
    return await client.read_flow_run(run.id)


def _reason(run: FlowRun) -> str:
    state = run.state
    return f"flow run {run.name} {state.name.lower()}: {state.message or 'no message'}"
