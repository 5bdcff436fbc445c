"""Experiment overrides (the root params.yaml): engine params that win over every album file.

DVC experiments change params.yaml (`dvc exp run -S engine.temperature=0.8`); the album
stage passes it as `songforge album FILE --overrides params.yaml`. Precedence, lowest
first: the engine's defaults < the album's `defaults.engine.params` < a song's own
`engine.params` < a non-null value under `engine:` in the overrides file. A null value
means "no override", so params.yaml can list every key an experiment may set (DVC's `-S`
modifies existing keys) without changing anything by default. Other top-level keys of
the file are not read here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ParamsError
from .params import AlbumSpec, SongSpec
from .params_file import read_yaml_file

SECTION = "engine"
FIX_SHAPE = "write a mapping of engine param names to values (null = no override), e.g. 'engine: {temperature: 0.8}'"


def load_overrides(path: Path) -> dict[str, Any]:
    """The non-null engine overrides of a params file; ParamsError naming the file otherwise (read under the
    size and alias limits of songforge.params_file)."""
    source = str(path)
    raw = read_yaml_file(Path(path), "overrides", f"'{SECTION}:'", empty_ok=True)
    section = raw.get(SECTION) or {}
    if not isinstance(section, dict):
        raise ParamsError(SECTION, f"is a {type(section).__name__}, not a mapping", FIX_SHAPE, source)
    return {str(key): value for key, value in section.items() if value is not None}


def apply_overrides(album: AlbumSpec, engine_params: dict[str, Any], source: str = "<overrides>") -> AlbumSpec:
    """`album` with `engine_params` set on every song, each checked against that song's engine."""
    if not engine_params:
        return album
    songs = [_song_with(song, index, engine_params, source) for index, song in enumerate(album.songs)]
    return album.model_copy(update={"songs": songs})


def _song_with(song: SongSpec, index: int, engine_params: dict[str, Any], source: str) -> SongSpec:
    if song.take_engines:  # one engine's params: which of its takes' engines would they be for?
        raise ParamsError(SECTION, f"sets one engine's params, but songs[{index}] ('{song.title}') makes its takes "
                          f"with {len(song.take_engines)} engines (take_engines)", "set those params in the "
                          "song's take_engines, or leave the song out of this experiment", source)
    engine = song.engine.engine
    known = list(engine.Params.model_fields)
    for key in engine_params:
        if key not in known:
            raise ParamsError(f"{SECTION}.{key}", f"is not a param of the '{song.engine.name}' engine, which "
                              f"songs[{index}] ('{song.title}') uses", f"use one of {', '.join(known)}, or set it "
                              "to null", source)
    try:
        spec = song.engine.with_params(engine_params)
    except ParamsError as error:
        field = error.field.replace("engine.params", SECTION, 1)
        key = field.split(".")[1] if "." in field else ""
        described = engine.Params.model_fields[key].description if key in engine.Params.model_fields else None
        fix = f"give {key} a value the '{song.engine.name}' engine accepts ({described})" if described else error.fix
        raise ParamsError(field, error.problem, fix, source) from None
    return song.model_copy(update={"engine": spec})
