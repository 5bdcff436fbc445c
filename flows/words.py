"""Songs with a lyrics_brief get their words first: the lyricist step of each, cached like every step (run_step),
then the album with the drafted lyrics, which every later step of the song reads (songforge.lyricist.brief).

A rerun whose server is unreachable reuses a song's draft in its folder (lyrics_draft.json) where it was asked
exactly as now, with a warning naming the server. A song whose draft fails (the model's drafts still break a fit
rule after the last round, or the server is unreachable) fails alone: it joins the album's rejected songs with the
reason, as a song with unusable lyrics.
"""

from __future__ import annotations

import logging
from pathlib import Path

from songforge.errors import SongforgeError
from songforge.lyricist.brief import brief_call, offline_draft, with_words
from songforge.lyricist.endpoint import EndpointError
from songforge.params import AlbumSpec, RejectedSong
from songforge.steps.lyricist import step_for
from tasks.steps import run_step

from .song import song_folders

log = logging.getLogger(__name__)


def draft_briefs(album: AlbumSpec, out_dir: Path) -> AlbumSpec:
    """The album with every lyrics_brief drafted (in parallel, each cached); songs whose draft failed rejected."""
    waiting = [i for i, song in enumerate(album.songs) if song.lyrics_brief and not song.lyrics]
    if not waiting:
        return album
    folders = song_folders(album, out_dir)
    futures, songs, rejected = {}, list(album.songs), list(album.rejected)
    for i in waiting:
        try:
            call = brief_call(album.songs[i])
        except EndpointError as error:
            if error.unreachable and (earlier := offline_draft(album.songs[i], folders[i])) is not None:
                log.warning("the lyricist server is unreachable (%s): '%s' keeps its earlier draft, %s",
                            error, album.songs[i].title, earlier.path("draft"))
                songs[i] = with_words(album.songs[i], earlier)
            else:
                rejected.append(_rejected(album, i, error))
            continue
        except Exception as error:  # noqa: BLE001 - whatever stops one song's call (the endpoint raises only
            # SongforgeErrors; anything else is a bug) fails that song alone, never the album's other songs
            rejected.append(_rejected(album, i, error if isinstance(error, SongforgeError)
                                      else f"{type(error).__name__}: {error}"))
            continue
        futures[i] = run_step.with_options(task_run_name=f"lyricist-{folders[i].name}").submit(
            step_for(call).key, call, {}, folders[i])
    for i, future in futures.items():
        state = future.wait() or future.state
        if state.is_completed():
            songs[i] = with_words(album.songs[i], future.result())
        else:
            rejected.append(_rejected(album, i, state.result(raise_on_failure=False)))
    dropped = {r.index for r in rejected} - {r.index for r in album.rejected}
    kept = [song for number, song in zip(album.song_numbers, songs) if number - 1 not in dropped]
    return album.model_copy(update={"songs": kept, "rejected": sorted(rejected, key=lambda r: r.index)})


def _rejected(album: AlbumSpec, i: int, error: object) -> RejectedSong:
    why = error if isinstance(error, SongforgeError) else f"the draft failed ({error})"
    reason = f"lyrics_brief: {why}"
    return RejectedSong(index=album.song_numbers[i] - 1, title=album.songs[i].title, reason=reason)
