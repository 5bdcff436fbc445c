"""Params as frozen pydantic models loaded from YAML; errors name the file, the field and the fix.

A file's problems are reported all at once: every field of every song, the album's own fields and
its input files (songforge.inputs), one line each. Reading is bounded (songforge.params_file), and a
run started through a deployment passes `roots`: every path the file names must lie inside them
(songforge.confine).
"""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, WithJsonSchema, field_validator,
                      model_validator)

from .confine import OutsideRoots, Roots, confine
from .engine.base import EngineParams
from .errors import ParamsError
from .inputs import InputWarning, engine_file_fields, engine_input_problems, reference_problems
from .lyrics import Lyrics, parse_lyrics
from .music import Key
from .paths import slugify
from .params_file import clip, excerpt, read_text_file, read_yaml_file, resolve_path
from .problems import carried, validation_problems
from .tags import normalize_tags

MAX_DURATION_S = 600.0  # the longest song; lyrics that need more are refused at load
MAX_BPM = 240.0
MAX_TAG_CHARS = 60  # longer than any tag in YuE's vocabulary
LANGUAGES = ("en", "zh", "ja", "ko", "it")

# Field name -> how to fix a bad value; pydantic says what is wrong, this says what to do.
FIXES = {
    "title": "give a non-empty title of at most 120 characters",
    "lyrics": "give the lyrics inline ('lyrics: |') or as a file ('lyrics_file: path.txt')",
    "bpm": "set a tempo between 40 and 240 beats per minute, e.g. 'bpm: 120'",
    "key": "name a key like 'A minor', 'F# major' or 'Bb'",
    "seed": "use a whole number >= 0",
    "duration_s": "set a target length between 10 and 600 seconds",
    "language": "use one of en, zh, ja, ko or it (Italian: the sketch engine only; YuE sings en, zh, ja, ko)",
    "target_lufs": "use an integrated loudness between -30 and -5 LUFS, e.g. -14",
    "true_peak_dbtp": "use a ceiling between -6 and 0 dBTP, e.g. -1",
    "reference": "point to an existing WAV/FLAC/MP3 file (relative to the params file)",
    "concurrency": "use a whole number of songs to run at once, 1 to 16",
    "songs": "list at least one song under 'songs:'",
    "commercial": "use true if the songs are for commercial use, else false",
    "licences_checked": "list licence ids, e.g. [xcodec_mini_infer]",
    "lyrics_file": "give the path of a UTF-8 text file, relative to the params file",
    "allow_poor_reference": "use true to master to a short, low-rate or band-limited reference anyway, else false",
    "defaults": "write the fields every song shares as a mapping, e.g. 'defaults: {bpm: 100}'",
    **{tag: f"list {tag} tags from songforge/data/top_200_tags.json, e.g. '{tag}: [{example}]'"
       for tag, example in [("genre", "pop"), ("mood", "uplifting"), ("instrument", "piano"), ("voice", "female")]},
}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EngineSpec(Frozen):
    """An engine by registry name, and its own params, validated by that engine's Params model and carried typed."""

    name: str = "sketch"
    # In a JSON schema (a deployment's parameters) the params are an object: which keys depends on the engine.
    params: Annotated[SerializeAsAny[EngineParams], WithJsonSchema({"type": "object"})] = Field(
        default_factory=EngineParams)

    @model_validator(mode="before")
    @classmethod
    def _typed(cls, data: Any) -> Any:
        if not isinstance(data, dict) or isinstance(data.get("params"), EngineParams):
            return data
        name = data.get("name", "sketch")
        return {**data, "params": carried(lambda: engine_params(name, data.get("params")))}

    @property
    def engine(self):
        """The engine instance (songforge.registry)."""
        from .registry import get_engine

        return get_engine(self.name)

    def with_params(self, changes: dict[str, Any]) -> "EngineSpec":
        """The same engine with some params changed, validated again (ParamsError naming every bad one)."""
        return EngineSpec(name=self.name, params=engine_params(self.name, {**self.params.model_dump(), **changes}))


def engine_params(name: str, raw: Any) -> EngineParams:
    """`raw` validated by the Params of engine `name`; ParamsError with every problem (under engine.params) otherwise."""
    from .registry import get_engine

    engine = get_engine(name)
    try:
        return engine.Params.model_validate({} if raw is None else raw)
    except ValidationError as error:
        fixes = {field: f"give {field} a value the '{name}' engine accepts ({info.description})"
                 for field, info in engine.Params.model_fields.items() if info.description}
        raise ParamsError.all_of(validation_problems(error, fixes, prefix="engine.params")) from None


def _for_language(engine: Any, language: str) -> Any:
    """A song's raw `engine:` told the song's language, where its engine's Params want it (YuE picks its stage-1
    checkpoint by it, and refuses one it has none for)."""
    from .registry import available_engines, get_engine

    if not isinstance(engine, dict) or engine.get("name", "sketch") not in available_engines():
        return engine  # invalid: EngineSpec's validation says why
    adapt = getattr(get_engine(engine.get("name", "sketch")).Params, "for_language", None)
    params = engine.get("params")
    if adapt is None or isinstance(params, EngineParams) or not isinstance(params, (dict, type(None))):
        return engine
    return {**engine, "params": adapt(params or {}, language)}


class MixSpec(Frozen):
    """Per-stem gains, vocal processing and width, applied by songforge.audio.mix."""

    vocals_gain_db: float = Field(0.0, ge=-24, le=12)
    instrumental_gain_db: float = Field(-1.5, ge=-24, le=12)
    vocal_highpass_hz: float = Field(100.0, ge=20, le=400)
    vocal_compressor_ratio: float = Field(3.0, ge=1, le=20)
    vocal_compressor_threshold_db: float = Field(-20.0, ge=-60, le=0)
    reverb_send: float = Field(0.18, ge=0, le=1, description="vocal reverb wet level, 0..1")
    reverb_room_size: float = Field(0.45, ge=0, le=1)
    width: float = Field(1.2, ge=0, le=2, description="stereo width of the instrumental: 1 leaves it, 0 is mono")


class MasterSpec(Frozen):
    """Master to a reference track (Matchering), or to a loudness target; always true-peak limited."""

    reference: Path | None = None
    target_lufs: float = Field(-14.0, ge=-30, le=-5)
    true_peak_dbtp: float = Field(-1.0, ge=-6, le=0)
    # Checked when the album loads (songforge.inputs), not an input of the master itself: kept out of
    # dumps, so cache keys and lineage do not change with it.
    allow_poor_reference: bool = Field(False, exclude=True, description="master to a reference under 5 s, "
                                       "sampled under 32 kHz or with no content above 10 kHz anyway")

    @field_validator("reference")
    @classmethod
    def _reference_exists(cls, path: Path | None) -> Path | None:
        if path is not None and not Path(path).is_file():
            raise ValueError(f"reference track '{path}' does not exist")
        return path


class MeasureSpec(Frozen):
    pitch_model: Literal["tiny", "full"] = "tiny"


class SongSpec(Frozen):
    title: str = Field(min_length=1, max_length=120)
    lyrics: str
    language: Literal[LANGUAGES] = "en"
    engine: EngineSpec = Field(default_factory=EngineSpec)
    genre: list[str] = Field(default_factory=lambda: ["pop"])
    mood: list[str] = Field(default_factory=list)
    instrument: list[str] = Field(default_factory=list)
    voice: list[str] = Field(default_factory=lambda: ["female"])
    bpm: float = Field(110.0, ge=40, le=MAX_BPM)
    key: str = "C major"
    seed: int = Field(0, ge=0)
    duration_s: float = Field(45.0, ge=10, le=MAX_DURATION_S)
    mix: MixSpec = Field(default_factory=MixSpec)

    @model_validator(mode="before")
    @classmethod
    def _engine_for_language(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "engine" not in data or data.get("language", "en") not in LANGUAGES:
            return data  # no engine given (the default needs no language), or a bad language, reported as such
        return {**data, "engine": carried(lambda: _for_language(data["engine"], data.get("language", "en")))}

    @field_validator("lyrics")
    @classmethod
    def _lyrics_parse(cls, text: str) -> str:
        carried(lambda: parse_lyrics(text))  # the parser's ParamsError names the problem and the fix
        return text.strip() + "\n"

    @field_validator("key")
    @classmethod
    def _key_parse(cls, text: str) -> str:
        try:
            return Key.parse(text).name
        except ValueError:
            raise ValueError("is not a key") from None  # the input is quoted after it

    @field_validator("genre", "mood", "instrument", "voice", mode="before")
    @classmethod
    def _one_tag(cls, tags: Any) -> Any:
        return [tags] if isinstance(tags, str) else tags  # 'genre: pop' is a one-tag list

    @field_validator("genre", "mood", "instrument", "voice")
    @classmethod
    def _tags_known(cls, tags: list[str], info) -> list[str]:
        """Tags of an engine that reads YuE's vocabulary (sketch, yue) come from it; another engine's are free text."""
        if long := next((tag for tag in tags if len(tag) > MAX_TAG_CHARS), None):
            raise ValueError(f"a tag of {len(long)} characters is longer than any tag")
        engine = info.data.get("engine")
        if engine is None or getattr(engine.engine, "tag_vocabulary", None) != "yue":
            return tags  # an invalid engine is reported as such; an engine without a vocabulary takes any tag
        return carried(lambda: normalize_tags(info.field_name, tags))

    @property
    def sections(self) -> Lyrics:
        return parse_lyrics(self.lyrics)

    @property
    def musical_key(self) -> Key:
        return Key.parse(self.key)

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def style(self) -> str:
        """The tags as one YuE genre line: genre, instrument, mood, voice."""
        return " ".join(self.genre + self.instrument + self.mood + self.voice)


class RejectedSong(Frozen):
    """A song left out of a leniently loaded album because its lyrics are unusable: it fails alone."""

    index: int = Field(ge=0, description="its position in the album file's songs, from 0")
    title: str
    reason: str = Field(description="the ParamsError's text: file, field, problem and fix")


class AlbumSpec(Frozen):
    title: str = Field(min_length=1, max_length=120)
    artist: str = "songforge"
    concurrency: int = Field(2, ge=1, le=16)
    commercial: bool = Field(False, description="the songs are for commercial use: steps whose model licence "
                             "forbids it are refused before anything runs")
    licences_checked: list[str] = Field(default_factory=list, description="licence ids of models whose terms you "
                                        "have read and vouch for (those songforge lists as not checked)")
    master: MasterSpec = Field(default_factory=MasterSpec)
    measure: MeasureSpec = Field(default_factory=MeasureSpec)
    songs: list[SongSpec] = Field(min_length=1)
    rejected: list[RejectedSong] = Field(default_factory=list)

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def song_numbers(self) -> list[int]:
        """Each song's number (1-based position in the album file): a rejected song keeps its number."""
        skipped = {song.index for song in self.rejected}
        return [n for n in range(1, len(self.songs) + len(skipped) + 1) if n - 1 not in skipped]

    def input_files(self) -> dict[str, Path]:
        """Every file the album's stages read, by field: the master reference, each song's engine files.
        (Lyrics files were read when the album loaded: the songs hold their text.)"""
        files = {"master.reference": self.master.reference} if self.master.reference else {}
        for number, song in zip(self.song_numbers, self.songs):
            files |= {f"songs[{number - 1}].engine.params.{name}": path
                      for name, path in engine_file_fields(song.engine.params).items()}
        return files


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
            songs.append((index, _song(index, _merge(defaults, song_raw), *where)))
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
    if "lyrics_file" in raw:
        try:
            raw["lyrics"] = _read_lyrics(raw.pop("lyrics_file"), base_dir, roots)
        except ParamsError as error:
            problems.append(error)
    unread = bool(problems)  # a lyrics_file that could not be read: no 'lyrics is required' on top
    engine = _engine(raw.get("engine"), roots, problems)
    song = None
    try:
        song = SongSpec.model_validate(raw)
    except ValidationError as error:  # the engine's problems come from _engine; a failed lyrics_file's, above
        problems += [p for p in validation_problems(error, FIXES) if not p.field.startswith("engine")
                     and not (p.field == "lyrics" and unread)]
    if song is not None and engine is not None:
        problems += lyrics_fit_problems(song)
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


def _merge(base: dict, override: dict) -> dict:
    if not isinstance(override, dict):
        return override
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(merged.get(key), dict) and isinstance(value, dict) else value
    return merged
