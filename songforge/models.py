"""Model folders on disk: the manifest a pull records, and a folder's content identity, verified without re-reading it.

`songforge models pull` records, in the folder's `songforge-model.json`, the hub repo, the commit it fetched
and every file's size, modification time and sha256. Verifying the folder later stats each file and
re-hashes only one whose size or mtime changed (FileRef.current, as git's index does): a 20 GB model
costs a few `stat` calls per worker run, not minutes of reading. A changed file is recorded with its new
hash (and the one it was pulled with), so it is hashed once and warned about once.

A folder nobody pulled (a user's own fine-tune, an official clone) gets the same per-file record, minus
repo and revision, in a hidden `.songforge-index.json` beside its files, written the first time its
identity is asked for: hashing it once is the price of a correct identity, and the record travels with
the folder (copies that keep mtimes, such as `cp -a` or rsync, keep it valid). A read-only folder cannot
keep the record, and is re-hashed by each process that asks.

The identity of a folder is its revision (if pulled) and a digest of every file's path and sha256.
This module knows nothing of any engine or hub: callers pass the sentence that says how to repair a folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from .artifacts import FileRef
from .errors import EngineError
from .paths import write_json

MANIFEST = "songforge-model.json"
INDEX = ".songforge-index.json"
SCHEMA = 1
log = logging.getLogger(__name__)
_locks: dict[Path, threading.Lock] = {}  # one per folder: songs verifying a folder at once hash a changed file once
_locks_guard = threading.Lock()
# The latest ref of each model file seen in this process, and the changes already warned of: a folder whose
# record cannot be written (read-only) is then still hashed once per process, and warned about once.
_seen: dict[str, FileRef] = {}
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class ModelNeed:
    """A model a step would load for a song: the step (or role) that loads it, the name the song gives it, the folder
    it is looked for in, and what that folder lacks (`missing`, paths relative to it, "." for the folder
    itself; empty when the model is usable). `pull`: the name `songforge models pull` fetches it by, None
    for a folder of the user's own that no command can fetch."""

    role: str
    name: str
    folder: Path
    missing: tuple[str, ...] = ()
    pull: str | None = None


def models_dir() -> Path:
    """Root of downloaded models: $SONGFORGE_MODELS, else ~/.cache/songforge/models."""
    return Path(os.environ.get("SONGFORGE_MODELS", Path.home() / ".cache" / "songforge" / "models"))


@dataclass(frozen=True)
class FolderState:
    """What a model folder holds now: the revision it was pulled at (None for a user's folder) and file hashes."""

    revision: str | None
    hashes: dict[str, str]  # relative posix path -> sha256

    def digest(self) -> str:
        """Changes exactly when the revision, a file's name or a file's content does."""
        text = json.dumps({"revision": self.revision, "files": self.hashes}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def part(self, include: str | None = None, exclude: str | None = None) -> "FolderState":
        """The files below subfolder `include` (every file when None), less those below subfolder `exclude`: the
        state of the part of a repository one model loads (e.g. ACE-Step's planner LM, or everything but it)."""
        def below(rel: str, sub: str) -> bool:
            return rel.startswith(sub.strip("/") + "/")

        return FolderState(self.revision, {rel: sha for rel, sha in self.hashes.items() if
                                           (include is None or below(rel, include)) and
                                           (exclude is None or not below(rel, exclude))})


def model_files(folder: Path) -> list[str]:
    """A model's files, relative to its folder: every regular file below it but hidden ones (the hub's `.cache/`,
    our index, temp files of an interrupted write) and the manifest."""
    folder = Path(folder)
    found = []
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if path.is_file() and not any(part.startswith(".") for part in parts) and parts != (MANIFEST,):
            found.append("/".join(parts))
    return sorted(found)


def record_pull(folder: Path, name: str, repo: str, revision: str) -> dict[str, Any]:
    """Hash every file of a freshly pulled folder and write its manifest (atomically); returns the manifest."""
    folder = Path(folder)
    files = {rel: _entry(FileRef.of(folder / rel)) for rel in model_files(folder)}
    manifest = {"schema": SCHEMA, "name": name, "repo": repo, "revision": revision,
                "pulled_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "files": files}
    write_json(folder / MANIFEST, manifest)
    (folder / INDEX).unlink(missing_ok=True)  # a user-folder record from before the pull no longer applies
    return manifest


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's pull manifest, or None if it has none (or an unreadable one: treated as never pulled)."""
    return _read_json(Path(folder) / MANIFEST)


def missing_recorded(folder: Path) -> list[str] | None:
    """Files the manifest records that are gone (stat only); None when the folder has no manifest."""
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    return [rel for rel in manifest["files"] if not (Path(folder) / rel).is_file()]


def missing_files(folder: Path, required: Iterable[tuple[str, ...]], under: str | None = None) -> list[str]:
    """What a model folder lacks to load, stat only: ["."] when there is no folder; for a pulled one, the files its
    pull recorded that are gone; for one of the user's own, each group of glob patterns none of which matches
    (["a.json or b.json", ...]). [] when it is usable. `under`: the model is that subfolder of a pulled repository
    holding several (ACE-Step's planner LM): only the recorded files below it count, the patterns are relative to
    it and so are the paths returned; a pull that recorded nothing below it (made before it was pulled too) is
    checked by the patterns."""
    folder = Path(folder)
    target = folder / under if under else folder
    if not target.is_dir():
        return ["."]
    manifest = read_manifest(folder)
    prefix = f"{under.strip('/')}/" if under else ""
    recorded = [rel for rel in (manifest or {}).get("files", {}) if rel.startswith(prefix)]
    if recorded:
        return [rel[len(prefix):] for rel in recorded if not (folder / rel).is_file()]
    return [" or ".join(options) for options in required if not any(next(target.glob(p), None) for p in options)]


def folder_identity(folder: Path, name: str, fix: str, include: str | None = None, exclude: str | None = None) -> str:
    """What a model's outputs depend on, for cache keys and lineage: '<pulled commit, or local>:<digest of every
    file's sha256>' (re-hashing only changed files), or '<name>:absent' for a folder not there (the check before
    any run names it). `fix`: what to do when a recorded file is gone. include / exclude: only the files below that
    subfolder count / those below it do not (FolderState.part), for a repository holding several models."""
    if not Path(folder).is_dir():
        return f"{name}:absent"
    state = folder_state(folder, fix).part(include, exclude)
    return f"{state.revision[:12] if state.revision else 'local'}:{state.digest()[:16]}"


def folder_state(folder: Path, fix: str) -> FolderState:
    """The folder's revision and the sha256 of each file now, re-hashing only files whose size or mtime changed.

    A file the manifest records that is gone raises EngineError naming it, with `fix` (e.g. "run `songforge
    models pull yue-s2`"). A file that changed, or appeared, since the record is hashed, logged as a warning
    (the identity changes: a user may replace weights on purpose) and recorded, so the next call trusts it.
    """
    folder = Path(folder)
    with _locks_guard:
        lock = _locks.setdefault(folder.resolve(), threading.Lock())
    with lock:
        return _folder_state(folder, fix)


def _folder_state(folder: Path, fix: str) -> FolderState:
    manifest = read_manifest(folder)
    record = manifest if manifest is not None else (_read_json(folder / INDEX) or {"files": {}})
    recorded: dict[str, dict] = record["files"]
    gone = [rel for rel in recorded if not (folder / rel).is_file()]
    if manifest is not None and gone:
        raise EngineError(f"model file {folder / gone[0]} is missing ({len(gone)} of the {len(recorded)} files "
                          f"{MANIFEST} records are gone: {', '.join(gone[:5])}). Fix: {fix}.")
    refs = {rel: _current(folder, rel, recorded.get(rel)) for rel in model_files(folder)}
    updated = {rel: _entry(ref, recorded.get(rel), pulled=manifest is not None) for rel, ref in refs.items()}
    if updated != recorded:
        _report_changes(folder, manifest, recorded, updated, fix)
        _save(folder, manifest, {**record, "files": updated})
    return FolderState(record.get("revision"), {rel: ref.sha256 for rel, ref in refs.items()})


def _current(folder: Path, rel: str, entry: dict | None) -> FileRef:
    """The file as it is now: the latest known ref (this process's, else the record's) while size and mtime
    hold, else freshly hashed."""
    path = str(folder / rel)
    known = _seen.get(path) or (FileRef(path, entry["sha256"], entry["size"], entry["mtime_ns"]) if entry else None)
    ref = known.current() if known is not None else FileRef.of(Path(path))
    _seen[path] = ref
    return ref


def _entry(ref: FileRef, old: dict | None = None, pulled: bool = False) -> dict[str, Any]:
    """A file's record. In a pulled folder, a file whose content is not what was pulled keeps `pulled_sha256`
    (None: a file added after the pull), so `songforge models list` can say the folder was modified."""
    entry = {"size": ref.size, "mtime_ns": ref.mtime_ns, "sha256": ref.sha256}
    if not pulled:
        return entry
    if old is None:
        entry["pulled_sha256"] = None
    elif "pulled_sha256" in old or old["sha256"] != ref.sha256:
        entry["pulled_sha256"] = old.get("pulled_sha256", old["sha256"])
    return entry


def _report_changes(folder: Path, manifest: dict | None, recorded: dict, updated: dict, fix: str) -> None:
    if manifest is None and not recorded:
        log.info("model folder %s: hashed its %d files once (recorded in %s)", folder, len(updated), INDEX)
        return
    origin = f"{manifest['repo']}@{manifest['revision'][:12]} as pulled" if manifest else "its last use"
    changed = [rel for rel in updated if rel not in recorded or updated[rel]["sha256"] != recorded[rel]["sha256"]]
    gone = [rel for rel in recorded if rel not in updated]
    for rel in [rel for rel in changed if (str(folder / rel), updated[rel]["sha256"]) not in _warned]:
        _warned.add((str(folder / rel), updated[rel]["sha256"]))
        log.warning("model file %s differs from %s (sha256 %s now): the engine's identity changes, so stages that "
                    "use this model will run again. If unintended: %s.", folder / rel, origin,
                    updated[rel]["sha256"][:12], fix)
    for rel in gone:
        log.warning("model file %s is gone since %s: the engine's identity changes.", folder / rel, origin)


def _save(folder: Path, manifest: dict | None, record: dict) -> None:
    """Write the refreshed record (best effort: a read-only folder is simply verified again next time)."""
    try:
        write_json(folder / (MANIFEST if manifest is not None else INDEX), record)
    except OSError as error:
        log.debug("could not record the hashes of %s (%s); they will be checked again next time", folder, error)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None
