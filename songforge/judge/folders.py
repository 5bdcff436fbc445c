"""A judge's model folder as a song names it: a catalogue name (pulled into the models folder) or a folder path of
one's own; what the check before any run sees of it (ModelNeed), its identity (cache keys) and its licence.

Knows no model family: each judge passes the files its loader needs.
"""

from __future__ import annotations

from pathlib import Path

from ..catalogue import CATALOGUE, model_folder
from ..errors import EngineError
from ..licences import Licence, unknown
from ..models import ModelNeed, folder_identity, missing_recorded


def folder_of(name: str) -> Path:
    """models_dir()/NAME for a catalogue name, else NAME as a folder path (~ expanded)."""
    return model_folder(name)


def fix(name: str) -> str:
    """The sentence that says how to get a model folder NAME."""
    if name in CATALOGUE:
        return f"run `songforge models pull {name}` (on a host with internet; copy the folder to one without)"
    return f"put the model's files in {folder_of(name)}, or name a model `songforge models list` shows"


def lacking(name: str, needed: tuple[str, ...]) -> tuple[str, ...]:
    """What the folder lacks ("." for the folder itself): files its pull recorded that are gone, else the needed
    files absent; empty when it is usable."""
    folder = folder_of(name)
    if not folder.is_dir():
        return (".",)
    gone = missing_recorded(folder)
    return tuple(gone) if gone else tuple(file for file in needed if not (folder / file).is_file())


def need(role: str, name: str, needed: tuple[str, ...]) -> ModelNeed:
    """The model as songforge.preflight sees it: what is missing, and its pull name (None for a folder of one's own)."""
    return ModelNeed(role, name, folder_of(name), lacking(name, needed), pull=name if name in CATALOGUE else None)


def identity(name: str, needed: tuple[str, ...]) -> str:
    """'<commit or local>:<digest of every file>', or '<name>:absent' (the check before any run then names it)."""
    if lacking(name, needed):
        return f"{name}:absent"
    return folder_identity(folder_of(name), name, fix(name))


def licence_of(name: str) -> Licence:
    """The catalogue's licence of a named model; terms nobody has checked for a folder of one's own."""
    entry = CATALOGUE.get(name)
    return entry.licence if entry is not None else unknown(Path(name).name)


def require(name: str, needed: tuple[str, ...], what: str) -> Path:
    """The model's folder, or EngineError naming what it lacks and the fix (a run never downloads)."""
    missing = lacking(name, needed)
    if missing:
        where = "is not there" if missing == (".",) else f"lacks {', '.join(missing)}"
        raise EngineError(f"{what} model '{name}': {folder_of(name)} {where}. Fix: {fix(name)}.")
    return folder_of(name)
