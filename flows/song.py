"""The song DAG (lyrics → generate → mix → master → measure → plots → track) and a one-song flow."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from songforge.params import AlbumSpec, SongSpec
from tasks import stages
from tasks.track import TrackedRun, log_song

from .progress import stage_done

STAGES = ("lyrics", "generate", "mix", "master", "measure", "plots", "track")


def submit_song(song: SongSpec, folder: Path, album: AlbumSpec, parent: TrackedRun) -> dict[str, PrefectFuture]:
    """Submit every stage of one song; futures by stage name. Nothing blocks here."""
    out = {"lyrics": stages.write_lyrics.submit(song, folder),
           "generate": stages.generate.submit(song, folder)}
    out["mix"] = stages.mix.submit(out["generate"], song.mix, folder)
    out["master"] = stages.master.submit(out["mix"], album.master, folder)
    out["measure"] = stages.measure.submit(out["master"], out["generate"], song, album.measure, folder)
    out["plots"] = stages.plots.submit(out["master"], out["measure"], out["generate"], song, folder)
    out["track"] = log_song.submit(parent, song, {k: v for k, v in out.items()})
    return out


def wait_for_songs(album: AlbumSpec, submitted: list[dict[str, PrefectFuture]]) -> list[dict]:
    """Results per song (stage -> result), reporting each stage as it finishes."""
    owner = {id(f): (album.songs[i].title, stage) for i, s in enumerate(submitted) for stage, f in s.items()}
    for future in as_completed([f for s in submitted for f in s.values()]):
        stage_done(*owner[id(future)])
    return [{stage: future.result() for stage, future in song.items()} for song in submitted]


@flow(name="song", task_runner=ThreadPoolTaskRunner(max_workers=2))
def song_flow(album: AlbumSpec, out_dir: str = "out", tracking_uri: str | None = None) -> dict:
    """One song through every stage, tracked as an album of one (same layout, same report)."""
    from .album import run_album

    if len(album.songs) != 1:
        raise ValueError(f"the song flow takes one song, got {len(album.songs)}: use the album flow")
    return run_album(album, Path(out_dir), tracking_uri)
