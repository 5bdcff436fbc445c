"""Reading a params file into an AlbumSpec: every problem of the file at once, one line each.

Every field of every song, the album's own fields and its input files (songforge.inputs) are checked, and
a ParamsError lists each problem with its file, field and fix. Reading is bounded (songforge.params_file),
and a run started through a deployment passes `roots`: every path the file names must lie inside them
(songforge.confine). The models themselves, and what each field accepts, are songforge.params'.
"""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .confine import OutsideRoots, Roots, confine
from .errors import ParamsError
from .inputs import InputWarning, engine_input_problems, reference_problems
from .lyricist_params import LYRICIST_FILE, load_lyricist
from .params import (FIXES, MAX_BPM, MAX_DURATION_S, AlbumSpec, EngineSpec, MasterSpec, RejectedSong, SongSpec,
                     engine_params, engine_with_take_engines)
from .plan import select_problems
from .params_file import clip, deep_merge, excerpt, read_text_file, read_yaml_file, resolve_path
from .problems import validation_problems
from .tags import normalize_tags
from .takes import engine_songs


def load_album(path: Path, lenient_songs: bool = False, roots: Roots = None) -> AlbumSpec:
    """Load an album (or a single-song) YAML file; ParamsError listing every problem (file, field, fix) otherwise.

    lenient_songs: a song whose only problems are its lyrics (missing, unparsable, too long for any
    song, a missing lyrics_file) goes to `rejected` with its reason instead of failing the album, so
    a run can make the other songs and report that one as failed. Every other problem still raises.
    roots: for runs started through a deployment, the folders every path must lie in (songforge.confine).
    Input files that work but may disappoint (a mono reference) give an InputWarning.
    """
    path = Path(path)
    confine(path, roots, "(file)", str(path))
    raw = read_yaml_file(path, "params", "'title:' and 'songs:'")
    if "songs" not in raw:  # a single song file: an album of one
        raw = {"title": raw.get("title", path.stem), "master": raw.pop("master", {}),
               "measure": raw.pop("measure", {}), "songs": [raw]}
    return album_from_dict(raw, base_dir=path.parent, source=str(path), lenient_songs=lenient_songs, roots=roots)


def album_from_dict(raw: dict[str, Any], base_dir: Path = Path("."), source: str = "<album>",
                    lenient_songs: bool = False, roots: Roots = None) -> AlbumSpec:
    """Validate an album mapping: `defaults` merge into each song, files resolve from base_dir; every problem
    of the album, its songs and its input files is reported in one ParamsError."""
    raw, problems = copy.deepcopy(raw), []
    defaults = raw.pop("defaults", None) or {}
    if not isinstance(defaults, dict):
        problems.append(ParamsError("defaults", f"is a {type(defaults).__name__}, not a mapping", FIXES["defaults"]))
        defaults = {}
    songs_raw = raw.pop("songs", None)
    if not isinstance(songs_raw, list) or not songs_raw:
        problems.append(ParamsError("songs", "missing or empty", FIXES["songs"]))
        songs_raw = []
    if "rejected" in raw:
        problems.append(ParamsError("rejected", "is set by songforge, not by the params file", "remove the field"))
    songs, rejected = _songs(songs_raw, defaults, (base_dir, source, roots), lenient_songs, problems)
    if songs_raw and not songs and not problems:  # every song rejected: nothing to make
        problems.append(ParamsError("songs", f"no song has usable lyrics (first: {rejected[0].reason})",
                                    FIXES["lyrics"]))
    notes = _master(raw, base_dir, roots, problems)
    checked = ("songs", "master") if isinstance(raw.get("master"), dict) else ("songs",)  # their problems are in
    try:
        album = AlbumSpec.model_validate({**raw, "songs": [song for _, song in songs], "rejected": rejected})
    except ValidationError as error:
        problems += [p for p in validation_problems(error, FIXES) if not p.field.startswith(checked)]
    else:
        problems += select_problems(album, [index for index, _ in songs])  # a rule over a metric no step makes
    if problems:
        raise ParamsError.all_of([problem.located(source) if problem.source is None else problem
                                  for problem in problems])
    for note in notes:
        warnings.warn(note, InputWarning, stacklevel=3)
    return album


def _songs(songs_raw: list, defaults: dict, where: tuple[Path, str, Roots], lenient: bool,
           problems: list[ParamsError]) -> tuple[list[tuple[int, SongSpec]], list[RejectedSong]]:
    """(index, song) of each valid song and the songs set aside for their lyrics; other problems into `problems`.
    `where`: the file's folder, its name, and the roots its paths must lie in."""
    songs, rejected = [], []
    for index, song_raw in enumerate(songs_raw):
        try:
            songs.append((index, _song(index, deep_merge(_engines_of(defaults, song_raw), song_raw), *where)))
        except _SongProblems as bad:
            if lenient and bad.lyrics_only:
                reason = str(ParamsError.all_of(bad.problems))
                rejected.append(RejectedSong(index=index, title=bad.title, reason=reason))
            else:
                problems += bad.problems
    seen: dict[str, int] = {}
    for index, song in songs:
        if song.slug in seen:
            problems.append(ParamsError(f"songs[{index}].title", f"{excerpt(song.title)} names the same folder as "
                                        f"songs[{seen[song.slug]}]", "give each song a distinct title"))
        seen.setdefault(song.slug, index)
    return songs, rejected


def _master(raw: dict, base_dir: Path, roots: Roots, problems: list[ParamsError]) -> list[str]:
    """Check a `master:` mapping (its reference resolved in `raw`, confined, measured); warnings back."""
    master_raw = raw.get("master")
    if not isinstance(master_raw, dict):
        return []  # absent, or not a mapping (AlbumSpec's validation says so)
    if isinstance(master_raw.get("reference"), (str, Path)):
        master_raw["reference"] = resolve_path(base_dir, master_raw["reference"])
        try:
            confine(master_raw["reference"], roots, "master.reference")
        except OutsideRoots as error:
            problems.append(error)
            master_raw["reference"] = None  # not looked at any further
    try:
        master = MasterSpec.model_validate(master_raw)
    except ValidationError as error:
        problems += validation_problems(error, FIXES, prefix="master")
        return []
    if master.reference is None:
        return []
    found, notes = reference_problems(master.reference, "master.reference", master.allow_poor_reference)
    problems += found
    return notes


def _engines_of(defaults: dict, song_raw: Any) -> dict:
    """The defaults a song merges: a song's own `engine:` or `take_engines:` replaces the defaults' other one."""
    if not isinstance(song_raw, dict):
        return defaults
    mine = {"engine", "take_engines"} & set(song_raw)
    return {k: v for k, v in defaults.items() if not (mine and k in {"engine", "take_engines"} - mine)}


class _SongProblems(Exception):
    """Every problem of one song (located under songs[i]); lyrics_only: all of them are its lyrics'."""

    def __init__(self, problems: list[ParamsError], title: str, lyrics_only: bool):
        self.problems, self.title, self.lyrics_only = problems, title, lyrics_only


def _song(index: int, raw: Any, base_dir: Path, source: str, roots: Roots) -> SongSpec:
    """One song; _SongProblems with every problem of its fields, engine params, lyrics and input files."""
    prefix = f"songs[{index}]"
    if not isinstance(raw, dict):
        raise _SongProblems([ParamsError(prefix, "a song must be a mapping of fields",
                                         "give at least 'title' and 'lyrics'", source)], prefix, False)
    problems: list[ParamsError] = []  # fields relative to the song
    if "lyrics_by" in raw:
        problems.append(ParamsError("lyrics_by", "is set by songforge, not by the params file", "remove the field"))
    if "lyrics_file" in raw:
        try:
            raw["lyrics"] = _read_lyrics(raw.pop("lyrics_file"), base_dir, roots)
        except ParamsError as error:
            problems.append(error)
    if raw.get("lyrics_brief") and "lyricist" not in raw and LYRICIST_FILE.is_file():  # the project's lyricist
        try:
            raw["lyricist"] = load_lyricist(LYRICIST_FILE, {})
        except ParamsError as error:  # said as the song's lyricist, read from that file
            problems += [ParamsError("lyricist", f"({LYRICIST_FILE}) {one.field}: {one.problem}", one.fix)
                         for one in error.problems]
    unread = bool(problems)  # a lyrics_file that could not be read: no 'lyrics is required' on top
    if raw.get("take_engines") and "engine" in raw:  # SongSpec refuses it too, under `engine`, filtered below
        problems.append(engine_with_take_engines())
    before = len(problems)
    engines = _take_engines(raw["take_engines"], roots, problems) if raw.get("take_engines") else \
        [_engine(raw.get("engine"), roots, problems)]
    engine = None if None in engines else engines[0]
    # the engines' problems come from _engine (each take engine's too); a failed lyrics_file's, above
    reported = ("engine", "take_engines") if len(problems) > before else ("engine", "take_engines[", "take_engines.")
    song = None
    try:
        song = SongSpec.model_validate(raw)
    except ValidationError as error:
        problems += [p for p in validation_problems(error, FIXES) if not p.field.startswith(reported)
                     and not (p.field == "lyrics" and unread)]
    # A lyrics_brief's draft is fitted when it is drafted.
    if song is not None and engine is not None and None not in engines and song.lyrics:
        found = [problem for each in engine_songs(song) for problem in lyrics_fit_problems(each)]
        problems += list({str(problem): problem for problem in found}.values())  # each problem once
    if engine is None:  # the song's tags were not checked against its engine's vocabulary: do it here
        problems += _tag_problems(raw)
    if problems:
        lyrics_only = all(p.field.startswith("lyrics") and not isinstance(p, OutsideRoots) for p in problems)
        title = clip(str(raw.get("title") or prefix), 120)
        raise _SongProblems([p.located(source, prefix) for p in problems], title, lyrics_only)
    return song


def _engine(raw: Any, roots: Roots, problems: list[ParamsError]) -> EngineSpec | None:
    """A song's `engine:`, its input files checked; None (every problem added) when invalid."""
    if not isinstance(raw, (dict, type(None))):
        problems.append(ParamsError("engine", f"is a {type(raw).__name__}, not a mapping",
                                    "write e.g. 'engine: {name: sketch, params: {}}'"))
        return None
    raw = raw or {}
    try:
        spec = EngineSpec(name=raw.get("name", "sketch"), params=engine_params(raw.get("name", "sketch"),
                                                                               raw.get("params")))
        EngineSpec.model_validate(raw)  # any other field of `engine:` is reported too
    except ValidationError as error:
        problems += validation_problems(error, FIXES, prefix="engine")
        return None
    except ParamsError as error:
        problems.append(error)
        return None
    problems += engine_input_problems(spec.params, roots)
    return spec


def _take_engines(raw: Any, roots: Roots, problems: list[ParamsError]) -> list[EngineSpec | None]:
    """A song's `take_engines:`, each checked as `engine:` is (its problems under take_engines[i])."""
    if not isinstance(raw, list):
        problems.append(ParamsError("take_engines", f"is a {type(raw).__name__}, not a list", FIXES["take_engines"]))
        return [None]
    engines = []
    for n, item in enumerate(raw):
        found: list[ParamsError] = []
        engines.append(_engine(item, roots, found))
        problems += [ParamsError(f"take_engines[{n}].{p.field.removeprefix('engine').lstrip('.')}".rstrip("."),
                                 p.problem, p.fix) for p in found]
    return engines


def _tag_problems(raw: dict) -> list[ParamsError]:
    """The tag problems of a song whose engine params are invalid, if its engine (by name) reads YuE's tags."""
    from .registry import available_engines, get_engine

    name = (raw.get("engine") or {}).get("name", "sketch") if isinstance(raw.get("engine"), (dict, type(None))) else None
    if name not in available_engines() or getattr(get_engine(name), "tag_vocabulary", None) != "yue":
        return []
    problems = []
    for field in ("genre", "mood", "instrument", "voice"):
        tags = raw.get(field)
        tags = [tags] if isinstance(tags, str) else tags
        if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
            try:
                normalize_tags(field, tags)
            except ParamsError as error:
                problems.append(error)
    return problems


def lyrics_fit_problems(song: SongSpec) -> list[ParamsError]:
    """Lyrics its engine could not fit into the longest song, by the engine's own count (its `min_duration_s`,
    which generate's duration check uses too); fields relative to the song."""
    shortest_s = getattr(song.engine.engine, "min_duration_s", lambda song, params: 0.0)(song, song.engine.params)
    if shortest_s <= MAX_DURATION_S:
        return []
    bpm = math.ceil(song.bpm * shortest_s / MAX_DURATION_S)  # the vocal's length goes as 1 / bpm
    faster = f", raise bpm to {bpm}" if bpm <= MAX_BPM else ""
    return [ParamsError("lyrics", f"are too long for any song: at {song.bpm:g} bpm they need duration_s "
                        f"{math.ceil(shortest_s)} or more, and a song lasts at most {MAX_DURATION_S:.0f} s",
                        f"cut them to about {math.floor(100 * MAX_DURATION_S / shortest_s)}% of their length{faster}, "
                        "or split them into several songs")]


def _read_lyrics(value: Any, base_dir: Path, roots: Roots) -> str:
    if not isinstance(value, (str, Path)):
        raise ParamsError("lyrics_file", f"{excerpt(value)} is not a path", FIXES["lyrics_file"])
    path = resolve_path(base_dir, value)
    confine(path, roots, "lyrics_file")
    return read_text_file(path, "lyrics_file", None, FIXES["lyrics"])

