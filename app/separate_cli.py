"""`songforge separate FILE`: a recording split into stems by an audio-separator model, written as float WAVs.

The model, chunk and overlap options are the separate step's own settings (SeparateSettings); --stems may
name any stem the model makes (a Demucs model: drums, bass, other, ...), and 'instrumental' where it makes
several. Nothing downloads: the model is pulled first (`songforge models pull NAME`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from songforge.errors import ParamsError, SongforgeError
from songforge.separation.settings import SeparateSettings

from .console import fail
from .options import options_from, parsed
from .yue_cli import _bar


@options_from(SeparateSettings, ("model", "chunk_s", "overlap_s"))
def separate_command(
    file: Path = typer.Argument(..., help="the recording: wav, flac, ogg or mp3"),
    stems: str = typer.Option("vocals,instrumental", help="the stems to write, comma-separated (any the model "
                              "makes; 'instrumental' is the sum of all but the vocals where it makes several)"),
    out: Optional[Path] = typer.Option(None, help="folder for FILE-NAME_STEM.wav (default: beside FILE)"),
    **settings,
) -> None:
    """Split a recording into stems with a separator model (default: the BS-Roformer; `songforge models list`)."""
    from songforge.audio.io import read_audio, write_wav
    from songforge.separation.separator import loaded, pick, separate

    try:
        chosen, asked = parsed(SeparateSettings, settings), _stems(stems)
        audio, rate = read_audio(file)
        with loaded(chosen.model) as model:
            bar, progress = _bar(f"separating {file.name}")
            with bar:
                found = separate(model, audio, rate, chosen.chunk_s, chosen.overlap_s, progress)
        folder = out if out is not None else file.parent
        for stem, separated in pick(found, asked, chosen.model).items():
            path = write_wav(folder / f"{file.stem}_{stem.replace(' ', '_')}.wav", separated, rate, "FLOAT")
            typer.echo(f"{stem}: {path}")
    except SongforgeError as error:
        fail(error)


def _stems(text: str) -> list[str]:
    asked = [stem.strip().lower() for stem in text.split(",") if stem.strip()]
    if not asked or len(set(asked)) != len(asked):
        raise ParamsError("--stems", f"'{text}' names no stem, or one twice", "list stems once each, e.g. "
                          "--stems vocals,instrumental")
    return asked
