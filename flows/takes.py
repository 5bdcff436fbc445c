"""A song's takes in the song DAG: every take of every song submitted with the other songs' steps (a batching step,
YuE's stage 1, batches the takes), then the task that keeps the best by the song's rule; while every take of a song
is flagged and it has retakes left, a new round of takes (new seeds) is submitted and the choice made again.

A song without a `select:` rule is one plain plan, as it always was. A song with one reports its steps as
'take<nn>/<step>', then 'takes' (the choice: the kept take's outputs, by step name) and 'track'. Each take's plan
is its own engine's (take_song: a song with `take_engines` makes its takes with them in turn).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from prefect import allow_failure
from prefect.futures import PrefectFuture

from songforge.params import AlbumSpec, SongSpec
from songforge.plan import PlanView, SongPlan, merged_view, plan_song
from songforge.takes import engine_songs, round_indices, take_engine, take_folder, take_seed, take_song
from tasks.takes import keep_best_take

from .plan import Futures, submit_plans

CHOICE = "takes"


@dataclass
class SongTakes:
    """One song's work: a plain plan, or its takes so far (index -> plan), and its futures by stage."""

    song: SongSpec
    folder: Path
    plans: dict[int, SongPlan] = field(default_factory=dict)
    futures: Futures = field(default_factory=dict)
    rounds: int = 0

    @property
    def chosen(self) -> bool:
        return self.song.select is not None


def take_label(index: int) -> str:
    return f"take{index + 1:02d}"


def is_take_stage(stage: str) -> bool:
    """A stage of one take of a song, 'take02/generate' (see take_label)."""
    return re.fullmatch(r"take\d+/.+", stage) is not None


def submit_rounds(album: AlbumSpec, folders: list[Path], shared: dict) -> list[SongTakes]:
    """Every song's plain plan or first round of takes, submitted together; the choice of each song with takes."""
    songs = [SongTakes(song, folder) for song, folder in zip(album.songs, folders)]
    _submit_round(album, songs, shared)
    return songs


def draw_again(album: AlbumSpec, songs: list[SongTakes], shared: dict) -> None:
    """Blocks: while a song's choice kept no take and it has retakes left, a new round of its takes and a new choice."""
    while waiting := [s for s in songs if s.chosen and s.rounds <= s.song.retakes and _none_kept(s)]:
        _submit_round(album, waiting, shared)


def plan_view(song: SongSpec, album: AlbumSpec) -> PlanView:
    """The view of the song's plan; of a song whose takes use several engines, the view of all their plans."""
    return merged_view([plan_song(each, album).view() for each in engine_songs(song)])


def view_of(song: SongSpec, album: AlbumSpec) -> PlanView:
    """What the song's run and report read: its plan's view, with takes.json kept as an artifact for a chosen song."""
    view = plan_view(song, album)
    if song.select is None:
        return view
    return view.model_copy(update={"artifacts": (*view.artifacts, (CHOICE, CHOICE))})


def _none_kept(song: SongTakes) -> bool:
    future = song.futures[CHOICE]
    future.wait()
    return future.state.is_completed() and future.result()[CHOICE].data["kept"] is None


def _submit_round(album: AlbumSpec, songs: list[SongTakes], shared: dict) -> None:
    jobs: list[tuple[SongTakes, int | None, SongPlan, Path]] = []
    for song in songs:
        if not song.chosen:
            jobs.append((song, None, plan_song(song.song, album), song.folder))
            continue
        for index in round_indices(song.song, song.rounds):
            song.plans[index] = plan_song(take_song(song.song, index), album)
            jobs.append((song, index, song.plans[index], take_folder(song.folder, index)))
    submitted = submit_plans([(plan, folder) for _, _, plan, folder in jobs], shared)
    for (song, index, _, _), futures in zip(jobs, submitted):
        song.futures.update(futures if index is None else {f"{take_label(index)}/{k}": f for k, f in futures.items()})
    for song in songs:
        if song.chosen:
            song.futures[CHOICE] = _submit_choice(song, album)
            song.rounds += 1


def _submit_choice(song: SongTakes, album: AlbumSpec) -> PrefectFuture:
    indices = sorted(song.plans)
    # allow_failure: a take whose step fails reaches the choice as that step's exception, and is not kept; the
    # song is its other takes (songforge.takes.keep_take), not a failed song
    takes = [{name: allow_failure(song.futures[f"{take_label(i)}/{name}"]) for name in song.plans[i].names}
             for i in indices]
    metric_steps = list(view_of(song.song, album).metrics)
    return keep_best_take.submit(song.song.select, [take_seed(song.song.seed, i) for i in indices], takes,
                                 metric_steps, song.folder, indices, [take_engine(song.song, i).name for i in indices])
