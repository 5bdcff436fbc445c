"""A benchmark's prompts as an album: a song per prompt the engine can take, and each other prompt with the reason.

A prompt is a song titled by its id, with its lyrics, language, seed and length, its style text mapped onto the
engine's tag fields (YuE's vocabulary: the longest known phrases of the text), `takes` and the selection rule,
and the settings of the metric steps that can run. Each prompt is checked alone, exactly as a params file's song
is (songforge.album_file), so one the engine cannot take (a language it has no checkpoint for, a length out of
range, no lyrics) is listed with the checker's own reason, never dropped silently.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..album_file import album_from_dict
from ..errors import ParamsError
from ..params import AlbumSpec, Frozen, SongSpec
from ..tags import FIELD_GROUPS, vocabulary
from .wildsongbench import Prompt

MAX_PHRASE_WORDS = 4  # the longest tags of YuE's vocabulary ("human female voice") have three words
VOICE_WORDS = {"vocal", "vocals", "voice", "voices", "singer", "singing"}
SELECT = [{"min": "per"}]  # the benchmark's rule: the better of the takes by PER


class Untaken(Frozen):
    """A prompt the engine cannot take, and why (the params checker's message: field, problem, fix)."""

    id: str
    reason: str


@dataclass(frozen=True)
class BenchAlbum:
    """The album of the prompts an engine can take; `untaken` the others; `notes` what the run could not honour."""

    album: AlbumSpec
    untaken: list[Untaken]
    prompt_ids: dict[str, str]  # song title -> prompt id
    notes: list[str] = field(default_factory=list)


def song_title(prompt: Prompt) -> str:
    """'wsb-007' for prompt 7: the id (zero-padded when a number, so folders sort in prompt order)."""
    return f"wsb-{prompt.id.zfill(3) if prompt.id.isdigit() else prompt.id}"


def style_tags(style: str) -> dict[str, list[str]]:
    """The tags of YuE's vocabulary found in a style text, by our field: the longest known phrase at each word,
    fields tried in FIELD_GROUPS order. E.g. 'Upbeat pop, female vocal, piano' -> genre [pop], mood [upbeat],
    instrument [piano], voice [female]; words no tag names are left out."""
    known = {field: {tag.lower() for group in groups for tag in vocabulary()[group]}
             for field, groups in FIELD_GROUPS.items()}
    words = re.findall(r"[\w&'+-]+", style.lower())
    found: dict[str, list[str]] = {field: [] for field in FIELD_GROUPS}
    start = 0
    while start < len(words):
        hit = _longest_tag(words, start, known)
        if hit is None:
            start += 1
            continue
        field, tag, length = hit
        if tag not in found[field]:
            found[field].append(tag)
        start += length
        if field == "voice" and start < len(words) and words[start] in VOICE_WORDS:
            start += 1  # 'female vocal': the voice, not a 'vocal' instrument besides
    return {field: tags for field, tags in found.items() if tags}


def _longest_tag(words: list[str], start: int, known: dict[str, set[str]]) -> tuple[str, str, int] | None:
    for length in range(min(MAX_PHRASE_WORDS, len(words) - start), 0, -1):
        phrase = " ".join(words[start:start + length])
        field = next((field for field, tags in known.items() if phrase in tags), None)
        if field is not None:
            return field, phrase, length
    return None


TEXT_JUDGES = ("clap", "mulan")  # metric steps that hold the master against a text


def song_fields(prompt: Prompt, engine: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The song a prompt asks for, as a params file would write it (checked by album_from_dict). The text judges
    hold the master against the prompt's own style text, as the published scores do, not the tags drawn from it."""
    judged = {step: {**extra[step], "text": prompt.style} for step in TEXT_JUDGES
              if step in extra and prompt.style.strip() and "text" not in extra[step]}
    song = {"title": song_title(prompt), "lyrics": prompt.lyrics, "engine": {"name": engine}, **extra, **judged,
            **style_tags(prompt.style)}
    if prompt.language:
        song["language"] = prompt.language
    if prompt.seed is not None:
        song["seed"] = prompt.seed
    if prompt.duration_s is not None:
        song["duration_s"] = prompt.duration_s
    return song


def takes_fields(takes: int, per_measured: bool) -> tuple[dict[str, Any], list[str]]:
    """`takes` and the benchmark's rule (the lower PER), where songs have takes and PER is measured; else one take,
    and a note saying why."""
    if takes <= 1:
        return {}, []
    if not per_measured:
        return {}, [f"takes: the best of {takes} is chosen by PER, which is not measured here (see above): each "
                    "prompt is made once"]
    return {"takes": takes, "select": SELECT}, []


def bench_album(prompts: Iterable[Prompt], engine: str, title: str, extra: dict[str, Any],
                concurrency: int = 2) -> BenchAlbum:
    """The album of every prompt `engine` can take (each checked alone), and the others with their reasons.
    extra: fields every song gets (takes, select, metric settings). ParamsError when the engine can take none."""
    songs, untaken, ids = [], [], {}
    for prompt in prompts:
        try:
            songs.append(_checked(prompt, engine, extra))
            ids[songs[-1]["title"]] = prompt.id
        except ParamsError as error:
            untaken.append(Untaken(id=prompt.id, reason=_reason(error)))
    if not songs:
        first = untaken[0].reason if untaken else "there are no prompts"
        raise ParamsError("prompts", f"the {engine} engine can take none of the prompts (first: {first})",
                          "check the prompts file and the engine")
    album = album_from_dict({"title": title, "concurrency": concurrency, "songs": songs}, source=title)
    return BenchAlbum(album, untaken, ids)


def _checked(prompt: Prompt, engine: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The prompt's song fields, valid for `engine` (a length fitted to its lyrics where the prompt gives none)."""
    if not prompt.lyrics.strip():
        raise ParamsError("lyrics", "the prompt has no lyrics", "a benchmark prompt needs lyrics to sing")
    song = song_fields(prompt, engine, extra)
    spec = album_from_dict({"title": "check", "songs": [song]}, source=f"prompt {prompt.id}").songs[0]
    if prompt.duration_s is None:
        song["duration_s"] = _fitted_duration(spec)
        album_from_dict({"title": "check", "songs": [song]}, source=f"prompt {prompt.id}")
    return song


def _fitted_duration(song: SongSpec) -> float:
    """The shortest length the engine sings the lyrics in, for an engine that counts one (the sketch engine); the
    song's default length otherwise (YuE's length follows its own params, not duration_s)."""
    shortest = getattr(song.engine.engine, "min_duration_s", None)
    if shortest is None:
        return song.duration_s
    return float(max(10, math.ceil(shortest(song, song.engine.params))))


def _reason(error: ParamsError) -> str:
    """The checker's message on one line, its fields named as the prompt's own ('language', not 'songs[0].language')."""
    return " ".join(str(error).replace("songs[0].", "").split())
