"""MLflow tracking: one run per album, a child run per song. The only module importing mlflow."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import task

from songforge.artifacts import StageOutput
from songforge.params import AlbumSpec, SongSpec

from .cache import StageCache

EXPERIMENT = "songforge"


def default_tracking_uri(folder: Path | None = None) -> str:
    """A sqlite file in the project folder (MLflow's own default, made absolute)."""
    return f"sqlite:///{(Path(folder or Path.cwd()) / 'mlflow.db').resolve()}"


@dataclass(frozen=True)
class TrackedRun:
    """An MLflow run a task made; a cache hit is trusted only while the run still exists."""

    tracking_uri: str
    run_id: str

    def is_intact(self) -> bool:
        try:
            _client(self.tracking_uri).get_run(self.run_id)
            return True
        except Exception:  # deleted run, or a store that was wiped
            return False


def warm_up(tracking_uri: str | None = None) -> None:
    """Import MLflow and open the store now: the CLI calls this while its Prefect API boots."""
    _client(tracking_uri or default_tracking_uri()).search_experiments(max_results=1)


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


@task(name="track-album", cache_policy=StageCache(stage="track-album"), persist_result=True)
def start_album_run(album: AlbumSpec, tracking_uri: str) -> TrackedRun:
    client = _client(tracking_uri)
    run = client.create_run(_experiment_id(client, tracking_uri), run_name=album.title,
                            tags={"songforge.kind": "album", "songforge.album": album.slug})
    params = {"album": album.title, "songs": len(album.songs), "master.target_lufs": album.master.target_lufs,
              "master.true_peak_dbtp": album.master.true_peak_dbtp, "master.reference": album.master.reference}
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    return TrackedRun(tracking_uri, run.info.run_id)


@task(name="track-song", cache_policy=StageCache(stage="track-song"), persist_result=True,
      task_run_name="track-{song.title}")
def log_song(parent: TrackedRun, song: SongSpec, outputs: dict[str, StageOutput]) -> TrackedRun:
    """A child run with the song's params, metrics and listenable/viewable artifacts."""
    client = _client(parent.tracking_uri)
    experiment_id = client.get_run(parent.run_id).info.experiment_id
    run_id = client.create_run(experiment_id, run_name=song.title,
                               tags={"mlflow.parentRunId": parent.run_id, "songforge.kind": "song"}).info.run_id
    for key, value in _song_params(song, outputs).items():
        client.log_param(run_id, key, value)
    for key, value in outputs["measure"].data.items():
        if isinstance(value, (int, float)) and value is not None and not isinstance(value, bool):
            client.log_metric(run_id, key, float(value))
    for stage, role in [("master", "preview"), ("lyrics", "lyrics"), ("plots", "waveform"),
                        ("plots", "pitch"), ("measure", "metrics"), ("generate", "take")]:
        client.log_artifact(run_id, str(outputs[stage].path(role)))
    client.set_terminated(run_id, "FINISHED")
    return TrackedRun(parent.tracking_uri, run_id)


@task(name="track-album-report", cache_policy=StageCache(stage="track-album-report"), persist_result=True)
def finish_album_run(parent: TrackedRun, report: StageOutput, songs: list[TrackedRun]) -> TrackedRun:
    """Log the album report and metrics table to the parent run and close it."""
    client = _client(parent.tracking_uri)
    for role in report.files:
        client.log_artifact(parent.run_id, str(report.path(role)))
    client.set_tag(parent.run_id, "songforge.song_runs", ",".join(s.run_id for s in songs))
    client.set_terminated(parent.run_id, "FINISHED")
    return parent


def _song_params(song: SongSpec, outputs: dict[str, StageOutput]) -> dict[str, object]:
    return {"title": song.title, "engine": outputs["generate"].data.get("engine", song.engine.name),
            "seed": song.seed, "bpm": song.bpm, "key": song.key, "style": song.style,
            "language": song.language, "duration_s.target": song.duration_s,
            **{f"engine.{k}": v for k, v in song.engine.params.items()},
            **{f"mix.{k}": v for k, v in song.mix.model_dump().items()},
            **{f"master.{k}": v for k, v in outputs["master"].data.items() if not isinstance(v, (list, dict))}}
