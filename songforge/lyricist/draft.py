"""A song as the lyricist writes it (SongDraft), read from the model's reply: JSON where the server kept to the
schema, else plain text ('Title: ...', 'Genre: ...', then the tagged lyrics), and checked against the fit rules."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pydantic import BaseModel, Field, ValidationError, field_validator

from ..errors import ParamsError
from ..lyrics import parse_lyrics
from ..music import Key
from ..params import MAX_BPM
from .fit import Problem, fit_problems, fitting_duration_s, tag_problems

_FIELD_RE = re.compile(r"^\s*[*#>-]*\s*(title|genre|mood|instrument|voice|bpm|key)\s*[*]*\s*[:：]\s*(.+?)\s*$",
                       re.IGNORECASE | re.MULTILINE)
_FENCE_RE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


class SongDraft(BaseModel):
    """What the model is asked for; the JSON schema sent as `response_format` is this model's."""

    title: str = Field(min_length=1, max_length=120)
    lyrics: str = Field(min_length=1, description="sections in YuE's format: a tag line like [verse], then its lines")
    genre: list[str] = Field(min_length=1)
    mood: list[str] = Field(default_factory=list)
    instrument: list[str] = Field(default_factory=list)
    voice: list[str] = Field(min_length=1)
    bpm: float = Field(ge=40, le=MAX_BPM)
    key: str

    @field_validator("genre", "mood", "instrument", "voice", mode="before")
    @classmethod
    def _listed(cls, value):
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("key")
    @classmethod
    def _key(cls, text: str) -> str:
        return Key.parse(text).name  # ValueError: reported as a problem of the draft's key

    def tags(self) -> dict[str, list[str]]:
        return {"genre": self.genre, "mood": self.mood, "instrument": self.instrument, "voice": self.voice}


def draft_schema() -> dict:
    """The JSON schema a structured-output server keeps the reply to."""
    schema = SongDraft.model_json_schema()
    schema["additionalProperties"] = False
    return schema


@dataclass(frozen=True)
class Checked:
    """A reply read and checked: the draft (None when unreadable), its duration_s at its bpm, and every problem."""

    draft: SongDraft | None
    duration_s: float
    problems: list[Problem]


def read_reply(text: str, stand_ins: dict | None = None) -> SongDraft | list[Problem]:
    """The draft a reply holds (JSON, fenced JSON, or 'Field: value' lines and tagged lyrics), or its problems.
    stand_ins: only the reply's lyrics are read, the other fields are these (a song that has its own)."""
    raw = _json(text)
    if raw is None:
        raw = _plain(text)
    if stand_ins is not None:
        raw = {**stand_ins, "lyrics": raw.get("lyrics", "")}
    try:
        return SongDraft.model_validate(raw)
    except ValidationError as error:
        return [Problem(".".join(map(str, item["loc"])) or "reply", "format", item["msg"]) for item in error.errors()]


def check(text: str, language: str, bpm: float | None = None, duration_s: float | None = None,
          words_only: bool = False) -> Checked:
    """The reply read and held to every rule; a song's own bpm and duration_s, when set, win over the draft's.
    words_only: the song has its own title, tags and key (a lyrics_brief): only the reply's lyrics count."""
    stand_ins = {"title": "-", "genre": ["pop"], "voice": ["female"], "bpm": bpm or 100, "key": "C"}
    found = read_reply(text, stand_ins if words_only else None)
    if not isinstance(found, SongDraft):
        return Checked(None, duration_s or 0.0, found)
    draft = found if bpm is None else found.model_copy(update={"bpm": bpm})
    problems = [] if words_only else tag_problems(draft.tags())
    if duration_s is None:
        try:
            duration_s = fitting_duration_s(parse_lyrics(draft.lyrics), language, draft.bpm)
        except ParamsError:  # unparsable lyrics: fit_problems names the format problem before any timing
            duration_s = 0.0
    return Checked(draft, duration_s, fit_problems(draft.lyrics, language, draft.bpm, duration_s) + problems)


def _json(text: str) -> dict | None:
    fenced = _FENCE_RE.search(text)
    candidate = fenced.group(1) if fenced else text[text.find("{"): text.rfind("}") + 1]
    try:
        value = json.loads(candidate)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _plain(text: str) -> dict:
    """'Title: x' style fields anywhere before the lyrics, and the lyrics from the first section tag on."""
    first_tag = re.search(r"^\s*\[\w+\]\s*$", text, re.MULTILINE)
    head, lyrics = (text[: first_tag.start()], text[first_tag.start():]) if first_tag else (text, "")
    fields = {name.lower(): value.strip("*` ") for name, value in _FIELD_RE.findall(head)}
    if "bpm" in fields:
        number = re.search(r"\d+(\.\d+)?", fields["bpm"])
        fields["bpm"] = float(number.group()) if number else fields["bpm"]
    lyrics = re.sub(r"```\w*", "", lyrics).strip()
    return {**fields, "lyrics": lyrics} if lyrics else fields
