"""The output folder layout, safe names, and atomic writes (temp file, then rename)."""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import ParamsError


def slugify(title: str, max_length: int = 60) -> str:
    """A file-system-safe name: ASCII letters, digits and '-', never empty, never '..'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:max_length].strip("-")
    return slug or "untitled"


def inside(root: Path, *parts: str) -> Path:
    """root/parts..., refusing any result that resolves outside root."""
    root = Path(root).resolve()
    path = root.joinpath(*parts).resolve()
    if path != root and root not in path.parents:
        raise ParamsError("title", f"'{'/'.join(parts)}' would write outside {root}", "use a plain title")
    return path


def album_dir(out_dir: Path, album_title: str) -> Path:
    return inside(out_dir, slugify(album_title))


def song_dir(out_dir: Path, album_title: str, index: int, song_title: str) -> Path:
    """out/<album>/<nn>-<song>/, numbered from 1."""
    return inside(out_dir, slugify(album_title), f"{index:02d}-{slugify(song_title)}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside `path` (same suffix); rename it into place only on success.

    A killed run leaves at most a hidden '.tmp' file, never a half-written `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: Path, data: object) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
