"""A song's lineage as manifest.json: what went in, which code and engine made it, which runs, what came out.

`build_manifest` is pure: the caller (tasks/track.py) passes the run ids it knows (Prefect's
from prefect.runtime, MLflow's from the run it made) and `code_version()`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import __version__
from .artifacts import StageOutput, file_sha256
from .engine.base import take_identity
from .params import MasterSpec, SongSpec

SCHEMA = "songforge.manifest/1"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
CODE_PATHS = ("songforge", "tasks", "flows", "app", "pyproject.toml")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_sha256(data: Any) -> str:
    """sha256 of `data` as sorted, compact JSON: equal params hash equally, whatever their order."""
    return text_sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str))


@lru_cache(maxsize=1)
def code_version(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Package version, git commit and whether the code differs from it; commit None outside a git checkout.

    'dirty' counts tracked changes and untracked (not ignored) files under the code paths only,
    so outputs and notes lying around do not make every run dirty.
    """
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--", *CODE_PATHS) if commit else None
    dirty = bool(status) if status is not None else None
    label = __version__ + (f"+g{commit[:12]}" if commit else "") + (".dirty" if dirty else "")
    return {"package": __version__, "git_commit": commit, "git_dirty": dirty, "label": label}


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def build_manifest(song: SongSpec, outputs: dict[str, StageOutput], *, song_dir: Path, code: dict[str, Any],
                   runs: dict[str, Any], master: MasterSpec | None = None,
                   settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of one song: inputs, engine, params, code, runs and outputs (paths relative to song_dir);
    `settings`: the album's (params.album_settings), under params.album when given."""
    engine, engine_params = song.engine.engine, song.engine.params
    params = {"song": song.model_dump(mode="json", exclude={"lyrics", "engine"}),
              "engine": {"name": song.engine.name, "params": engine_params.model_dump(mode="json")},
              "master": master.model_dump(mode="json") if master else None,
              **({"album": settings} if settings is not None else {})}
    return {
        "schema": SCHEMA,
        "song": {"title": song.title, "folder": Path(song_dir).name},
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": {"lyrics_sha256": text_sha256(song.lyrics), "params_sha256": canonical_sha256(params),
                   "reference_sha256": _reference_sha256(master)},
        "engine": {"name": song.engine.name, "identity": take_identity(song),
                   "model_revision": engine.model_revision(engine_params)},
        "params": params,
        "code": dict(code),
        "runs": runs,
        "outputs": {stage: _files(result, Path(song_dir)) for stage, result in sorted(outputs.items())
                    if isinstance(result, StageOutput)},
    }


def _reference_sha256(master: MasterSpec | None) -> str | None:
    return file_sha256(master.reference) if master and master.reference else None


def _files(result: StageOutput, song_dir: Path) -> dict[str, dict[str, Any]]:
    return {role: {"path": _relative(ref.path, song_dir), "sha256": ref.sha256, "size": ref.size}
            for role, ref in sorted(result.files.items())}


def _relative(path: str, song_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(song_dir.resolve()).as_posix()
    except ValueError:  # a file outside the song's folder keeps its full path
        return str(path)
