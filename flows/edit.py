"""The edit flow: one edit of a finished song (songforge.song_edit) through the same machinery as a song: its
plan's steps as cached run_step tasks (flows.plan), then its MLflow run, a child of the song's own run, and a
review page of the original and the edit side by side (in the edit folder's review/, beside the edit's files)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from songforge.report.album import song_metrics
from songforge.params import AlbumSpec, album_settings
from songforge.plan import PlanView, plan_song
from songforge.song_edit import EditJob, EditRequest, claim, plan_edit
from songforge.song_folder import recorded_results
from tasks.edit import close_edit_run, log_edit
from tasks.track import TrackedRun, runs_page

from .album import album_report
from .plan import submit_plan
from .progress import stage_done
from .song import wait_for_songs

REVIEW = "review"


@flow(name="edit", task_runner=ThreadPoolTaskRunner(max_workers=2))
def edit_flow(song_folder: str, request: EditRequest, tracking_uri: str) -> dict:
    """The edited version of the song in song_folder, in SONG/edits/NN-<range>/; its folder, metrics and runs (a
    failed step: its folder, `failed` (the step and why) and the FAILED run)."""
    job = plan_edit(Path(song_folder), request)
    claim(job)
    futures = submit_plan(job.plan, job.folder, {})
    (results,) = wait_for_songs(job.album, [futures])
    song_run = TrackedRun(tracking_uri, job.original.run_id)
    if "error" in results:  # a step failed: the edit's run closed FAILED with the reason, as a failed song's is
        run_id = close_edit_run(song_run, job.song, request, job.folder.name, results["error"])
        return {"folder": str(job.folder), "failed": results["error"], "mlflow_run_id": run_id,
                "mlflow_page": runs_page(TrackedRun(tracking_uri, run_id))}
    view = job.plan.view()
    tracked = log_edit(song_run, job.song, results, job.album.master, view,
                       request, job.folder.name, album_settings(job.album))
    stage_done(job.song.title, "track")
    album, songs, views = _side_by_side(job, results, view)
    report = album_report(album, songs, job.folder / REVIEW, views)
    cached = [name for name, future in futures.items() if future.state.name == "Cached"]
    return {"folder": str(job.folder), "steps": list(job.plan.names), "cached": cached,
            "metrics": song_metrics(results, view) or {},
            "report": str(report.path("html")), "mlflow_run_id": tracked.run_id, "mlflow_page": runs_page(tracked)}


def _side_by_side(job: EditJob, results: dict, view: PlanView) -> tuple[AlbumSpec, list[dict], list[PlanView]]:
    """The review page's songs: the original (its outputs as its manifest records them) and the edit."""
    title = job.song.title
    original = job.original.song.model_copy(update={"title": f"{title} (original)"[:120]})
    edited = job.song.model_copy(update={"title": f"{title} (edit {job.folder.name})"[:120]})
    album = job.album.model_copy(update={"songs": [original, edited]})
    return album, [recorded_results(job.original), results], [plan_song(job.original.song, job.album).view(), view]
