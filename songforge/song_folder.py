"""A finished song's folder read back (songforge edit's original): manifest.json (the song's params without its
lyrics, the album's master and settings, its MLflow run, its outputs) and take.json (the engine's facts; an
ACE-Step take, its lyrics) as the song, its master, its take's length; its recorded outputs for a review page.
Every problem is a ParamsError naming the folder or the manifest's field, and the fix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .artifacts import FileRef, StageOutput
from .errors import ParamsError, SongforgeError
from .params import ALBUM_SETTINGS, AlbumSpec, MasterSpec, SongSpec, album_settings, engine_params
from .problems import validation_problems

TAKE_FIELDS = ("takes", "select", "retakes")  # an edit is one take: the original's take rule is left out
MOVED_FIX = ("put the file back at that path (the edit conditions on it as the song did), or make the song again "
             "with the file's new path in its params")


@dataclass(frozen=True)
class SongFolder:
    """A finished song as its folder records it."""

    folder: Path
    song: SongSpec
    master: MasterSpec
    duration_s: float  # the take's
    run_id: str | None  # the song's MLflow run
    outputs: dict[str, dict[str, Any]]  # step -> role -> {path (relative to the folder), sha256, size}: manifest.json's
    settings: dict[str, Any]  # the album's settings it was made under (params.album_settings; older songs: none)


def _not_a_song(folder: Path, why: str) -> ParamsError:
    return ParamsError("SONG_FOLDER", f"{folder} is not a finished song's folder ({why})",
                       "give the folder `songforge album` or `songforge song` made for the song, e.g. "
                       "out/<album>/01-<song>/ (one with manifest.json and take.json)")


def _json(path: Path, folder: Path) -> dict[str, Any]:
    if not path.is_file():
        raise _not_a_song(folder, f"no {path.name}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise _not_a_song(folder, f"{path.name} does not read as JSON: {error}") from None


def read_song_folder(folder: Path) -> SongFolder:
    """The song, its master and its take's length as the folder records them; ParamsError when it is no song's."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise _not_a_song(folder, "no such folder")
    manifest, take = _json(folder / "manifest.json", folder), _json(folder / "take.json", folder)
    try:
        params = manifest["params"]
        song_fields = {k: v for k, v in params["song"].items() if k not in TAKE_FIELDS}
        lyrics = take.get("lyrics") or (folder / "lyrics.txt").read_text(encoding="utf-8")  # older takes: sections
        song = SongSpec.model_validate({**song_fields, "lyrics": lyrics, "engine": params["engine"]})
        master = MasterSpec.model_validate(params.get("master") or {})
        settings = album_settings(AlbumSpec.model_validate({"title": "-", "songs": [song], **{
            k: v for k, v in (params.get("album") or {}).items() if k in ALBUM_SETTINGS}}))
        duration = float(take["duration_s"])
    except (KeyError, TypeError, OSError) as error:
        raise _not_a_song(folder, f"its manifest.json or take.json lacks {error}") from None
    except ParamsError as error:  # a file the song's params name is gone since
        raise error.located(str(folder / "manifest.json"), "params") from None
    except ValidationError as error:  # e.g. a reference, cover or LoRA file the song's params name moved since
        raise _recorded_params_problem(params, error, folder / "manifest.json") from None
    run_id = (manifest.get("runs") or {}).get("mlflow", {}).get("run_id")
    return SongFolder(folder, song, master, duration, run_id, manifest.get("outputs") or {}, settings)


def _recorded_params_problem(params: dict[str, Any], error: ValidationError, manifest: Path) -> ParamsError:
    """The manifest's params no longer valid, named by their field in it: a file the engine's params name is gone
    (the engine's own check names it), else pydantic's every problem under params.song."""
    engine = params.get("engine") or {}
    try:
        engine_params(engine.get("name", "sketch"), engine.get("params"))
    except ParamsError as moved:
        return ParamsError.all_of([ParamsError(f"params.{one.field}", one.problem, MOVED_FIX, str(manifest))
                                   for one in moved.problems])
    except SongforgeError:
        pass  # an engine no longer registered: pydantic's own words below
    return ParamsError.all_of(validation_problems(error, {}, str(manifest), prefix="params.song"))


def recorded_results(original: SongFolder) -> dict[str, StageOutput]:
    """The original's step outputs as its manifest records them, for the review page beside its edit: each step's
    files by role, and a `metrics` JSON file as its step's data (the measure step's numbers; other steps' numbers
    are not in the folder's files in that form and are left out)."""
    results = {}
    for step, files in original.outputs.items():
        refs = {role: FileRef(str(original.folder / ref["path"]), ref["sha256"], ref["size"])
                for role, ref in files.items()}
        metrics = refs.get("metrics")
        data = json.loads(Path(metrics.path).read_text()) if metrics and metrics.path.endswith(".json") else {}
        results[step] = StageOutput(step, refs, data if isinstance(data, dict) else {})
    return results
