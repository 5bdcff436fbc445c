"""Editing an album file in place, keeping everything else as it was (comments, order, quoting): a drafted song
added, or one song's words rewritten. The file is read round-trip with ruamel.yaml (its safe round-trip loader:
a tag never constructs an object), within the same bounds as every params file, and checked by the album loader
before it is loaded at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..album_file import load_album
from ..errors import ParamsError
from ..params import SongSpec
from ..params_file import read_text_file
from .repair import Drafted


def round_trip(path: Path) -> tuple[Any, list[SongSpec]]:
    """The file's round-trip tree and its songs (the file must load as it is: every problem raised first)."""
    from ruamel.yaml import YAML

    album = load_album(path)
    text = read_text_file(path, "(file)", str(path), "check the path to the album file")
    document = YAML(typ="rt").load(text)
    if "songs" not in document:
        raise ParamsError("songs", "this is a single-song file", "put the song under 'songs:' in an album file",
                          str(path))
    return document, list(album.songs)


def song_index(document: Any, songs: list[SongSpec], title: str, source: str) -> int:
    """Where the song titled `title` is in the file's songs (rejected songs count: positions are the file's)."""
    titles = [str(song.get("title")) if hasattr(song, "get") else "" for song in document["songs"]]
    if title not in titles:
        raise ParamsError("--song", f"no song is titled '{title[:80]}'", f"use one of: {', '.join(titles)}", source)
    index = titles.index(title)
    if "lyrics_file" in document["songs"][index]:
        raise ParamsError(f"songs[{index}].lyrics_file", "the song's words are in another file",
                          "revise that file, or move its lyrics inline ('lyrics: |')", source)
    return index


def rewritten(document: Any, index: int, drafted: Drafted) -> Any:
    """The song's lyrics replaced (drafted to fit its own bpm and duration_s, which stay as they are, as do its
    other fields and every comment); a lyrics_brief gives way to the lyrics drafted from it."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    song = document["songs"][index]
    song["lyrics"] = LiteralScalarString(drafted.draft.lyrics.strip() + "\n")
    song.pop("lyrics_brief", None)
    return document


def revise_brief(title: str, lyrics: str, note: str, brief: str | None = None) -> str:
    """The ask for a rewrite: the song as it is (or, not drafted yet, its brief), and the note."""
    if not lyrics and brief:
        return f"Write the song '{title}' about: {brief}. {note}"
    return f"Rewrite the song '{title}', keeping its title, its style and what it is about. {note}\n\n{lyrics}"
