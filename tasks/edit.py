"""An edit's MLflow run: the song's own run's child (log_song's params, metrics, artifacts and manifest.json for the
edited version), named and tagged as an edit, with what was edited as params."""

from __future__ import annotations

from typing import Any

from songforge.artifacts import StageOutput
from songforge.params import MasterSpec, SongSpec
from songforge.plan import PlanView
from songforge.song_edit import EditRequest

from .cache import cached_task
from .track import TrackedRun, _client, log_song


@cached_task("track-edit", task_run_name="track-edit-{song.title}")
def log_edit(song_run: TrackedRun, song: SongSpec, outputs: dict[str, StageOutput], master: MasterSpec | None,
             view: PlanView, request: EditRequest, label: str, settings: dict[str, Any] | None = None) -> TrackedRun:
    """A child of the song's run for its edit `label` (the edit folder's name); `settings`: the album's, for its
    manifest."""
    child = log_song.fn(song_run, song, outputs, master, view, settings)
    client = _client(song_run.tracking_uri)
    client.update_run(child.run_id, name=f"{song.title} · edit {label}")
    for key, value in {"songforge.kind": "edit", "songforge.edit": label, "songforge.song": song.title}.items():
        client.set_tag(child.run_id, key, value)
    for key, value in request.model_dump(exclude={"lyrics"}).items():
        client.log_param(child.run_id, f"edit.{key}", value)
    client.log_param(child.run_id, "edit.new_lyrics", request.lyrics is not None)
    return child
