"""`songforge write`: an LLM drafts an album file (or one song, or rewrites one) for `songforge album` to make.

The model and its settings come from params/lyricist.yaml (or --lyricist FILE) with any option given here on
top; every song is held to the fit rules (songforge.lyricist.fit) through the repair loop, and the file is
checked by the album loader before it is written, atomically. An API key is read from the environment variable
that --api-key-env names, never from the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from songforge.errors import ParamsError, SongforgeError
from songforge.lyricist_params import LyricistParams

from .console import fail
from .options import given, options_from

SETTINGS = ("backend", "base_url", "model", "api_key_env", "revision", "temperature", "top_p", "max_tokens", "seed",
            "max_rounds", "timeout_s", "retries", "stream")


@options_from(LyricistParams, SETTINGS, unset_keeps="the lyricist file's value")
def write_command(
    brief: Optional[str] = typer.Argument(None, help="what the album is about, e.g. 'leaving a harbour town; indie "
                                          "folk; female vocal; 6 songs'"),
    out: Optional[Path] = typer.Option(None, help="the album file to write, e.g. params/albums/harbour.yaml"),
    songs: Optional[int] = typer.Option(None, min=1, help="how many songs (default: as the brief says, "
                                        "else 4)"),
    language: str = typer.Option("en", help="the songs' language: en, zh, ja, ko or it"),
    song: Optional[str] = typer.Option(None, help="one song's brief (added to --out where it exists); with "
                                       "--revise, the title of the song to rewrite"),
    revise: Optional[Path] = typer.Option(None, help="an album file whose song --song is rewritten in place"),
    note: Optional[str] = typer.Option(None, help="with --revise: what to change, e.g. 'make the chorus shorter'"),
    lyricist: Optional[Path] = typer.Option(None, help="the lyricist params file (default: params/lyricist.yaml "
                                            "where it exists)"),
    force: bool = typer.Option(False, help="overwrite --out if it exists"),
    **settings,
) -> None:
    """Draft lyrics with an LLM (a local OpenAI-compatible server, or in process) into an album file."""
    from songforge.lyricist_params import load_lyricist
    from songforge.lyricist.repair import make_chat
    from songforge.params import LANGUAGES

    from .write_run import add_song, revise_song, write_album

    try:
        if language not in LANGUAGES:
            raise ParamsError("--language", f"'{language}' is not a song language",
                              f"use one of {', '.join(LANGUAGES)}")
        if note is not None and revise is None:
            raise ParamsError("--note", "is given without --revise", "add --revise FILE --song TITLE, or drop --note")
        if songs is not None and (song is not None or revise is not None):
            raise ParamsError("--songs", "is given with --song or --revise, which make one song",
                              "drop --songs, or draft an album from a brief without --song")
        chat = make_chat(load_lyricist(lyricist, given(settings)))
        if revise is not None:
            if not song or not note:
                raise ParamsError("--revise", "needs the song's title and what to change",
                                  "add --song TITLE --note 'make the chorus shorter'")
            written = revise_song(chat, revise, song, note)
        elif out is None:
            raise ParamsError("--out", "is required", "name the album file to write, e.g. --out params/albums/x.yaml")
        elif song is not None:
            written = add_song(chat, song, out, language)
        elif not brief:
            raise ParamsError("brief", "is missing", "say what the album is about, or draft one song with --song")
        else:
            written = write_album(chat, brief, out, songs, language, force)
    except SongforgeError as error:
        fail(error)
    typer.echo(f"wrote {written}")
