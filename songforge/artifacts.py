"""References to a stage's output files, with content hashes so reruns can trust or redo them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


_known_hashes: dict[tuple[str, int, int], str] = {}


def content_sha256(path: Path) -> str:
    """sha256 of an input file, hashed again only when its size or modification time changed."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _known_hashes:
        _known_hashes[key] = file_sha256(path)
    return _known_hashes[key]


@dataclass(frozen=True)
class FileRef:
    """A file a stage wrote: where, its size, modification time and sha256 at the time."""

    path: str
    sha256: str
    size: int
    mtime_ns: int = 0

    @classmethod
    def of(cls, path: Path) -> "FileRef":
        path = Path(path)
        stat = path.stat()
        return cls(str(path), file_sha256(path), stat.st_size, stat.st_mtime_ns)

    def is_intact(self) -> bool:
        """The file is still there, with the same content (see `current`: no reading while size and mtime hold)."""
        path = Path(self.path)
        if not path.is_file() or path.stat().st_size != self.size:
            return False
        return self.current().sha256 == self.sha256

    def current(self) -> "FileRef":
        """This ref while the file's size and modification time are unchanged, else a fresh one (re-hashed).

        An unchanged size and modification time vouch for the content without reading it (as git's
        index does), which keeps a fully cached album rerun from re-hashing every WAV, and a worker
        from re-hashing 20 GB of model weights. OSError if the file is gone.
        """
        stat = Path(self.path).stat()
        # getattr: results pickled before mtime_ns existed lack the attribute
        if stat.st_size == self.size and stat.st_mtime_ns == getattr(self, "mtime_ns", 0):
            return self
        return FileRef.of(Path(self.path))


@dataclass(frozen=True)
class StageOutput:
    """What a stage hands on: its files by role (e.g. 'vocals'), and small JSON-able facts."""

    stage: str
    files: dict[str, FileRef]
    data: dict[str, Any] = field(default_factory=dict)

    def path(self, role: str) -> Path:
        return Path(self.files[role].path)

    def is_intact(self) -> bool:
        return all(ref.is_intact() for ref in self.files.values())

    def fingerprint(self) -> dict[str, str]:
        """Role -> content hash: what downstream cache keys depend on (not paths, not times)."""
        return {role: ref.sha256 for role, ref in sorted(self.files.items())}


def output(stage: str, data: dict[str, Any] | None = None, **paths: Path) -> StageOutput:
    """A StageOutput for files just written, hashing each."""
    return StageOutput(stage, {role: FileRef.of(p) for role, p in paths.items()}, dict(data or {}))
