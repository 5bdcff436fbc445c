"""Params as frozen pydantic models loaded from YAML; errors name the file, the field and the fix."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ParamsError
from .lyrics import Lyrics, parse_lyrics
from .music import Key
from .paths import slugify
from .tags import normalize_tags

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
}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EngineSpec(Frozen):
    """An engine by registry name, and its own params (validated by that engine's Params model)."""

    name: str = "sketch"
    params: dict[str, Any] = Field(default_factory=dict)

    def resolve(self):
        """(engine, validated params); ParamsError naming the bad field otherwise."""
        from .engine.registry import get_engine

        engine = get_engine(self.name)
        try:
            return engine, engine.Params.model_validate(self.params)
        except ValidationError as error:
            raise _from_validation(error, prefix="engine.params") from None

    def for_language(self, language: str) -> "EngineSpec":
        """The params of this engine for a song in `language`: its Params.for_language where it has one (YuE
        picks its stage-1 checkpoint by the language, and refuses one it has none for); unchanged otherwise."""
        from .engine.registry import available_engines, get_engine

        if self.name not in available_engines():
            return self  # resolve() names the unknown engine
        adapt = getattr(get_engine(self.name).Params, "for_language", None)
        return self if adapt is None else self.model_copy(update={"params": adapt(self.params, language)})


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
    genre: list[str] = Field(default_factory=lambda: ["pop"])
    mood: list[str] = Field(default_factory=list)
    instrument: list[str] = Field(default_factory=list)
    voice: list[str] = Field(default_factory=lambda: ["female"])
    language: Literal["en", "zh", "ja", "ko", "it"] = "en"
    bpm: float = Field(110.0, ge=40, le=240)
    key: str = "C major"
    seed: int = Field(0, ge=0)
    duration_s: float = Field(45.0, ge=10, le=600)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    mix: MixSpec = Field(default_factory=MixSpec)

    @field_validator("lyrics")
    @classmethod
    def _lyrics_parse(cls, text: str) -> str:
        parse_lyrics(text)  # raises ParamsError with the problem and the fix
        return text.strip() + "\n"

    @field_validator("key")
    @classmethod
    def _key_parse(cls, text: str) -> str:
        return Key.parse(text).name

    @field_validator("genre", "mood", "instrument", "voice")
    @classmethod
    def _tags_known(cls, tags: list[str], info) -> list[str]:
        return normalize_tags(info.field_name, tags)

    @field_validator("engine")
    @classmethod
    def _engine_for_language(cls, engine: EngineSpec, info) -> EngineSpec:
        if "language" not in info.data:  # the language is invalid, and reported as such
            return engine
        return engine.for_language(info.data["language"])  # its ParamsError names the field, as the lyrics' do

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


def load_album(path: Path, lenient_songs: bool = False) -> AlbumSpec:
    """Load an album (or a single-song) YAML file; every error names the file, field and fix.

    lenient_songs: a song whose only problem is its lyrics (missing, unparsable, a missing
    lyrics_file) goes to `rejected` with its reason instead of failing the album, so a run
    can make the other songs and report that one as failed. Every other error still raises.
    """
    path = Path(path)
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError("(file)", "no such file", "check the path to the params file", source) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ParamsError(where, f"not valid YAML ({getattr(error, 'problem', error)})", "fix the YAML syntax", source) from None
    if not isinstance(raw, dict):
        raise ParamsError("(file)", "the file is not a mapping of fields", "start with 'title:' and 'songs:'", source)
    if "songs" not in raw:  # a single song file: an album of one
        raw = {"title": raw.get("title", path.stem), "master": raw.pop("master", {}),
               "measure": raw.pop("measure", {}), "songs": [raw]}
    return album_from_dict(raw, base_dir=path.parent, source=source, lenient_songs=lenient_songs)


def album_from_dict(raw: dict[str, Any], base_dir: Path = Path("."), source: str = "<album>",
                    lenient_songs: bool = False) -> AlbumSpec:
    """Validate an album mapping: `defaults` merge into each song, files resolve from base_dir."""
    raw = copy.deepcopy(raw)
    defaults = raw.pop("defaults", None) or {}
    songs_raw = raw.pop("songs", None)
    if not isinstance(songs_raw, list) or not songs_raw:
        raise ParamsError("songs", "missing or empty", FIXES["songs"], source)
    if "rejected" in raw:
        raise ParamsError("rejected", "is set by songforge, not by the params file", "remove the field", source)
    songs, rejected = [], []
    for i, song_raw in enumerate(songs_raw):
        try:
            songs.append(_song(i, _merge(defaults, song_raw), base_dir, source))
        except _LyricsProblem as problem:
            if not lenient_songs:
                raise problem.error from None
            rejected.append(RejectedSong(index=i, title=problem.title, reason=str(problem.error)))
    if not songs:  # every song rejected: nothing to make
        raise ParamsError("songs", f"no song has usable lyrics (first: {rejected[0].reason})", FIXES["lyrics"], source)
    _check_unique_titles(songs, source)
    if isinstance(raw.get("master"), dict) and raw["master"].get("reference"):
        raw["master"]["reference"] = _resolve(base_dir, raw["master"]["reference"])
    try:
        return AlbumSpec.model_validate({**raw, "songs": songs, "rejected": rejected})
    except ValidationError as error:
        raise _from_validation(error, source=source) from None


class _LyricsProblem(Exception):
    """A song's lyrics are unusable: fatal for a strict load, that song's own failure for a lenient one."""

    def __init__(self, error: ParamsError, raw: dict):
        self.error = error
        self.title = str(raw.get("title") or error.field.split(".")[0])


def _song(index: int, raw: Any, base_dir: Path, source: str) -> SongSpec:
    prefix = f"songs[{index}]"
    if not isinstance(raw, dict):
        raise ParamsError(prefix, "a song must be a mapping of fields", "give at least 'title' and 'lyrics'", source)
    if "lyrics_file" in raw:
        lyrics_path = _resolve(base_dir, raw.pop("lyrics_file"))
        if not lyrics_path.is_file():
            raise _LyricsProblem(ParamsError(f"{prefix}.lyrics_file", f"'{lyrics_path}' does not exist",
                                             FIXES["lyrics"], source), raw)
        raw["lyrics"] = lyrics_path.read_text(encoding="utf-8")
    try:
        song = SongSpec.model_validate(raw)
        song.engine.resolve()
        return song
    except ParamsError as error:  # raised by a validator itself, e.g. the lyrics parser
        if error.field == "lyrics":
            raise _LyricsProblem(error.located(source, prefix), raw) from None
        raise error.located(source, prefix) from None
    except ValidationError as error:
        located = _from_validation(error, source=source, prefix=prefix)
        if all(problem["loc"][:1] == ("lyrics",) for problem in error.errors()):
            raise _LyricsProblem(located, raw) from None
        raise located from None


def _from_validation(error: ValidationError, source: str | None = None, prefix: str = "") -> ParamsError:
    """The first pydantic error as a ParamsError with a field path and a fix."""
    first = error.errors()[0]
    loc = [f"[{part}]" if isinstance(part, int) else str(part) for part in first["loc"]]
    field = ".".join(loc).replace(".[", "[")
    name = next((str(p) for p in reversed(first["loc"]) if isinstance(p, str)), field)
    problem = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        problem = "is required"
    elif "input" in first and first["type"] != "extra_forbidden":
        problem += f" (got {first['input']!r})"
    fix = FIXES.get(name, "remove the field" if first["type"] == "extra_forbidden" else "correct the value")
    return ParamsError(f"{prefix}.{field}" if prefix else field, problem, fix, source)


def _merge(base: dict, override: dict) -> dict:
    if not isinstance(override, dict):
        return override
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(merged.get(key), dict) and isinstance(value, dict) else value
    return merged


def _resolve(base_dir: Path, value: str | Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path)


def _check_unique_titles(songs: list[SongSpec], source: str) -> None:
    seen: dict[str, int] = {}
    for index, song in enumerate(songs):
        if song.slug in seen:
            raise ParamsError(f"songs[{index}].title", f"'{song.title}' names the same folder as songs[{seen[song.slug]}]",
                              "give each song a distinct title", source)
        seen[song.slug] = index
