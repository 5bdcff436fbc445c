"""Params as frozen pydantic models: an album, its songs, each song's engine (its typed Params), mix, master, measure.

Each field is defined once here, with its range and the fix a bad value needs (FIXES); reading a params file
into these models, with every problem of the file at once, is songforge.album_file's job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, WithJsonSchema, field_validator,
                      model_serializer, model_validator)

from .errors import ParamsError
from .lyricist_params import LYRICIST_FIXES, LyricistParams
from .lyrics import Lyrics, parse_lyrics
from .music import Key
from .params_file import deep_merge
from .paths import slugify
from .problems import FieldProblem, carried, validation_problems
from .select import RULE_FIX, SelectRule
from .tags import normalize_tags

MAX_DURATION_S = 600.0  # the longest song; lyrics that need more are refused at load
MAX_BPM = 240.0
MAX_TAG_CHARS = 60  # longer than any tag in YuE's vocabulary
MAX_TAKES = 16  # takes of one song per round
MAX_RETAKES = 8
TAKE_FIELDS = ("takes", "select", "retakes")  # how many takes, and which to keep: no step's result depends on them
LANGUAGES = ("en", "zh", "ja", "ko", "it")

# Field name -> how to fix a bad value; pydantic says what is wrong, this says what to do.
FIXES = {
    "title": "give a non-empty title of at most 120 characters",
    "lyrics": "give the lyrics inline ('lyrics: |') or as a file ('lyrics_file: path.txt'), or a brief the "
              "lyricist drafts them from ('lyrics_brief: ...')",
    "lyrics_brief": "say in a sentence or two what the song is about, e.g. 'lyrics_brief: the last ferry leaves'",
    "lyricist": "write the lyricist's settings as a mapping, e.g. 'lyricist: {base_url: http://127.0.0.1:8080/v1, "
                "model: llama-3-8b-instruct}' (songforge.lyricist_params)",
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
    "enterprise": "use true if the songs' owner is above the revenue thresholds of community licences, else false",
    "lyrics_file": "give the path of a UTF-8 text file, relative to the params file",
    "allow_poor_reference": "use true to master to a short, low-rate or band-limited reference anyway, else false",
    "takes": f"use a whole number of takes from 1 to {MAX_TAKES}, and a rule to choose by: "
             "'takes: 2' with 'select: [min: per]'",
    "select": RULE_FIX,
    "take_engines": "list two or more engines, each as 'engine:' is written, e.g. 'take_engines: [{name: yue}, "
                    "{name: ace-step, params: {inference_steps: 8}}]' (take i uses take_engines[i mod n]), with "
                    "'select:'",
    "retakes": f"use a whole number of extra rounds from 0 to {MAX_RETAKES} (new seeds, drawn when every take is "
               "flagged), with 'takes:' above 1",
    **LYRICIST_FIXES,
    "defaults": "write the fields every song shares as a mapping, e.g. 'defaults: {bpm: 100}'",
    **{tag: f"list {tag} tags from songforge/data/top_200_tags.json, e.g. '{tag}: [{example}]'"
       for tag, example in [("genre", "pop"), ("mood", "uplifting"), ("instrument", "piano"), ("voice", "female")]},
}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EngineParams(BaseModel):
    """Base for an engine's own params (frozen, unknown keys rejected); each engine subclasses it (engine/base.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def file_fields(self) -> dict[str, Path]:
        """The params that name files (every Path-typed value set), e.g. YuE's prompt_audio."""
        return {name: value for name, value in self if isinstance(value, Path)}


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
        """The same engine with some params changed, validated again (ParamsError naming every bad one). A nested
        block is merged, not replaced: `{planner: {cfg_scale: 3}}` keeps the planner's other settings. Every field
        is carried, those a dump leaves out (a disabled planner's) included."""
        current = {name: value.model_dump() if isinstance(value, BaseModel) else value for name, value in self.params}
        return EngineSpec(name=self.name, params=engine_params(self.name, deep_merge(current, changes)))


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


def _settings(model: type[BaseModel], name: str, raw: Any) -> BaseModel:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        fixes = {field: f"give {field} a value the '{name}' step accepts ({info.description})"
                 for field, info in model.model_fields.items() if info.description}
        raise ParamsError.all_of(validation_problems(error, fixes, prefix=name)) from None


def step_settings() -> dict[str, type[BaseModel]]:
    """Step name -> the model of its settings, for every registered song step that has settings."""
    from .registry import song_steps

    return {step.name: step.settings for step in song_steps() if step.settings is not None}


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
    lyrics: str = ""  # empty only while a lyrics_brief waits for its draft (songforge.lyricist.brief)
    # Words drafted by an LLM (songforge.lyricist): the brief, the lyricist's settings, and once drafted, who wrote
    # them (lyrics_by: the provenance, never a key). Out of cache keys (the drafted lyrics are in them) and out of
    # dumps unless set, so songs with lyrics of their own keep their keys and lineage.
    lyrics_brief: str | None = Field(None, min_length=1, max_length=2000, exclude=True,
                                     description="what the lyricist drafts the song's words from")
    lyricist: LyricistParams | None = Field(None, exclude=True, description="the model drafting from lyrics_brief")
    lyrics_by: dict[str, Any] | None = Field(None, exclude=True, description="set by songforge: who drafted the words")
    language: Literal[LANGUAGES] = "en"
    engine: EngineSpec = Field(default_factory=EngineSpec)
    # Takes by several engines (songforge.takes.take_song): take i is made by take_engines[i mod n], with its seed
    # rule unchanged; `engine` is then the first of them. Excluded like the take fields (each take is a plain song
    # of its own engine, keyed as such); dumped when set (_dump), in place of `engine`.
    take_engines: tuple[EngineSpec, ...] = Field((), exclude=True, description="the engines of the song's takes, "
                                                 "in turn; the rule of `select:` keeps the best take of any")
    genre: list[str] = Field(default_factory=lambda: ["pop"])
    mood: list[str] = Field(default_factory=list)
    instrument: list[str] = Field(default_factory=list)
    voice: list[str] = Field(default_factory=lambda: ["female"])
    bpm: float = Field(110.0, ge=40, le=MAX_BPM)
    key: str = "C major"
    seed: int = Field(0, ge=0)
    duration_s: float = Field(45.0, ge=10, le=MAX_DURATION_S)
    mix: MixSpec = Field(default_factory=MixSpec)
    # Takes chosen by quality (songforge.takes): excluded from cache keys (tasks.cache skips excluded fields), and
    # from dumps unless set (_dump), so a song without takes keeps its keys and its lineage's params hash.
    takes: int = Field(1, ge=1, le=MAX_TAKES, exclude=True, description="how many takes to make, the best kept")
    select: SelectRule | None = Field(None, exclude=True, description="the rule choosing the kept take")
    retakes: int = Field(0, ge=0, le=MAX_RETAKES, exclude=True,
                         description="more rounds of takes, with new seeds, while every take is flagged")
    # A song's settings of the steps that have some (Step.settings), by step name: written in a params file as
    # a field of the step's name (`separate: {...}`), validated by that step's own model.
    steps: Annotated[dict[str, SerializeAsAny[BaseModel]], WithJsonSchema({"type": "object"})] = Field(
        default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _step_settings(cls, data: Any) -> Any:
        """Fields named after a step with settings are that step's settings (gathered under `steps`)."""
        if not isinstance(data, dict):
            return data
        named = {key for key in data if key not in cls.model_fields} & set(step_settings())
        if not named:
            return data
        steps = data.get("steps") if isinstance(data.get("steps"), dict) else {}
        return {**{k: v for k, v in data.items() if k not in named}, "steps": {**steps, **{k: data[k] for k in named}}}

    @field_validator("steps", mode="before")
    @classmethod
    def _steps_typed(cls, steps: Any) -> Any:
        if not isinstance(steps, dict):
            return steps  # pydantic says it is not a mapping
        models = step_settings()
        unknown = sorted(set(steps) - set(models))
        if unknown:
            raise ValueError(f"{', '.join(unknown)} is not a step with settings (those are: "
                             f"{', '.join(sorted(models)) or 'none'})")
        return {name: value if isinstance(value, BaseModel) else carried(lambda: _settings(models[name], name, value))
                for name, value in steps.items()}

    @model_validator(mode="before")
    @classmethod
    def _engines_of_takes(cls, data: Any) -> Any:
        """With take_engines: the song's engine is their first, and it makes one take per engine unless `takes`
        says more; `engine` given as well is refused (which one would the first take use?)."""
        if not isinstance(data, dict) or not data.get("take_engines"):
            return data
        engines = data["take_engines"]
        if not isinstance(engines, (list, tuple)):
            return data  # pydantic says it is not a list
        if "engine" in data:
            raise FieldProblem(engine_with_take_engines())
        return {**data, "engine": engines[0], "takes": data.get("takes", len(engines))}

    @model_validator(mode="before")
    @classmethod
    def _engine_for_language(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("language", "en") not in LANGUAGES:
            return data  # a bad language, reported as such
        language = data.get("language", "en")
        if isinstance(data.get("take_engines"), (list, tuple)):
            data = {**data, "take_engines": [carried(lambda: _for_language(engine, language))
                                             for engine in data["take_engines"]]}
        if "engine" not in data:
            return data  # no engine given: the default needs no language
        return {**data, "engine": carried(lambda: _for_language(data["engine"], language))}

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any, info: Any) -> dict[str, Any]:
        """Dumps carry the take fields that are set (a deployment's copy of the song keeps them); with take_engines,
        those in place of `engine` (the first of them)."""
        dumped = handler(self)
        dumped |= {name: getattr(self, name) if name != "lyricist" else self.lyricist.model_dump(mode="json")
                   for name in ("lyrics_brief", "lyricist", "lyrics_by") if getattr(self, name) is not None}
        if self.takes > 1 or self.select is not None or self.retakes:
            dumped |= {"takes": self.takes, "retakes": self.retakes,
                       "select": None if self.select is None else [{c.direction: c.metric} for c in self.select.criteria]}
        if self.take_engines:
            dumped.pop("engine", None)
            dumped["take_engines"] = [engine.model_dump(mode=info.mode) for engine in self.take_engines]
        return dumped

    @model_validator(mode="after")
    def _takes_have_a_rule(self) -> "SongSpec":
        if self.select is None and (self.takes > 1 or self.retakes):
            raise FieldProblem(ParamsError("select", f"is missing: takes: {self.takes}, retakes: {self.retakes} need a "
                                           "rule to choose the kept take by", "add e.g. 'select: [max: key_score]' "
                                           "(or 'select: [min: per, max: audiobox_pq]')"))
        return self

    @model_validator(mode="after")
    def _every_engine_has_a_take(self) -> "SongSpec":
        if len(self.take_engines) == 1:
            raise FieldProblem(ParamsError("take_engines", "names one engine", "list two or more, or write the one "
                                           "as 'engine:'"))
        if self.take_engines and self.takes < len(self.take_engines):
            raise FieldProblem(ParamsError("takes", f"is {self.takes}, but take_engines names "
                                           f"{len(self.take_engines)} engines: some would make no take",
                                           f"set takes to {len(self.take_engines)} or more (take i is made by "
                                           f"take_engines[i mod {len(self.take_engines)}]), or leave it out"))
        return self

    @model_validator(mode="after")
    def _engine_renders_duration(self) -> "SongSpec":
        """A song longer than its engine renders (an engine with `max_duration_s`) is refused here, before any run;
        with take_engines, longer than any of them renders."""
        for n, spec in enumerate(self.take_engines or (self.engine,)):
            longest = getattr(spec.engine, "max_duration_s", None)
            limit = longest(spec.params) if longest is not None else None
            if limit is not None and self.duration_s > limit:
                which = f"the '{spec.name}' engine" + (f" (take_engines[{n}])" if self.take_engines else "")
                raise FieldProblem(ParamsError("duration_s", f"is {self.duration_s:g} s, but {which} renders at "
                                               f"most {limit:g} s", f"set duration_s to {limit:g} or less, or use "
                                               "an engine that makes longer songs (sketch, yue)"))
        return self

    @model_validator(mode="after")
    def _lyrics_or_brief(self) -> "SongSpec":
        if not self.lyrics and not self.lyrics_brief:
            raise FieldProblem(ParamsError("lyrics", "is required", FIXES["lyrics"]))
        if self.lyrics and self.lyrics_brief and self.lyrics_by is None:
            raise FieldProblem(ParamsError("lyrics_brief", "is given with lyrics", "give either lyrics or a "
                                           "lyrics_brief the lyricist drafts them from, not both"))
        return self

    @field_validator("lyrics")
    @classmethod
    def _lyrics_parse(cls, text: str) -> str:
        if not text:
            return text  # none yet: a lyrics_brief (or 'is required', from _lyrics_or_brief)
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
        """Tags of an engine that reads YuE's vocabulary (sketch, yue) come from it; another engine's are free text.
        With take_engines the song keeps its tags as written (an ACE-Step take reads them as a plain ACE-Step song
        does), checked against each engine that reads the vocabulary; take_song normalises them for its takes."""
        if long := next((tag for tag in tags if len(tag) > MAX_TAG_CHARS), None):
            raise ValueError(f"a tag of {len(long)} characters is longer than any tag")
        if engines := info.data.get("take_engines"):
            for n, engine in enumerate(engines):
                if reads_yue_tags(engine):
                    carried(lambda: _tags_for_take(info.field_name, tags, n, engine.name))
            return tags
        engine = info.data.get("engine")
        if not reads_yue_tags(engine):
            return tags  # an invalid engine is reported as such; an engine without a vocabulary takes any tag
        return carried(lambda: normalize_tags(info.field_name, tags))

    @property
    def sections(self) -> Lyrics:
        if not self.lyrics:
            raise ParamsError("lyrics", f"of '{self.title}' are not drafted from its lyrics_brief yet", "make it with "
                              "`songforge album` or `songforge song`, which draft them first, or write them with "
                              "`songforge write --song BRIEF` and give them as lyrics")
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


def engine_with_take_engines() -> ParamsError:
    """A song giving both `engine` and `take_engines` (which one would the first take use?)."""
    return ParamsError("engine", "is given with take_engines", "give every take's engine under take_engines only "
                       "(the first take uses the first), or drop take_engines")


def reads_yue_tags(engine: Any) -> bool:
    """Whether an engine (EngineSpec) reads YuE's tag vocabulary (its tags are normalised to it)."""
    return engine is not None and getattr(engine.engine, "tag_vocabulary", None) == "yue"


def _tags_for_take(field: str, tags: list[str], n: int, name: str) -> list[str]:
    """The tags checked for take_engines[n], an engine reading YuE's vocabulary: its error names that engine."""
    try:
        return normalize_tags(field, tags)
    except ParamsError as error:
        raise ParamsError(error.field, f"{error.problem}, which take_engines[{n}] ('{name}') reads",
                          f"{error.fix}, or leave '{name}' out of take_engines (another engine takes free text)") \
            from None


class RejectedSong(Frozen):
    """A song left out of a leniently loaded album because its lyrics are unusable: it fails alone."""

    index: int = Field(ge=0, description="its position in the album file's songs, from 0")
    title: str
    reason: str = Field(description="the ParamsError's text: file, field, problem and fix")


ALBUM_SETTINGS = {"commercial", "licences_checked", "enterprise", "measure"}  # what a song's manifest records


def album_settings(album: "AlbumSpec") -> dict[str, Any]:
    """The album's settings that shape each song's steps (licences allowed, the measure step's pitch model), as a
    song's manifest records them: an edit of the song is made under the same."""
    return album.model_dump(mode="json", include=ALBUM_SETTINGS)


class AlbumSpec(Frozen):
    title: str = Field(min_length=1, max_length=120)
    artist: str = "songforge"
    concurrency: int = Field(2, ge=1, le=16)
    commercial: bool = Field(False, description="the songs are for commercial use: steps whose model licence "
                             "forbids it are refused before anything runs")
    licences_checked: list[str] = Field(default_factory=list, description="licence ids of models whose terms you "
                                        "have read and vouch for (those songforge lists as not checked)")
    enterprise: bool = Field(False, description="with commercial: true, the songs' owner is above the revenue "
                             "threshold of community licences (Stability AI's: US$1M a year): steps under such a "
                             "licence are refused unless its id is under licences_checked (an enterprise licence)")
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
            where = {"engine": song.engine} if not song.take_engines else \
                {f"take_engines[{n}]": spec for n, spec in enumerate(song.take_engines)}
            files |= {f"songs[{number - 1}].{field}.params.{name}": path
                      for field, spec in where.items() for name, path in spec.params.file_fields().items()}
        return files
