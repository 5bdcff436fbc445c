"""The album flow: every song (in this process, or fanned out to a deployment's workers), then the album report.

A song that fails, or that was rejected for its lyrics, fails alone: the other songs run on,
the report and the summary list it with its reason, its MLflow run is closed FAILED, and so
is the album's run. An error outside the songs closes the album's run FAILED (KILLED when
the flow is cancelled) before it propagates.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from songforge.params import AlbumSpec
from songforge.paths import album_dir, ascii_key
from songforge.report.album import album_report as report_album
from songforge.report.album import song_metrics
from songforge.report.safe_text import markdown_text
from tasks.cache import cached_task
from tasks.gpu import host_name
from tasks.track import (TrackedRun, close_album_run, close_song_run, default_tracking_uri, finish_album_run,
                         links_markdown, runs_page, song_params, start_album_run)

from .progress import stage_done
from .song import stages_of, song_folders, submit_songs, wait_for_songs
from .takes import plan_view
from .words import draft_briefs

album_report = cached_task("album-report", version="3")(report_album)


@flow(name="album", task_runner=ThreadPoolTaskRunner(max_workers=2))
def album_flow(album: AlbumSpec, out_dir: str = "out", tracking_uri: str | None = None,
               deployment: str | None = None) -> dict:
    """Make, master, measure and track every song of `album` under out_dir/<album>/.

    deployment: e.g. "album-song/gpu" to run each song as a flow run of that deployment, on
    whichever host's worker takes it; None runs the songs here.
    """
    return run_album(album, Path(out_dir), tracking_uri, deployment)


def run_album(album: AlbumSpec, out_dir: Path, tracking_uri: str | None, deployment: str | None = None) -> dict:
    album = draft_briefs(album, out_dir)  # words first: every later step of a briefed song reads them
    tracking_uri = tracking_uri or default_tracking_uri()
    parent = start_album_run(album, tracking_uri)
    try:
        return _make_album(album, out_dir, parent, deployment)
    except Exception as error:
        close_album_run(parent, "FAILED", f"{type(error).__name__}: {error}")
        raise
    except BaseException as stop:  # cancelled (Prefect raises a termination signal) or interrupted
        close_album_run(parent, "KILLED", f"{type(stop).__name__}: the album flow was stopped")
        raise


def _make_album(album: AlbumSpec, out_dir: Path, parent: TrackedRun, deployment: str | None) -> dict:
    folders = song_folders(album, out_dir)
    songs = _run_songs(album, folders, parent, out_dir, deployment)
    results = [song["results"] for song in songs]
    failed = _record_failures(album, parent, results, local=deployment is None)
    views = [plan_view(song, album) for song in album.songs]
    report = album_report(album, results, album_dir(out_dir, album.title), views)
    finish_album_run(parent, report, [r["track"] for r in results if "track" in r], failed=list(failed) or None)
    rows = _summary_rows(album, songs, views)
    create_table_artifact(rows, key=ascii_key(f"{album.slug}-metrics"), description=f"{album.title}: metrics per song")
    create_markdown_artifact(_links_markdown(album, parent, report.path("html"), failed),
                             key=ascii_key(f"{album.slug}-links"))
    return {"album": album.title, "mlflow_run_id": parent.run_id, "mlflow_page": runs_page(parent),
            "report": str(report.path("html")),
            "songs": rows, "folders": [str(f) for f in folders], "failed": failed}


def _run_songs(album: AlbumSpec, folders: list[Path], parent: TrackedRun, out_dir: Path,
               deployment: str | None) -> list[dict]:
    """Per song, {"results": stage -> result (and "error" if it failed), "host": where it ran}."""
    if deployment is None:
        submitted = submit_songs(album, folders, parent)
        return [{"results": results, "host": host_name()} for results in wait_for_songs(album, submitted)]
    from .fanout import run_songs_on_deployment

    songs = run_songs_on_deployment(album, folders, parent, deployment, out_dir)
    for song, outcome in zip(album.songs, songs):
        error = outcome["results"].get("error")
        for stage in stages_of(song, album) if error is None else ("song",):
            stage_done(song.title, stage, error)
    return songs


def _record_failures(album: AlbumSpec, parent: TrackedRun, results: list[dict], local: bool) -> dict[str, str]:
    """title -> reason of each failed or rejected song, with its MLflow run closed FAILED.

    A song run on a deployment closed its own MLflow run (or its hooks did); here only the
    songs run in this process and the rejected ones need one.
    """
    failed = {song.title: r["error"] for song, r in zip(album.songs, results) if "error" in r}
    for song in album.songs if local else ():
        if song.title in failed:
            close_song_run(parent, song.title, "FAILED", failed[song.title], song_params(song))
    for rejected in album.rejected:
        close_song_run(parent, rejected.title, "FAILED", rejected.reason)
        failed[rejected.title] = rejected.reason
    return failed


def _summary_rows(album: AlbumSpec, songs: list[dict], views: list) -> list[dict]:
    """A row per song in album-file order: its metrics, or its error."""
    rows = [{"song": spec.title, "number": number, "host": song["host"],
             **(song_metrics(song["results"], view) or {}),
             **({"error": song["results"]["error"]} if "error" in song["results"] else {})}
            for spec, number, song, view in zip(album.songs, album.song_numbers, songs, views)]
    rows += [{"song": r.title, "number": r.index + 1, "host": None, "error": r.reason} for r in album.rejected]
    return sorted(rows, key=lambda row: row["number"])


def _links_markdown(album: AlbumSpec, parent: TrackedRun, report: Path, failed: dict[str, str]) -> str:
    lines = [links_markdown(parent, report)]  # the review page as a file:// link, the run's UI link if served
    if failed:
        lines += ["", f"**{len(failed)} of {len(album.songs) + len(album.rejected)} songs failed:**", ""]
        lines += [f"- **{markdown_text(title)}**: {markdown_text(reason)}" for title, reason in failed.items()]
    return "\n".join(lines)


@flow(name="song", task_runner=ThreadPoolTaskRunner(max_workers=2))
def song_flow(album: AlbumSpec, out_dir: str = "out", tracking_uri: str | None = None) -> dict:
    """One song through every step, tracked as an album of one (same layout, same report)."""
    if len(album.songs) != 1:
        raise ValueError(f"the song flow takes one song, got {len(album.songs)}: use the album flow")
    return run_album(album, Path(out_dir), tracking_uri)


@flow(name="album-file")
def album_file_flow(album_file: str, out_dir: str = "out", tracking_uri: str | None = None,
                    deployment: str | None = None) -> dict:
    """The album flow for deployments and schedules: takes the params file's path (songs with bad lyrics fail alone)."""
    from songforge.album_file import load_album
    from songforge.confine import confine_all
    from songforge.preflight import check_album

    from .song import deployment_roots

    roots = deployment_roots()  # a deployment run's paths come from whoever starts it: confined to these
    confine_all({"album_file": Path(album_file), "out_dir": Path(out_dir)}, roots)
    album = load_album(Path(album_file), lenient_songs=True, roots=roots)
    # before any run: licences; and when the songs run on this worker, every model in its models folder
    check_album(album, source=album_file, models=deployment is None)
    return album_flow(album, out_dir, tracking_uri, deployment)
