"""Sweep files: which album (or songs) to remake, over which engine params, seeds and masters; takes as pure data.

A sweep file names an album or song file, then the values to try: `grid:` (every combination),
`takes:` (an explicit list, crossed with the grid), `seeds:` and `references:`. `load_sweep`
checks every key and value against the engine's Params model before anything runs, and
`expand_takes` turns them into Takes with stable, readable ids.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .confine import Roots, confine
from .errors import ParamsError
from .inputs import InputWarning, reference_problems
from .album_file import load_album, lyrics_fit_problems
from .params import FIXES, AlbumSpec, MasterSpec, MixSpec, SongSpec
from .params_file import excerpt, read_yaml_file
from .paths import inside, readable_slug, slugify
from .problems import validation_problems
from .sweep_best import parse_best, swept_metrics

MASTER_KEYS = ("reference", "target_lufs", "true_peak_dbtp")
SONG_KEYS = ("seed",)
MAX_TAKES = 256
_FILE_FIELDS = {"name", "album", "songs", "override", "grid", "takes", "seeds", "references", "best"}


class Take(BaseModel):
    """One combination of swept values; `overrides` maps a swept key to its value in this take."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    overrides: dict[str, Any] = Field(default_factory=dict)


class SweepPlan(BaseModel):
    """What the sweep flow runs: the base album (swept songs only) and its takes."""

    model_config = ConfigDict(frozen=True)

    name: str
    source: str
    album: AlbumSpec
    swept: tuple[str, ...]
    takes: tuple[Take, ...]
    best: str | None = None

    @property
    def slug(self) -> str:
        return slugify(self.name)

    def album_for(self, take: Take) -> AlbumSpec:
        """The album with the take's values applied (engine params, seed, mix, master)."""
        return apply_take(self.album, take.overrides)

    def folder(self, out_dir: Path) -> Path:
        """out/<album>/sweeps/<sweep>/"""
        return inside(out_dir, self.album.slug, "sweeps", self.slug)

    def song_folder(self, out_dir: Path, take: Take, index: int, song: SongSpec) -> Path:
        """out/<album>/sweeps/<sweep>/<take-id>/<nn>-<song>/, numbered from 1."""
        return inside(out_dir, self.album.slug, "sweeps", self.slug, take.id, f"{index:02d}-{song.slug}")


def load_sweep(path: Path, roots: Roots = None) -> SweepPlan:
    """Read and check a sweep file; every error names the file, the field and the fix, every swept value's
    problems at once. roots: for deployment runs, the folders every path must lie in (songforge.confine)."""
    path, source = Path(path), str(path)
    confine(path, roots, "(file)", source)
    raw = read_yaml_file(path, "sweep", "'album:' and 'grid:'")
    if unknown := sorted(set(raw) - _FILE_FIELDS):
        raise ParamsError(unknown[0], "is not a sweep field", f"use only: {', '.join(sorted(_FILE_FIELDS))}", source)
    if not raw.get("album"):
        raise ParamsError("album", "is required", "name the album or song file to sweep, relative to this file", source)
    album = _with_override(_subset(_album(path.parent / str(raw["album"]), roots, source), raw.get("songs"), source),
                           raw.get("override") or {}, source)
    _refuse_takes(album, source)
    axes, origins = _axes(raw, path.parent, source)
    explicit = [_checked_take(t, f"takes[{i}]", axes, path.parent, source) for i, t in enumerate(_list(raw, "takes", source))]
    count = math.prod(len(values) for values in axes.values()) * max(1, len(explicit))
    if count > MAX_TAKES:
        raise ParamsError("grid", f"{count} takes is more than {MAX_TAKES}", "narrow the grid or split the sweep", source)
    _check_values(list(_swept_values(axes, origins, explicit)), album, roots, source)
    takes = expand_takes(axes, explicit)
    if not any(take.overrides for take in takes):
        raise ParamsError("grid", "nothing to sweep", "give 'grid:', 'takes:', 'seeds:' or 'references:'", source)
    swept = tuple(dict.fromkeys(k for take in takes for k in take.overrides))
    if raw.get("best") is not None:
        parse_best(str(raw["best"]), source=source, field="best", available=swept_metrics(album))
    return SweepPlan(name=str(raw.get("name") or path.stem), source=source, album=album, swept=swept,
                     takes=tuple(takes), best=raw.get("best"))


def _refuse_takes(album: AlbumSpec, source: str) -> None:
    """A sweep makes one take per swept value: a song that asks for takes of its own would have them ignored. A song
    whose takes use several engines is named apart: 'takes: 1' is refused for it (take_engines needs a take each)."""
    if several := [song.title for song in album.songs if song.take_engines]:
        others = [song.title for song in album.songs if not song.take_engines]
        leave_out = f"leave them out with 'songs: [{', '.join(map(repr, others))}]'" if others else \
            "sweep a copy of the album whose song names one 'engine:' in place of take_engines"
        raise ParamsError("album", f"{', '.join(map(repr, several))} make takes with several engines (take_engines), "
                          "which a sweep does not compare", f"{leave_out}; compare the engines with the song's own "
                          "takes in `songforge album` (its select: rule keeps the best)", source)
    if asking := [song.title for song in album.songs if song.takes > 1 or song.retakes]:
        raise ParamsError("album", f"{', '.join(map(repr, asking))} ask for takes (takes/retakes), which a sweep "
                          "does not make", "sweep their seeds instead ('seeds: [1, 2, 3]' compares the takes side "
                          "by side and --best keeps one), or add 'override: {takes: 1, retakes: 0}'", source)


def expand_takes(grid: dict[str, list[Any]], takes: list[dict[str, Any]] = ()) -> list[Take]:
    """Every explicit take (or one empty take) crossed with every grid combination; the last grid key varies fastest."""
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    merged = [{**explicit, **combo} for explicit in (list(takes) or [{}]) for combo in combos]
    width = max(2, len(str(len(merged))))
    return [Take(id=take_id(i, o, width), label=", ".join(f"{k}={_show(v)}" for k, v in o.items()), overrides=o)
            for i, o in enumerate(merged, start=1)]


def take_id(number: int, overrides: dict[str, Any], width: int = 2) -> str:
    """'t03-temperature0.8-seed2': the number keeps ids unique, the values make them readable."""
    parts = [f"t{number:0{width}d}"] + [f"{key.split('.')[-1]}{_show(value)}" for key, value in overrides.items()]
    return re.sub(r"[^A-Za-z0-9._-]+", "", "-".join(parts))[:100].rstrip("-.")


def apply_take(album: AlbumSpec, overrides: dict[str, Any]) -> AlbumSpec:
    """A copy of `album` with a take's values: engine params, seed, `mix.*` and master fields."""
    master = {k: overrides[k] for k in MASTER_KEYS if k in overrides}
    songs = [_apply_song(song, overrides) for song in album.songs]
    return AlbumSpec.model_validate({**album.model_dump(exclude={"songs", "master"}), "songs": songs,
                                     "master": {**album.master.model_dump(), **master}})


def _apply_song(song: SongSpec, overrides: dict[str, Any]) -> SongSpec:
    engine = {k: v for k, v in overrides.items() if k not in MASTER_KEYS + SONG_KEYS and not k.startswith("mix.")}
    mix = {k.removeprefix("mix."): v for k, v in overrides.items() if k.startswith("mix.")}
    return SongSpec.model_validate({
        **song.model_dump(), **{k: overrides[k] for k in SONG_KEYS if k in overrides},
        "engine": {"name": song.engine.name, "params": {**song.engine.params.model_dump(), **engine}},
        "mix": {**song.mix.model_dump(), **mix}})


# -- reading and checking -----------------------------------------------------------------------


def _album(path: Path, roots: Roots, source: str) -> AlbumSpec:
    """The swept album; its file's every problem, each placed under 'album (<its file>)'."""
    try:
        return load_album(path, roots=roots)
    except ParamsError as error:
        raise ParamsError.all_of([ParamsError(f"album ({one.source}) {one.field}", one.problem, one.fix, source)
                                  for one in error.problems]) from None


def _list(raw: dict, field: str, source: str) -> list:
    value = raw.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise ParamsError(field, f"{excerpt(value)} is not a non-empty list", f"write e.g. '{field}: [1, 2]'", source)
    return value


def _subset(album: AlbumSpec, titles: Any, source: str) -> AlbumSpec:
    if titles is None:
        return album
    if isinstance(titles, str):
        titles = [titles]
    known = {song.title: song for song in album.songs}
    for index, title in enumerate(titles):
        if title not in known:
            raise ParamsError(f"songs[{index}]", f"{excerpt(title)} is not a song of '{album.title}'",
                              f"use one of: {', '.join(map(repr, known))}{_nearest(str(title)[:200], list(known))}",
                              source)
    return album.model_copy(update={"songs": [known[t] for t in dict.fromkeys(titles)]})


def _with_override(album: AlbumSpec, override: dict, source: str) -> AlbumSpec:
    """Song fields every take shares (e.g. a short duration_s for quick takes)."""
    if not isinstance(override, dict):
        raise ParamsError("override", "is not a mapping of song fields", "write e.g. 'override: {duration_s: 12}'", source)
    try:
        songs = [SongSpec.model_validate({**s.model_dump(), **override}) for s in album.songs]
    except ValidationError as error:
        raise ParamsError.all_of(validation_problems(error, FIXES, source, prefix="override")) from None
    if problems := [p.located(source, "override") for song in songs for p in lyrics_fit_problems(song)]:
        raise ParamsError.all_of(problems)
    return album.model_copy(update={"songs": songs})


def _axes(raw: dict, base_dir: Path, source: str) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """The grid, with `seeds:` and `references:` as two more axes (keys normalised, references resolved),
    and where in the file each axis came from."""
    grid = raw.get("grid") or {}
    if not isinstance(grid, dict):
        raise ParamsError("grid", "is not a mapping of param -> list of values", "write e.g. 'grid: {temperature: [0.7, 1.2]}'", source)
    axes: dict[str, list[Any]] = {}
    origins: dict[str, str] = {}
    entries = [(str(k), v, f"grid.{k}") for k, v in grid.items()]
    for key, values, where in entries + [("seed", raw.get("seeds"), "seeds"), ("reference", raw.get("references"), "references")]:
        if values is None:
            continue
        if not isinstance(values, list) or not values:
            raise ParamsError(where, f"{excerpt(values)} is not a non-empty list", f"write e.g. '{key}: [a, b]'", source)
        name = _key(key, where, source)
        if name in axes:
            raise ParamsError(where, f"'{name}' is swept twice", "sweep each param in one place", source)
        axes[name] = [_value(name, v, base_dir) for v in values]
        origins[name] = where
    return axes, origins


def _checked_take(take: Any, where: str, axes: dict, base_dir: Path, source: str) -> dict[str, Any]:
    if not isinstance(take, dict) or not take:
        raise ParamsError(where, f"{excerpt(take)} is not a mapping of param -> value",
                          "write e.g. '- {temperature: 0.8, seed: 2}'", source)
    keys = {str(k): _key(str(k), f"{where}.{k}", source) for k in take}
    checked = {keys[str(k)]: _value(keys[str(k)], v, base_dir) for k, v in take.items()}
    if clash := sorted(set(checked) & set(axes)):
        raise ParamsError(f"{where}.{clash[0]}", "is also a grid axis", "sweep each param in one place", source)
    return checked


def _swept_values(axes: dict[str, list], origins: dict[str, str], explicit: list[dict]):
    for key, values in axes.items():
        yield from ((f"{origins[key]}[{i}]", key, v) for i, v in enumerate(values))
    for index, take in enumerate(explicit):
        yield from ((f"takes[{index}].{key}", key, v) for key, v in take.items())


def _key(key: str, where: str, source: str) -> str:
    """A swept key as used from here on: 'engine.temperature' -> 'temperature'; 'mix.*' checked against MixSpec."""
    key = key.removeprefix("engine.")
    mix_keys = [f"mix.{name}" for name in MixSpec.model_fields]
    if key.startswith("mix.") and key not in mix_keys:
        raise ParamsError(where, f"'{key}' is not a mix setting", f"use one of: {', '.join(mix_keys)}{_nearest(key, mix_keys)}",
                          source)
    return key


def _value(key: str, value: Any, base_dir: Path) -> Any:
    """References resolve against the sweep file's folder; 'none' masters to the loudness target."""
    if key != "reference":
        return value
    if value is None or str(value).lower() == "none":
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base_dir / path


def _check_values(values: list[tuple[str, str, Any]], album: AlbumSpec, roots: Roots, source: str) -> None:
    """Every swept value checked (references as the album's master reference is); one error listing all problems."""
    problems, notes = [], []
    for where, key, value in values:
        try:
            if key == "reference" and value is not None:
                confine(value, roots, where, source)  # before anything looks at the file
            _check_value(key, value, album, where, source)
            if key == "reference" and value is not None:
                found, noted = reference_problems(value, where, album.master.allow_poor_reference, source)
                problems, notes = problems + found, notes + noted
        except ParamsError as error:
            problems.append(error)
    if problems:
        raise ParamsError.all_of(problems)
    for note in notes:
        warnings.warn(note, InputWarning, stacklevel=3)


def _check_value(key: str, value: Any, album: AlbumSpec, where: str, source: str) -> None:
    """One swept value against the model that will receive it: the engine's Params, MasterSpec, MixSpec, SongSpec."""
    try:
        if key in MASTER_KEYS:
            MasterSpec.model_validate({**album.master.model_dump(), key: value})
        elif key.startswith("mix.") or key in SONG_KEYS:
            for song in album.songs:
                _apply_song(song, {key: value})
        else:
            for song in album.songs:
                _check_engine_value(song, key, value, where, source)
    except ValidationError as error:
        first = error.errors()[0]
        got = "" if first["type"] == "missing" else f" (got {excerpt(value)})"
        raise ParamsError(where, first["msg"].removeprefix("Value error, ") + got, _fix(key), source) from None


def _check_engine_value(song: SongSpec, key: str, value: Any, where: str, source: str) -> None:
    engine = song.engine.engine
    fields = list(engine.Params.model_fields)
    if key not in fields:
        choices = fields + list(MASTER_KEYS + SONG_KEYS) + ["mix.<setting>"]
        raise ParamsError(re.sub(r"\[\d+\]$", "", where), f"'{key}' is not a param of the {engine.name} engine (song '{song.title}')",
                          f"use one of: {', '.join(choices)}{_nearest(key, choices)}", source)
    engine.Params.model_validate({**song.engine.params.model_dump(), key: value})


def _fix(key: str) -> str:
    if key == "reference":
        return "point to an existing WAV/FLAC/MP3 file (relative to the sweep file), or 'none' for the loudness target"
    if key == "seed":
        return "use whole numbers >= 0"
    return f"use values '{key}' accepts (see its description in the engine's or the album's params)"


def _nearest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word[:100], choices, n=1, cutoff=0.5)  # difflib is quadratic in length
    return f" (did you mean '{close[0]}'?)" if close else ""


def _show(value: Any) -> str:
    if isinstance(value, Path):
        return readable_slug(value.stem)  # the take id's number makes it unique
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
