"""What `songforge write` does once its options are read: an album drafted, a song added, a song rewritten."""

from __future__ import annotations

from pathlib import Path

from songforge.errors import ParamsError, SongforgeError
from songforge.lyricist.album import (MAX_SONGS, AlbumCut, album_title, draft_songs, new_album, provenance_line,
                                      render, song_fields, songs_in, write_checked)
from songforge.lyricist.edit import revise_brief, rewritten, round_trip, song_index
from songforge.lyricist.repair import Chat, Drafted, draft_song

DEFAULT_SONGS = 4


def write_album(chat: Chat, brief: str, out: Path, songs: int | None, language: str, force: bool) -> Path:
    if out.exists() and not force:
        raise ParamsError("--out", f"{out} exists", "choose another file, or add --force to overwrite it")
    count = songs or songs_in(brief) or DEFAULT_SONGS
    if count > MAX_SONGS:
        raise ParamsError("--songs" if songs else "brief", f"asks for {count} songs, more than {MAX_SONGS}",
                          f"ask for at most {MAX_SONGS} songs (several album files for more)")
    try:
        drafted = draft_songs(chat, brief, count, language, chat.params.max_rounds)
    except AlbumCut as cut:  # the songs drafted before the failed one are kept: written, and the failure said
        if not cut.drafted:
            raise cut.error from None
        kept = _album_file(cut.drafted, brief, language, out, f"songs {cut.number} to {cut.count} not drafted")
        raise SongforgeError(f"{cut}\nThe {len(cut.drafted)} song(s) drafted before it are written to {kept}, "
                             f"without songs {cut.number} to {cut.count}. Fix: add each with `songforge write "
                             f"--song BRIEF --out {out}`, or rerun with --force") from None
    return _album_file(drafted, brief, language, out)


def _album_file(drafted: list[Drafted], brief: str, language: str, out: Path, missing: str = "") -> Path:
    document = new_album(album_title(brief), [song_fields(d, language, seed) for seed, d in enumerate(drafted)])
    header = f"{provenance_line(drafted[0].provenance)}\nbrief: {brief}" + (f"\n{missing}" if missing else "")
    return write_checked(render(document, header), out)


def add_song(chat: Chat, brief: str, out: Path, language: str) -> Path:
    """One song drafted: added to the album file `out` (kept as it was), or a new album of one."""
    if not out.exists():
        drafted = draft_song(chat, brief, language, chat.params.max_rounds)
        document = new_album(drafted.draft.title, [song_fields(drafted, language, 0)])
        return write_checked(render(document, f"{provenance_line(drafted.provenance)}\nbrief: {brief}"), out)
    document, songs = round_trip(out)
    drafted = draft_song(chat, brief, language, chat.params.max_rounds, taken=tuple(s.title for s in songs))
    from ruamel.yaml.comments import CommentedMap

    document["songs"].append(CommentedMap(song_fields(drafted, language, len(document["songs"]))))
    return write_checked(render(document), out)


def revise_song(chat: Chat, path: Path, title: str, note: str) -> Path:
    """The song titled `title` rewritten by `note` at its own bpm and length (its words only: title, tags, key and
    duration_s stay as they are); a lyrics_brief song is written from its brief. The rest of the file is kept,
    comments included."""
    document, songs = round_trip(path)
    index = song_index(document, songs, title, str(path))
    song = next(s for s in songs if s.title == title)
    others = tuple(s.title for s in songs if s.title != title)
    drafted = draft_song(chat, revise_brief(title, song.lyrics, note, song.lyrics_brief), song.language,
                         chat.params.max_rounds, bpm=song.bpm, duration_s=song.duration_s, taken=others,
                         words_only=True)
    return write_checked(render(rewritten(document, index, drafted)), path)
