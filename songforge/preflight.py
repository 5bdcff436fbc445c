"""Before any run starts: every model every song needs, checked at once, and the one command that fetches them;
and for a commercial album, the licence of every step it plans.

Each engine says which models a song's params load (`models_needed`, songforge.engine.base); this module
only gathers what is missing across an album (or every take of a sweep) so that the user learns of all of
it in one message, instead of one model per failed overnight run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .engine.base import needed_models
from .errors import EngineError

if TYPE_CHECKING:
    from .params import AlbumSpec, SongSpec
    from .plan import SongPlan
    from .sweep import SweepPlan


@dataclass
class MissingModel:
    """A model folder some songs need that is absent or incomplete, and which songs' steps need it."""

    name: str
    folder: Path
    missing: tuple[str, ...]
    pull: str | None
    uses: dict[str, list[str]] = field(default_factory=dict)  # role -> titles, e.g. {"stage 1": ["Paper Planes"]}

    def describe(self) -> str:
        where = ("is not there" if self.missing == (".",)
                 else f"lacks {', '.join(self.missing[:4])}{' ...' if len(self.missing) > 4 else ''}")
        label = self.name if self.pull else "a model folder of your own"
        uses = "; ".join(f"{role} of {', '.join(map(repr, titles))}" for role, titles in self.uses.items())
        return f"  - {label}: {self.folder} {where} (needed by {uses})"


def missing_models(songs: Iterable["SongSpec"], plans: Iterable["SongPlan"] = ()) -> list[MissingModel]:
    """Every model folder the songs' engines (and, given their plans, their steps; and a briefed song's lyricist
    in process) would load that is absent or incomplete, each listed once."""
    from .steps.lyricist_local import preflight_models

    found: dict[Path, MissingModel] = {}
    for song, plan in zip_longest(songs, plans):
        needs = (needed_models(song.engine.engine, song.engine.params) + (plan.models() if plan else [])
                 + preflight_models(song))
        for need in needs:
            if need.missing:
                entry = found.setdefault(need.folder, MissingModel(need.name, need.folder, need.missing, need.pull))
                titles = entry.uses.setdefault(need.role, [])
                if song.title not in titles:  # a sweep lists each song once per take
                    titles.append(song.title)
    return list(found.values())


def pull_command(missing: Iterable[MissingModel]) -> str | None:
    """The one `songforge models pull a b c` that fetches every missing model it can (None if it can fetch none)."""
    names = list(dict.fromkeys(m.pull for m in missing if m.pull))
    return f"songforge models pull {' '.join(names)}" if names else None


def check_models(songs: Iterable["SongSpec"], source: str | None = None, plans: Iterable["SongPlan"] = ()) -> None:
    """Raise EngineError listing every missing model of every song (and of its plan's steps), with the fix, before
    anything runs."""
    missing = missing_models(songs, plans)
    if not missing:
        return
    where = f"{source}: " if source else ""
    lines = [f"{where}{len(missing)} model{'s' if len(missing) > 1 else ''} the songs need "
             f"{'are' if len(missing) > 1 else 'is'} missing, so nothing was started:"]
    lines += [m.describe() for m in missing]
    command = pull_command(missing)
    fixes = [f"run `{command}` (on a machine with internet; SONGFORGE_MODELS sets where models go), then "
             "run this again"] if command else []
    if any(m.pull is None for m in missing):
        fixes.append("for a folder of your own, correct its path in the song's engine params or put the model there")
    lines.append(f"Fix: {'; '.join(fixes)}.")
    raise EngineError("\n".join(lines))


def check_album(album: "AlbumSpec", source: str | None = None, models: bool = True) -> None:
    """Before anything runs: a commercial album plans no step whose licence forbids it (songforge.plan), and
    (models: the songs run on this host) every model every song needs is here."""
    from .lyricist.brief import stand_in
    from .plan import check_commercial, plan_song
    from .takes import engine_songs

    songs = [each for song in album.songs for each in engine_songs(song)]  # every engine of every song's takes
    plans = [plan_song(stand_in(song), album) for song in songs]  # licences and models: not the words
    check_commercial(album, plans, source)
    if models:
        check_models(songs, source, plans)


def check_sweep(sweep: "SweepPlan", source: str | None = None) -> None:
    """check_album for every take of a sweep, with the missing models of all takes in one message."""
    from .plan import plan_song
    from .takes import engine_songs

    albums = [sweep.album_for(take) for take in sweep.takes]
    for album in albums:
        check_album(album, source, models=False)
    songs = [(each, album) for album in albums for song in album.songs for each in engine_songs(song)]
    check_models([song for song, _ in songs], source, [plan_song(song, album) for song, album in songs])
