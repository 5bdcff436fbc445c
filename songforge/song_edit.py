"""`songforge edit`: a section of a finished song made anew by its engine, as a new version beside the original.

A song folder (OUT/<album>/<nn>-<song>/) records what made it (songforge.song_folder reads it back): manifest.json
(the song's params without its lyrics, the album's master and settings, its MLflow run) and take.json (the engine's
facts; an ACE-Step take, its lyrics). An edit is that song planned again (songforge.plan) with its engine's edit step in place of the engine's own steps:
the edited take, then the rest of the song's chain (separate, mix, master, measure, ...) on it, into
SONG/edits/NN-<from>-<to>/ (NN-extend-<s>/ for an extension), itself a song folder. The original is only read.

An engine that can edit has an `editor` (Editor: its edit step, and how a request becomes that step's params);
a song of another engine is refused naming the engines that can. Pure of orchestration: flows/edit.py runs it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field, ValidationError

from .artifacts import file_sha256
from .errors import ParamsError, SongforgeError
from .lyrics import parse_lyrics
from .params import MAX_DURATION_S, AlbumSpec, Frozen, SongSpec
from .paths import json_text, write_new
from .plan import SongPlan, plan_song
from .problems import validation_problems
from .song_folder import SongFolder, read_song_folder
from .step import Step

EDITS = "edits"  # a song's edits, each a folder of its own under it
REQUEST = "edit.json"  # what an edit folder was made for: the same edit again reuses the folder (and the cache)
OPTIONS = {"start_s": "--from", "end_s": "--to", "extend_s": "--extend", "seed": "--seed", "lyrics": "--lyrics",
           "duration_s": "--to"}  # a request's fields (and the edited song's length) as the command's options


class EditRequest(Frozen):
    """The edit asked for: the time range made anew (an end past the song's end extends it), the seed of the new
    audio, and the lyrics ACE-Step is given for it (None: the song's own)."""

    start_s: float = Field(ge=0)
    end_s: float
    extend_s: float | None = None
    seed: int = Field(ge=0)
    lyrics: str | None = None

    @property
    def label(self) -> str:
        """The edit folder's name after its number: '62-78', or 'extend-20'."""
        return f"extend-{self.extend_s:g}" if self.extend_s is not None else f"{self.start_s:g}-{self.end_s:g}"


@dataclass(frozen=True)
class Editor:
    """What an engine that can edit declares (`editor` on the engine): its edit step (listed in its `steps`, its
    params None in every song's own plan), `call(song, song_folder, request)`, the step's params for one edit
    (ParamsError for a range the take does not have, before any work), and the `source` file it edits."""

    step: Step
    call: Callable[[SongSpec, Path, EditRequest], BaseModel]
    source: Path  # the take an edit starts from, relative to the song's folder (its content: edit.json's)


@dataclass(frozen=True)
class EditJob:
    """An edit planned: the original, the request, the edited song (an album of one) and its plan and folder."""

    original: SongFolder
    request: EditRequest
    album: AlbumSpec
    plan: SongPlan
    folder: Path
    source_sha256: str  # the edited take's content when planned

    @property
    def song(self) -> SongSpec:
        return self.album.songs[0]


def editing_engines() -> list[str]:
    """The engines that can edit a take (those with an `editor`)."""
    from .registry import available_engines, get_engine

    return [name for name in available_engines() if getattr(get_engine(name), "editor", None) is not None]


def editor_of(original: SongFolder) -> Editor:
    """The song's engine's editor; SongforgeError, one paragraph naming the engine and what edit supports."""
    editor = getattr(original.song.engine.engine, "editor", None)
    if editor is None:
        name = original.song.engine.name
        raise SongforgeError(
            f"{original.folder} was made by the '{name}' engine, which cannot edit a take: `songforge edit` "
            f"repaints a time range (--from/--to, optionally with new --lyrics) or extends the song (--extend) "
            f"only for songs made by an engine that regenerates part of its own audio: "
            f"{', '.join(editing_engines())}. Fix: make the song with one of those (engine: {{name: ace-step}} "
            f"in its params file), then edit that song's folder.")
    return editor


def request_for(original: SongFolder, start_s: float | None, end_s: float | None, extend_s: float | None,
                lyrics: str | None, seed: int | None) -> EditRequest:
    """The request from the command's options: a range (--from and --to) or an extension (--extend), not both;
    lyrics as a file or the text itself; the seed by default the song's + 1 (not the original's noise)."""
    if (extend_s is None) == (start_s is None and end_s is None):
        raise ParamsError("--from/--to/--extend", "give either a range (--from and --to) or --extend, not both "
                          "nor neither", "e.g. --from 62 --to 78, or --extend 20")
    for option, value in (("--from", start_s), ("--to", end_s), ("--extend", extend_s)):
        if value is not None and not math.isfinite(value):
            raise ParamsError(option, f"is {value}", "give a finite number of seconds")
    longest = longest_s(original.song)
    if extend_s is not None:
        if extend_s <= 0:
            raise ParamsError("--extend", f"is {extend_s} s", "extend by a positive number of seconds")
        start_s, end_s = original.duration_s, original.duration_s + extend_s
        if end_s > longest:
            raise ParamsError("--extend", f"makes the song {end_s:g} s long, over the {longest:g} s a song of its "
                              "engine may last", f"extend by at most {longest - original.duration_s:g} s")
    elif start_s is None or end_s is None:
        raise ParamsError("--from" if start_s is None else "--to", "is missing", "give both --from and --to (s)")
    elif end_s > longest:
        raise ParamsError("--to", f"is {end_s:g} s, past the {longest:g} s a song of its engine may last",
                          f"end the range at {longest:g} s or earlier")
    if start_s < 0:
        raise ParamsError("--from", f"is {start_s} s", "start the range at 0 s or later")
    try:
        return EditRequest(start_s=start_s, end_s=end_s, extend_s=extend_s,
                           seed=original.song.seed + 1 if seed is None else seed, lyrics=_lyrics(lyrics))
    except ValidationError as error:
        raise _as_options(error) from None


def longest_s(song: SongSpec) -> float:
    """The longest a song of `song`'s engine may last: the engine's own limit (`max_duration_s`), else a song's."""
    limit = getattr(song.engine.engine, "max_duration_s", None)
    return min(MAX_DURATION_S, limit(song.engine.params)) if limit is not None else MAX_DURATION_S


def _as_options(error: ValidationError) -> ParamsError:
    """pydantic's problems with a request or the edited song, each named by the command's option."""
    fixes = {"seed": "give a seed of 0 or more", "start_s": "start the range at 0 s or later",
             "lyrics": "give lyrics with section tags, e.g. [verse]"}
    return ParamsError.all_of([ParamsError(OPTIONS.get(one.field.split(".")[0].split("[")[0], one.field),
                                           one.problem, one.fix) for one in validation_problems(error, fixes)])


def _lyrics(given: str | None) -> str | None:
    """--lyrics: a file's text when it names one, else the text itself; checked as lyrics are."""
    if given is None:
        return None
    path = Path(given).expanduser()
    text = path.read_text(encoding="utf-8") if len(given) < 4096 and "\n" not in given and path.is_file() else given
    parse_lyrics(text, field="--lyrics")  # ParamsError naming the option and the format
    return text.strip() + "\n"


def edited_song(original: SongFolder, request: EditRequest) -> SongSpec:
    """The song as edited, validated as any song is: the request's lyrics (which must fit a song, as at load), an
    extended song's new length, one take (the dump leaves the take rule out), and no planner (an edit repaints
    the take: it never plans, so it needs no planner model)."""
    from .album_file import lyrics_fit_problems  # album_file imports the plan, as this module does: loaded late

    fields = original.song.model_dump(mode="json")
    engine = fields["engine"]
    engine["params"] = {k: v for k, v in (engine.get("params") or {}).items() if k != "planner"}
    if request.lyrics is not None:
        fields["lyrics"] = request.lyrics
    if request.end_s > original.duration_s:
        fields["duration_s"] = request.end_s
    try:
        song = SongSpec.model_validate(fields)
    except ValidationError as error:
        raise _as_options(error) from None
    if request.lyrics is not None and (problems := lyrics_fit_problems(song)):
        raise ParamsError("--lyrics", problems[0].problem, problems[0].fix)
    return song


def edit_record(request: EditRequest, source_sha256: str) -> dict[str, Any]:
    """edit.json: the request and the content of the take it edited (a changed original is another edit)."""
    return {**request.model_dump(mode="json"), "source_sha256": source_sha256}


def edit_folder(folder: Path, request: EditRequest, source_sha256: str) -> Path:
    """SONG/edits/NN-<label>/: the folder of an earlier identical request of the same take, else the next number
    (two digits, more past 99)."""
    edits = Path(folder) / EDITS
    numbered = [path for path in edits.glob("[0-9][0-9]*-*") if path.name.split("-")[0].isdigit()]
    asked = edit_record(request, source_sha256)
    for existing in sorted(numbered):
        try:
            if json.loads((existing / REQUEST).read_text(encoding="utf-8")) == asked:
                return existing
        except (OSError, ValueError):
            continue  # not an edit's folder: its number is still taken
    number = 1 + max((int(path.name.split("-")[0]) for path in numbered), default=0)
    return edits / f"{number:02d}-{request.label}"


def plan_edit(folder: Path, request: EditRequest, original: SongFolder | None = None) -> EditJob:
    """The edit's plan: the song's own plan with the engine's edit step in place of the engine's steps. Every
    error (a folder that is no song's, an engine that cannot edit, a range the take lacks) before any work."""
    original = original or read_song_folder(folder)
    editor = editor_of(original)
    song = edited_song(original, request)
    call = editor.call(song, original.folder, request)
    step = replace(editor.step, params=lambda song, album: call)
    source_sha256 = file_sha256(original.folder / editor.source)  # the call found it
    target = edit_folder(original.folder, request, source_sha256)
    title = f"{song.title}: edit {target.name}"[:120]
    album = AlbumSpec.model_validate({**original.settings, "title": title, "master": original.master, "songs": [song]})
    return EditJob(original, request, album, plan_song(song, album, engine_steps=(step,)), target, source_sha256)


def claim(job: EditJob) -> Path:
    """The edit's folder, with edit.json saying what it holds (created first and exclusively: of two edits started
    at once exactly one claims a folder; a rerun of the same edit finds its own); SongforgeError when another edit
    took the folder since this one was planned."""
    asked, path = edit_record(job.request, job.source_sha256), job.folder / REQUEST
    if write_new(path, json_text(asked)):
        return job.folder
    try:
        taken = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        taken = None
    if taken != asked:
        raise SongforgeError(f"{job.folder} holds another edit ({path.name}), started while this one was planned. "
                             "Fix: run the command again: it takes the next free number.")
    return job.folder
