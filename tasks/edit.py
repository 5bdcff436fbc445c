"""An edit's MLflow run: the song's own run's child (log_song's params, metrics, artifacts and manifest.json for the
edited version), named and tagged as an edit when it is created, with what was edited as params; a failed edit's
run closed FAILED with its reason (as a failed song's is)."""

from __future__ import annotations

from typing import Any

from songforge.artifacts import StageOutput
from songforge.params import MasterSpec, SongSpec
from songforge.plan import PlanView
from songforge.song_edit import EditRequest

from .cache import cached_task
from .track import TrackedRun, close_song_run, log_song


def edit_run(song: SongSpec, request: EditRequest, label: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """An edit's run's name, tags and edit.* params."""
    tags = {"songforge.kind": "edit", "songforge.edit": label, "songforge.song": song.title}
    params = {**{f"edit.{key}": value for key, value in request.model_dump(exclude={"lyrics"}).items()},
              "edit.new_lyrics": request.lyrics is not None}
    return f"{song.title} · edit {label}", tags, params


@cached_task("track-edit", version="2", task_run_name="track-edit-{song.title}")
def log_edit(song_run: TrackedRun, song: SongSpec, outputs: dict[str, StageOutput], master: MasterSpec | None,
             view: PlanView, request: EditRequest, label: str, settings: dict[str, Any] | None = None) -> TrackedRun:
    """A child of the song's run for its edit `label` (the edit folder's name); `settings`: the album's, for its
    manifest."""
    name, tags, params = edit_run(song, request, label)
    return log_song.fn(song_run, song, outputs, master, view, settings, run_name=name, tags=tags, params=params)


def close_edit_run(song_run: TrackedRun, song: SongSpec, request: EditRequest, label: str, reason: str) -> str:
    """A failed edit's child run of the song's, closed FAILED with its reason; its id."""
    name, tags, params = edit_run(song, request, label)
    return close_song_run(song_run, name, "FAILED", reason, params, tags)
