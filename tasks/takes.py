"""The tasks of a song's takes: keep the best (songforge.takes.keep_take, cached: another rule only re-chooses), and
track the kept take as the song's MLflow run."""

from __future__ import annotations

from typing import Any

from songforge.artifacts import StageOutput
from songforge.errors import SongforgeError
from songforge.params import MasterSpec, SongSpec
from songforge.plan import PlanView
from songforge.takes import keep_take, take_song

from .cache import cached_task
from .track import TrackedRun, record_song

keep_best_take = cached_task("keep-take", task_run_name="takes-{song_folder.name}")(keep_take)


class NoTakeKept(SongforgeError):
    """Every take of a song was flagged (or none could be ranked), with no retakes left."""


@cached_task("track-kept-take", version="2", task_run_name="track-{song.title}")
def log_kept_take(parent: TrackedRun, song: SongSpec, kept: dict[str, StageOutput], master: MasterSpec | None,
                  view: PlanView, settings: dict[str, Any] | None = None) -> TrackedRun:
    """The song's child run, as log_song makes it, of the kept take (its seed, engine and files in the song's folder),
    the engines whose takes competed as its `take_engines` param."""
    record = kept["takes"].data
    if record["kept"] is None:
        raise NoTakeKept(f"no take kept by {record['rule']}: {record['reason']} (retakes: {song.retakes}); "
                         f"raise 'retakes:' or 'takes:' (every take's numbers: {kept['takes'].path('takes')})")
    return record_song(parent, take_song(song, record["kept"]), kept, master, view, settings,
                       take_engines=tuple(spec.name for spec in song.take_engines))
