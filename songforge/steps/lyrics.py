"""The lyrics step: the song's words in YuE's section format, and its style tag line."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import StageOutput, output
from ..params import Frozen
from ..paths import write_text
from ..registry import register_step
from ..step import Inputs, Progress, Step


class Words(Frozen):
    """What the words' files hold: the lyrics as sections ('[verse]\\n...'), and the tags as one line."""

    lyrics: str
    style: str


def write_lyrics(words: Words, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """lyrics.txt in YuE's section format, and style.txt with the tag line."""
    return output("lyrics", lyrics=write_text(folder / "lyrics.txt", words.lyrics),
                  style=write_text(folder / "style.txt", words.style + "\n"))


STEP = register_step(Step(
    name="lyrics", version="2", phase="words", run=write_lyrics,
    params=lambda song, album: Words(lyrics=song.sections.text, style=song.style),
    makes=("lyrics", "style"), artifacts=("lyrics",)))
