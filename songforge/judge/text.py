"""The text a text-audio judge (CLAP, MuQ-MuLan) holds a master against: the one a song gives, else its style tags."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from ..errors import ParamsError

JudgedText = Annotated[str | None, Field(None, min_length=1, description="the text the master is held against "
                                         "(default: the song's style tags as one line)")]


def judged_text(song: Any, given: str | None, field: str) -> str:
    """`given`, else the song's style line; ParamsError naming `field` when both are empty (nothing to judge by)."""
    text = given if given is not None else song.style
    if not text.strip():
        raise ParamsError(field, f"is not set and the song '{song.title}' has no style tags to hold the master "
                          "against", f"give the song genre, mood, instrument or voice tags, or set {field}")
    return text
