"""The album flow: every song's DAG at once (bounded by the task runner), then the album report."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from songforge import stages
from songforge.params import AlbumSpec
from songforge.paths import album_dir, song_dir
from tasks.cache import StageCache
from tasks.track import default_tracking_uri, finish_album_run, start_album_run

from .song import submit_song, wait_for_songs

album_report = task(name="album-report", cache_policy=StageCache(stage="album-report"),
                    persist_result=True)(stages.album_report)


@flow(name="album", task_runner=ThreadPoolTaskRunner(max_workers=2))
def album_flow(album: AlbumSpec, out_dir: str = "out", tracking_uri: str | None = None) -> dict:
    """Make, master, measure and track every song of `album` under out_dir/<album>/."""
    return run_album(album, Path(out_dir), tracking_uri)


def run_album(album: AlbumSpec, out_dir: Path, tracking_uri: str | None) -> dict:
    tracking_uri = tracking_uri or default_tracking_uri()
    parent = start_album_run(album, tracking_uri)
    folders = [song_dir(out_dir, album.title, i + 1, song.title) for i, song in enumerate(album.songs)]
    results = wait_for_songs(album, [submit_song(s, f, album, parent) for s, f in zip(album.songs, folders)])
    report = album_report(album, results, album_dir(out_dir, album.title))
    finish_album_run(parent, report, [r["track"] for r in results])
    rows = [{"song": song.title, **r["measure"].data} for song, r in zip(album.songs, results)]
    create_table_artifact(rows, key=f"{album.slug}-metrics", description=f"{album.title}: metrics per song")
    create_markdown_artifact(f"MLflow run `{parent.run_id}` in `{tracking_uri}`; report: `{report.path('html')}`",
                             key=f"{album.slug}-links")
    return {"album": album.title, "mlflow_run_id": parent.run_id, "report": str(report.path("html")),
            "songs": rows, "folders": [str(f) for f in folders]}


@flow(name="album-file")
def album_file_flow(album_file: str, out_dir: str = "out", tracking_uri: str | None = None) -> dict:
    """The album flow for deployments and schedules: takes the params file's path."""
    from songforge.params import load_album

    return album_flow(load_album(Path(album_file)), out_dir, tracking_uri)
