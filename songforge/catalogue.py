"""Models `songforge models pull` fetches: a hub repo at a pinned commit, the files taken, the model's licence.

Engines and steps register the models they load (`register_model`, next to their loaders); a pull
downloads exactly the pinned commit into the models folder and records every file it fetched
(songforge.models), and nothing downloads at run time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Callable

from .errors import EngineError, ParamsError, SongforgeError
from .licences import Licence
from .models import MANIFEST, models_dir, read_manifest, record_pull

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubModel:
    """A catalogue entry: the hub repo, the commit a pull fetches, the files it takes, the licence, and what the
    folder needs once fetched (`after_pull`, e.g. a conversion; its files are recorded too).

    A model that is not on the hub (e.g. UVR's release files, fetched by audio-separator) has `download`: it
    fills the folder itself and returns the revision to record; `revision` then pins what it must fetch (the
    sha256 of the weights file), or is empty where nothing pins it.
    """

    repo: str
    revision: str  # a 40-hex commit; a branch name only where no commit could be found (logged at each pull)
    licence: Licence
    patterns: tuple[str, ...] = ("*.json", "*.safetensors", "tokenizer.model")
    what: str = ""
    after_pull: Callable[[Path], None] | None = None
    download: Callable[[Path], str] | None = None
    repo_type: str = "model"  # "dataset" for a data set on the hub (e.g. a benchmark's prompts)
    gated: bool = False  # the hub serves it only to an account that accepted its licence (a token: HF_TOKEN)

    @property
    def pinned(self) -> bool:
        return bool(re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", self.revision))

    def __str__(self) -> str:
        return self.repo


CATALOGUE: dict[str, HubModel] = {}
# Modules that register data sets (a benchmark's prompts), found by name as the registry finds song steps.
DATA_SETS = ("songforge.bench.wildsongbench",)
_FAMILIES: list[Callable[[str], HubModel | None]] = []


def register_model(name: str, entry: HubModel) -> HubModel:
    CATALOGUE[name] = entry
    return entry


def register_family(resolve: Callable[[str], HubModel | None]) -> None:
    """Models named by a rule rather than listed one by one (e.g. any file audio-separator lists):
    resolve(name) is the entry for a name the family knows, else None."""
    _FAMILIES.append(resolve)


def all_models() -> dict[str, HubModel]:
    """Every model any engine or step registers, and the benchmarks' data sets (imports them all first)."""
    from .registry import available_engines, get_engine, song_steps

    for module in DATA_SETS:
        import_module(module)
    song_steps()
    for name in available_engines():
        get_engine(name)
    return dict(CATALOGUE)


def catalogue_entry(name: str) -> HubModel:
    if name not in CATALOGUE:
        all_models()
    if name not in CATALOGUE:
        found = next((entry for resolve in _FAMILIES if (entry := resolve(name)) is not None), None)
        if found is not None:
            return register_model(name, found)
        raise ParamsError("model", f"unknown model '{name}'", f"use one of: {', '.join(CATALOGUE)} "
                          "(`songforge models list`)")
    return CATALOGUE[name]


def model_folder(name_or_path: str) -> Path:
    """A catalogue name lives under models_dir(); anything else is a folder path."""
    return models_dir() / name_or_path if name_or_path in CATALOGUE else Path(name_or_path).expanduser()


def pull(name: str, dest: Path | None = None) -> Path:
    """Download a model at its catalogue commit into dest (default models_dir()/name), run its after_pull, and
    record every file the folder then holds (repo, commit, sha256s: songforge.models)."""
    entry = catalogue_entry(name)
    from huggingface_hub import snapshot_download

    dest = Path(dest) if dest is not None else models_dir() / name
    try:
        if entry.download is not None:
            _drop_stale(dest, entry.revision)
            revision = entry.download(dest)
        else:
            revision = entry.revision if entry.pinned else _resolve(entry)
            _drop_stale(dest, revision)
            snapshot_download(entry.repo, revision=revision, local_dir=dest, allow_patterns=list(entry.patterns),
                              **_repo_type(entry))
    except SongforgeError:
        raise  # already says what to do (e.g. a download that is not what the catalogue pins)
    except Exception as error:  # network, auth, disk: all end the same way for the user
        raise EngineError(f"could not download {entry.repo}@{entry.revision} into {dest}: {error}. Fix: "
                          f"{_gated_fix(entry)}check the network and disk space, then rerun `songforge models pull "
                          f"{name}`.") from error
    if entry.after_pull is not None:
        entry.after_pull(dest)
    record_pull(dest, name, entry.repo, revision)
    return dest


def _gated_fix(entry: HubModel) -> str:
    """What a gated repository needs before any download: the licence accepted, and the account's token."""
    if not entry.gated:
        return ""
    return (f"{entry.repo} is gated: accept its licence at https://huggingface.co/{entry.repo} with your hub "
            "account, create a read token (https://huggingface.co/settings/tokens) and set HF_TOKEN to it (or run "
            "`hf auth login`); then ")


def _resolve(entry: HubModel) -> str:
    """The commit a branch name points at now, so that what is downloaded and recorded is one exact commit."""
    from huggingface_hub import HfApi

    api = HfApi()
    info = api.model_info if entry.repo_type == "model" else api.repo_info
    sha = info(entry.repo, revision=entry.revision, **_repo_type(entry)).sha
    log.warning("%s has no pinned commit in songforge's catalogue: pulling %s, which is %s's %s today",
                entry.repo, sha, entry.repo, entry.revision)
    return sha


def _repo_type(entry: HubModel) -> dict[str, str]:
    """The hub's repo_type argument for a data set (a model repo, the default, passes none)."""
    return {} if entry.repo_type == "model" else {"repo_type": entry.repo_type}


def _drop_stale(dest: Path, revision: str) -> None:
    """Before a pull: forget the old record, and delete files that are not what the new commit has.

    A pull at another commit deletes every file the old manifest records (a stale shard would otherwise
    load beside the new ones); a pull at the same commit deletes only files changed since, so that the
    download restores them (the hub's local-dir cache would skip them).
    """
    manifest = read_manifest(dest)
    if manifest is None:
        return
    (dest / MANIFEST).unlink()
    for rel, entry in manifest["files"].items():
        if manifest["revision"] != revision or "pulled_sha256" in entry:
            (dest / rel).unlink(missing_ok=True)
