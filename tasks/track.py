"""MLflow tracking: one run per album, a child run per song. The only module importing mlflow."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from songforge.artifacts import FileRef, StageOutput
from songforge.params import AlbumSpec, MasterSpec, SongSpec
from songforge.plan import PlanView
from songforge.sweep import SweepPlan, Take

from .cache import cached_task
from .results import json_record

EXPERIMENT = "songforge"
_PARAM_CHARS = 6000  # MLflow's limit on a param's value


def default_tracking_uri(folder: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI if set (a host's MLflow server), else a sqlite file in the project folder."""
    if folder is None and os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{(Path(folder or Path.cwd()) / 'mlflow.db').resolve()}"


@json_record("mlflow-run")
@dataclass(frozen=True)
class TrackedRun:
    """An MLflow run a task made; a cache hit is trusted only while the run (and its manifest file) still exist."""

    tracking_uri: str
    run_id: str
    manifest: FileRef | None = None

    def is_intact(self) -> bool:
        if self.manifest is not None and not self.manifest.is_intact():
            return False
        stage = _sqlite_lifecycle(self.tracking_uri, self.run_id)
        if stage is _UNKNOWN:
            try:
                stage = _client(self.tracking_uri).get_run(self.run_id).info.lifecycle_stage
            except Exception:  # a store that was wiped
                return False
        return stage == "active"  # a run deleted in the UI is not reused


_UNKNOWN = object()


def _sqlite_lifecycle(tracking_uri: str, run_id: str):
    """The run's lifecycle stage read straight from a sqlite store (None: no such run), or _UNKNOWN.

    Every cached stage of a rerun asks this; a read-only query answers in a millisecond, where
    MLflow's client first costs ~2 s of imports. Any surprise defers to the client.
    """
    import sqlite3

    if not tracking_uri.startswith("sqlite:///"):
        return _UNKNOWN
    path = Path(tracking_uri.removeprefix("sqlite:///"))
    if not path.is_file():
        return None  # the store was wiped: none of its runs exist
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            row = db.execute("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return _UNKNOWN


def _client(tracking_uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def _experiment_id(client, tracking_uri: str) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment:
        return experiment.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):  # artifacts beside the db, not beside the cwd
        location = (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return client.create_experiment(EXPERIMENT, artifact_location=location)


@cached_task("track-album")
def start_album_run(album: AlbumSpec, tracking_uri: str) -> TrackedRun:
    client = _client(tracking_uri)
    run = client.create_run(_experiment_id(client, tracking_uri), run_name=album.title,
                            tags={"songforge.kind": "album", "songforge.album": album.slug})
    params = {"album": album.title, "songs": len(album.songs), "master.target_lufs": album.master.target_lufs,
              "master.true_peak_dbtp": album.master.true_peak_dbtp, "master.reference": album.master.reference}
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    return TrackedRun(tracking_uri, run.info.run_id)


@cached_task("track-song", version="2", task_run_name="track-{song.title}")
def log_song(parent: TrackedRun, song: SongSpec, outputs: dict[str, StageOutput], master: MasterSpec | None,
             view: PlanView, settings: dict[str, Any] | None = None, run_name: str | None = None,
             tags: dict[str, str] | None = None, params: dict[str, Any] | None = None) -> TrackedRun:
    """A child run with the song's params, metrics, the artifacts its plan names, and manifest.json (with the
    album's `settings`, params.album_settings, when given); `run_name`, `tags` and `params` name and tag the run
    when it is created and add to its params (an edit's run: tasks/edit.py)."""
    return record_song(parent, song, outputs, master, view, settings, run_name, tags, params)


def record_song(parent: TrackedRun, song: SongSpec, outputs: dict[str, StageOutput], master: MasterSpec | None,
                view: PlanView, settings: dict[str, Any] | None = None, run_name: str | None = None,
                tags: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                take_engines: tuple[str, ...] = ()) -> TrackedRun:
    """log_song's run, in the calling task; take_engines: the engines whose takes competed (for a kept take, `song`
    being that take: its engine is the kept one), logged as the `take_engines` param."""
    client = _client(parent.tracking_uri)
    experiment_id = client.get_run(parent.run_id).info.experiment_id
    run_id = client.create_run(experiment_id, run_name=run_name or song.title, tags={
        "mlflow.parentRunId": parent.run_id, "songforge.kind": "song", **(tags or {})}).info.run_id
    competing = {"take_engines": ", ".join(take_engines)} if take_engines else {}
    for key, value in {**_song_params(song, outputs), **competing, **(params or {})}.items():
        client.log_param(run_id, key, value)
    for step in (step for step in view.metrics if step in outputs):  # a take's engine may plan fewer steps
        for key, value in outputs[step].data.items():
            if isinstance(value, (int, float)) and value is not None and not isinstance(value, bool):
                client.log_metric(run_id, key, float(value))
    for step, role in view.artifacts:
        if step in outputs and role in outputs[step].files:
            client.log_artifact(run_id, str(outputs[step].path(role)))
    manifest = _log_manifest(client, run_id, parent.run_id, song, outputs, master, settings)
    client.set_terminated(run_id, "FINISHED")
    return TrackedRun(parent.tracking_uri, run_id, manifest)


def _log_manifest(client, run_id: str, parent_run_id: str, song: SongSpec, outputs: dict[str, StageOutput],
                  master: MasterSpec | None, settings: dict[str, Any] | None = None) -> FileRef:
    """manifest.json in the song's folder, logged to the run, its key fields set as tags."""
    from prefect.runtime import flow_run, task_run

    from songforge.lineage import build_manifest, code_version
    from songforge.paths import write_json

    song_dir = outputs["master"].path("master").parent
    runs = {"prefect": {"flow_run_id": flow_run.id, "flow_run_name": flow_run.name, "task_run_id": task_run.id},
            "mlflow": {"run_id": run_id, "parent_run_id": parent_run_id}}
    manifest = build_manifest(song, outputs, song_dir=song_dir, code=code_version(), runs=runs, master=master,
                              settings=settings)
    ref = FileRef.of(write_json(song_dir / "manifest.json", manifest))
    client.log_artifact(run_id, ref.path)
    tags = {"songforge.manifest_sha256": ref.sha256, "songforge.code_version": manifest["code"]["label"],
            "songforge.git_commit": manifest["code"]["git_commit"], "songforge.engine": manifest["engine"]["identity"],
            "songforge.model_revision": manifest["engine"]["model_revision"],
            "songforge.lyrics_sha256": manifest["inputs"]["lyrics_sha256"],
            "songforge.params_sha256": manifest["inputs"]["params_sha256"],
            "songforge.prefect_flow_run_id": flow_run.id, "songforge.prefect_task_run_id": task_run.id}
    for key, value in tags.items():
        if value is not None:
            client.set_tag(run_id, key, str(value))
    return ref


@cached_task("track-album-report")
def finish_album_run(parent: TrackedRun, report: StageOutput, songs: list[TrackedRun],
                     failed: list[str] | None = None) -> TrackedRun:
    """Log the album report and metrics table to the parent run and close it: FAILED if any song failed."""
    client = _client(parent.tracking_uri)
    for role in report.files:
        client.log_artifact(parent.run_id, str(report.path(role)))
    album = json.loads(report.path("metrics").read_text())["album"]  # its means and targets met, to compare albums
    for key, value in album.items():
        client.log_metric(parent.run_id, key, float(value))
    client.set_tag(parent.run_id, "songforge.song_runs", ",".join(s.run_id for s in songs))
    client.set_tag(parent.run_id, "songforge.failed_songs", ", ".join(failed or []) or "none")
    client.set_terminated(parent.run_id, "FAILED" if failed else "FINISHED")
    return parent


def close_song_run(parent: TrackedRun, title: str, status: str, reason: str,
                   params: dict[str, object] | None = None, tags: dict[str, str] | None = None) -> str:
    """A failed or cancelled song's child run, closed FAILED or KILLED with its reason as a tag; its id back.

    Song runs are otherwise opened and closed within `log_song`, so a song that never got
    there has no run: this one records the attempt under the album's run.
    """
    client = _client(parent.tracking_uri)
    experiment_id = client.get_run(parent.run_id).info.experiment_id
    run_id = client.create_run(experiment_id, run_name=title, tags={
        "mlflow.parentRunId": parent.run_id, "songforge.kind": "song", "songforge.error": reason[:5000],
        "mlflow.note.content": f"**{status.lower()}**: {reason}", **(tags or {})}).info.run_id
    for key, value in (params or {}).items():
        client.log_param(run_id, key, str(value)[:_PARAM_CHARS])
    client.set_terminated(run_id, status)
    return run_id


def close_album_run(parent: TrackedRun, status: str, reason: str) -> None:
    """Close an album's run that its flow could not finish (FAILED on an error, KILLED when cancelled)."""
    client = _client(parent.tracking_uri)
    client.set_tag(parent.run_id, "songforge.error", reason[:5000])
    client.set_terminated(parent.run_id, status)


def song_params(song: SongSpec) -> dict[str, object]:
    """What a song run records of the song before any step has run; a song whose takes use several engines records
    them as `take_engines` (no take kept yet: no one engine is the song's)."""
    engine = {"take_engines": ", ".join(spec.name for spec in song.take_engines)} if song.take_engines else \
        {"engine": song.engine.name, **{f"engine.{k}": v for k, v in song.engine.params.model_dump(mode="json").items()}}
    return {"title": song.title, "seed": song.seed, "bpm": song.bpm, "key": song.key, "style": song.style,
            "language": song.language, "duration_s.target": song.duration_s, **engine}


@cached_task("track-sweep")
def start_sweep_run(plan: SweepPlan, tracking_uri: str) -> TrackedRun:
    """The sweep's parent run, tagged with the sweep's name and its swept params."""
    client = _client(tracking_uri)
    run_id = client.create_run(_experiment_id(client, tracking_uri), run_name=f"sweep {plan.name}", tags={
        "songforge.kind": "sweep", "songforge.sweep": plan.slug, "songforge.album": plan.album.slug,
        "songforge.swept": ",".join(plan.swept)}).info.run_id
    params = {"sweep": plan.name, "album": plan.album.title, "takes": len(plan.takes),
              "songs": ", ".join(song.title for song in plan.album.songs)[:_PARAM_CHARS]}
    for key in plan.swept:
        values = dict.fromkeys(str(take.overrides.get(key)) for take in plan.takes)
        params[f"swept.{key}"] = ", ".join(values)[:_PARAM_CHARS]
    for key, value in params.items():
        client.log_param(run_id, key, value)
    return TrackedRun(tracking_uri, run_id)


@cached_task("track-take", version="2", task_run_name="track-{take.id}-{song.title}")
def log_take(parent: TrackedRun, take: Take, song: SongSpec, outputs: dict[str, StageOutput],
             master: MasterSpec, view: PlanView) -> TrackedRun:
    """log_song's child run for one take of one song, named and tagged with the take."""
    child = log_song.fn(parent, song, outputs, master, view)
    client = _client(parent.tracking_uri)
    client.update_run(child.run_id, name=f"{take.id} · {song.title}")
    for key, value in {"songforge.kind": "take", "songforge.take": take.id, "songforge.take_label": take.label,
                       "songforge.song": song.title}.items():
        client.set_tag(child.run_id, key, value)
    for key, value in {"take": take.id, **{f"take.{k}": v for k, v in take.overrides.items()}}.items():
        client.log_param(child.run_id, key, value)
    return child


@cached_task("track-sweep-comparison")
def finish_sweep_run(parent: TrackedRun, comparison: StageOutput, takes: list[TrackedRun]) -> TrackedRun:
    """Log the comparison (table, page, best takes, plots under plots/) to the parent run and close it."""
    client = _client(parent.tracking_uri)
    for role in comparison.files:
        client.log_artifact(parent.run_id, str(comparison.path(role)), "plots" if role.startswith("plot-") else None)
    client.set_tag(parent.run_id, "songforge.take_runs", str(len(takes)))
    client.set_terminated(parent.run_id, "FINISHED")
    return parent


def runs_page(run: TrackedRun) -> str:
    """Where a person sees `run` among its experiment's runs (MLflow 3's UI otherwise opens on its traces page).

    A server's URI links straight to it; a sqlite store needs `mlflow ui` first, which the text says.
    """
    experiment = _experiment_of(run)
    url = f"#/experiments/{experiment}/runs/{run.run_id}" if experiment else "#/experiments"
    if run.tracking_uri.startswith(("http://", "https://")):
        return f"{run.tracking_uri.rstrip('/')}/{url}"
    serve = f"mlflow ui --backend-store-uri {run.tracking_uri} --host 127.0.0.1 --port 5000"
    return f"http://127.0.0.1:5000/{url} (after: {serve})"


def _experiment_of(run: TrackedRun) -> str | None:
    """The run's experiment id; None if the store does not know the run."""
    import sqlite3

    if run.tracking_uri.startswith("sqlite:///"):  # read-only, no MLflow import on a cached rerun
        path = Path(run.tracking_uri.removeprefix("sqlite:///")).resolve()
        try:
            with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
                row = db.execute("SELECT experiment_id FROM runs WHERE run_uuid = ?", (run.run_id,)).fetchone()
            return str(row[0]) if row else None
        except sqlite3.Error:  # no store there yet
            return None
    try:
        return _client(run.tracking_uri).get_run(run.run_id).info.experiment_id
    except Exception:  # a server that does not know the run, or cannot be reached
        return None


def links_markdown(run: TrackedRun, report: Path) -> str:
    """Markdown for a Prefect artifact: the report as a file:// link, and the run in the MLflow UI."""
    report = Path(report).resolve()
    lines = [f"**Review page:** [{report.name}]({report.as_uri()}) (`{report}`)"]
    page = runs_page(run)
    if run.tracking_uri.startswith(("http://", "https://")):
        lines.append(f"**MLflow run:** [{run.run_id}]({page})")
    else:
        lines.append(f"**MLflow run:** `{run.run_id}` in `{run.tracking_uri}`: {page}")
    return "\n\n".join(lines)


def _song_params(song: SongSpec, outputs: dict[str, StageOutput]) -> dict[str, object]:
    return {**song_params(song), **{f"mix.{k}": v for k, v in song.mix.model_dump().items()},
            **{f"master.{k}": v for k, v in outputs["master"].data.items() if not isinstance(v, (list, dict))}}
