"""A song's DAG (its plan, then tracking), what the songs' futures came to, and one song as its own flow run.

The steps are the song's plan (songforge.plan): the song steps and its engine's, submitted by
flows.plan; the album flow, the sweep flow and the `album-song` deployment all run it this way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from prefect import flow
from prefect.futures import PrefectFuture, as_completed, wait
from prefect.task_runners import ThreadPoolTaskRunner

from songforge.errors import SongforgeError
from songforge.lyricist.brief import stand_in
from songforge.params import AlbumSpec, SongSpec, album_settings
from songforge.paths import song_dir
from songforge.plan import plan_song
from tasks.gpu import host_name
from tasks.results import RESULT_OPTIONS
from songforge.takes import round_indices, take_song
from tasks.takes import log_kept_take
from tasks.track import TrackedRun, close_song_run, log_song, song_params

from .progress import stage_done
from .takes import CHOICE, draw_again, is_take_stage, submit_rounds, take_label, view_of


def submit_songs(album: AlbumSpec, folders: Sequence[Path], parent: TrackedRun) -> list[dict[str, PrefectFuture]]:
    """Every step of every song (batches first; a song's takes with the others, then its choice), then its MLflow
    run; futures by step name. Nothing blocks, but for a song with retakes: its choice is awaited (flows.takes)."""
    shared: dict = {}
    songs = submit_rounds(album, list(folders), shared)
    for song in songs:
        if not song.chosen:
            song.futures["track"] = log_song.submit(parent, song.song, dict(song.futures), album.master,
                                                    view_of(song.song, album), album_settings(album))
    draw_again(album, songs, shared)
    for song in songs:
        if song.chosen:
            song.futures["track"] = log_kept_take.submit(parent, song.song, song.futures[CHOICE], album.master,
                                                         view_of(song.song, album), album_settings(album))
    return [song.futures for song in songs]


def stages_of(song: SongSpec, album: AlbumSpec) -> tuple[str, ...]:
    """The step names a song's DAG reports, for progress bars (a song with takes: those of its first round); a
    song whose lyrics_brief is not drafted yet has the same steps as once it is."""
    song = stand_in(song)
    if song.select is None:
        return plan_song(song, album).names + ("track",)
    takes = [f"{take_label(i)}/{name}" for i in round_indices(song, 0)
             for name in plan_song(take_song(song, i), album).names]
    return (*takes, CHOICE, "track")


def song_folders(album: AlbumSpec, out_dir: Path) -> list[Path]:
    """out_dir/<album>/<nn>-<song>/ per song, nn its number in the album file."""
    return [song_dir(out_dir, album.title, number, song.title) for number, song in zip(album.song_numbers, album.songs)]


def wait_for_songs(album: AlbumSpec, submitted: list[dict[str, PrefectFuture]]) -> list[dict]:
    """Results per song (stage -> result), reporting each stage as it finishes; see song_results for failures."""
    owners: dict[int, list[tuple[str, str]]] = {}  # takes share a step whose calls are the same: one future
    for i, futures in enumerate(submitted):
        for stage, future in futures.items():
            owners.setdefault(id(future), []).append((album.songs[i].title, stage))
    unique = {id(f): f for s in submitted for f in s.values()}
    failed: set[str] = set()
    for future in as_completed(list(unique.values())):
        future.wait()  # pins the future's own final state (see song_results)
        for song, stage in owners[id(future)]:  # every stage it stands for, so the bar reaches its total
            why = None if song in failed else _failure(future.state)
            if why:
                failed.add(song)
            stage_done(song, stage, why and f"{stage}: {why}")
    return [song_results(song) for song in submitted]


def song_results(futures: dict[str, PrefectFuture]) -> dict:
    """stage -> result of the finished stages; a failed song also gets `error`: its first failed stage and why.

    A failure stays the song's own: the stages downstream of it never run, the other songs'
    stages are not touched.
    """
    for future in futures.values():
        # wait() pins the future's own final state; without it `state` asks the API, which may not have
        # heard the task finish yet (task states reach it asynchronously) and reports it still running
        future.wait()
    chosen = CHOICE in futures and futures[CHOICE].state.is_completed()
    results: dict = {}
    for stage, future in futures.items():
        state = future.state
        if chosen and is_take_stage(stage):
            continue  # a take's own stage: the choice says what became of it (takes.json), failed or not
        if state.is_completed() and stage == CHOICE:
            results.update(future.result())  # the kept take's outputs by step name, and takes.json
        elif state.is_completed():
            results[stage] = future.result()
        elif "error" not in results and (why := _failure(state)):
            results["error"] = f"{stage}: {why}"
    expected = [stage for stage in futures if not (chosen and is_take_stage(stage))]
    if "error" not in results and (missing := [stage for stage in expected if stage not in results]):
        results["error"] = "stages did not run: " + ", ".join(missing)  # nothing failed, yet stages missing
    return results


def _failure(state) -> str | None:
    """Why a stage failed (crashed, was cancelled), or None: it finished, or did not run because an upstream one failed."""
    if not (state.is_failed() or state.is_crashed() or state.is_cancelled()):
        return None
    return _why(state.result(raise_on_failure=False), state)


def _why(error: object, state) -> str:
    if isinstance(error, SongforgeError):
        return str(error)
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return state.message or state.name


class SongFailed(SongforgeError):
    """A song stage failed; the message is the stage and the reason."""


@flow(name="album-song", **RESULT_OPTIONS, task_runner=ThreadPoolTaskRunner(max_workers=2),
      on_crashed=[lambda flow, run, state: _close_from_hook(run, state, "FAILED")],
      on_cancellation=[lambda flow, run, state: _close_from_hook(run, state, "KILLED")])
def album_song_flow(album: AlbumSpec, index: int, out_dir: str, tracking_uri: str, parent_run_id: str) -> dict:
    """Song `index` of `album` as its own flow run (the `album-song` deployment): whichever host's worker
    takes it makes the song into the shared out_dir; returns {"results": stage -> result, "host": name}."""
    from songforge.confine import confine_all

    # whoever submits the run names its paths: confine them before any is read or written
    confine_all({"out_dir": Path(out_dir), **album.input_files()}, deployment_roots())
    host = host_name()
    _tag_this_run(f"host:{host}")
    song, parent = album.songs[index], TrackedRun(tracking_uri, parent_run_id)
    one = album.model_copy(update={"songs": [song], "rejected": []})
    futures = submit_songs(one, [song_folders(album, Path(out_dir))[index]], parent)[0]
    wait(list(futures.values()))
    results = song_results(futures)
    if "error" in results:
        close_song_run(parent, song.title, "FAILED", results["error"], {**song_params(song), "host": host})
        raise SongFailed(results["error"])
    return {"results": results, "host": host}


def deployment_roots() -> tuple[Path, ...] | None:
    """The folders a run started through a deployment may read and write: the project folder it runs in and
    those the operator lists in SONGFORGE_ALLOWED_ROOTS (songforge.confine). None for a run started by hand."""
    from prefect.runtime import deployment

    from songforge.confine import allowed_roots

    return allowed_roots(Path.cwd()) if deployment.id else None


def _tag_this_run(tag: str) -> None:
    """Add `tag` to the current flow run, so the UI and the API show which host ran it."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run.id)
        client.update_flow_run(run.id, tags=sorted({*run.tags, tag}))


def _close_from_hook(run, state, status: str) -> None:
    """A crashed or cancelled song run's MLflow run: closed FAILED/KILLED under the album's run."""
    params = run.parameters
    album = AlbumSpec.model_validate(params["album"])
    song = album.songs[params["index"]]
    close_song_run(TrackedRun(params["tracking_uri"], params["parent_run_id"]), song.title, status,
                   f"flow run {run.name} {state.name.lower()}: {state.message or 'no message'}", song_params(song))
