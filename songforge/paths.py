"""The output folder layout, safe names, and atomic writes (temp file, then rename)."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import socket
import tempfile
import time
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import ParamsError


SLUG_MAX_CHARS = 60  # a song folder adds "nn-": at most 63 code points, under 255 bytes of UTF-8 in any script
_HASH_HEX = 8


def slugify(title: str, max_length: int = SLUG_MAX_CHARS) -> str:
    """A folder name for a title, in the title's own script: unique per title and the same every time.

    The readable part keeps letters, digits and combining marks (Unicode L*, N*, M*) of the NFKC,
    casefolded title; every run of anything else (spaces, punctuation, symbols, separators, control,
    format and bidi characters) becomes one '-', and none is left at either end, so there is no path
    separator and no leading dot. When that part is empty or not the title itself (the title with
    whitespace runs as '-': characters were dropped, or the length was cut), '-' and 8 hex of the
    title's sha256 follow, so titles that differ only in punctuation get different folders.
    """
    text = unicodedata.normalize("NFKC", title)
    faithful = re.sub(r"\s+", "-", text.casefold().strip())
    readable = _readable(text.casefold())
    if readable and readable == faithful and len(readable) <= max_length:
        return readable
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_HEX]
    return f"{readable_slug(title, max_length - _HASH_HEX - 1)}-{digest}"


def readable_slug(text: str, max_length: int = SLUG_MAX_CHARS) -> str:
    """slugify's readable part alone (never empty: 'untitled'): for a label inside a name that is unique already."""
    return _cut(_readable(unicodedata.normalize("NFKC", text).casefold()), max_length) or "untitled"


def ascii_key(text: str, max_length: int = 100) -> str:
    """`text` (e.g. a slug in any script) as a key of a-z, 0-9 and '-' only, as Prefect's artifact keys must be:
    accents folded (é -> e), other characters as '-'; 8 hex of `text`'s sha256 follow when anything changed."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    key = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if key == text and len(key) <= max_length:
        return key
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_HEX]
    return "-".join(part for part in (key[: max_length - _HASH_HEX - 1].rstrip("-"), digest) if part)


def _readable(text: str) -> str:
    """Letters, digits and marks of `text`, every run of other characters as one '-', none at the ends."""
    kept = "".join(char if unicodedata.category(char)[0] in "LNM" else "-" for char in text)
    return re.sub(r"-+", "-", kept).strip("-")


def _cut(slug: str, max_length: int) -> str:
    """`slug` cut to `max_length` code points, never just before a combining mark, no '-' at the end."""
    end = min(len(slug), max_length)
    while 0 < end < len(slug) and unicodedata.category(slug[end])[0] == "M":
        end -= 1
    return slug[:end].rstrip("-")


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

    A killed run leaves at most a hidden '.tmp' file, never a half-written `path`; the next
    write of `path` removes the temp files that dead writers left.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{_WRITER}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# Temp names carry their writer (host~pid), so a later write can tell a dead writer's leftovers
# from a live one's file in progress; on a shared folder, another host's are left for a day.
_WRITER = f"{re.sub(r'[^A-Za-z0-9-]', '-', socket.gethostname())}~{os.getpid()}"
_FOREIGN_TEMP_S = 24 * 3600


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temp files of `path` whose writer is dead (or, from another host, a day old); return them."""
    pattern = re.compile(rf"\.{re.escape(path.stem)}\.(?:([A-Za-z0-9-]+)~(\d+)\.)?[^.]+\.tmp{re.escape(path.suffix)}")
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.stem)}.*.tmp{glob.escape(path.suffix)}"):
        match = pattern.fullmatch(candidate.name)
        if match and _writer_gone(match.group(1), match.group(2), candidate):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _writer_gone(host: str | None, pid: str | None, temp: Path) -> bool:
    if host == _WRITER.split("~")[0] and pid is not None:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False
    try:
        return time.time() - temp.stat().st_mtime > _FOREIGN_TEMP_S
    except OSError:
        return False


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


def json_text(data: object) -> str:
    """The project's JSON file text: indented, keys sorted, a newline at the end."""
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def write_json(path: Path, data: object) -> Path:
    return write_text(path, json_text(data))


def write_new(path: Path, text: str) -> bool:
    """Write `path` only if no file is there, exclusively (of two writers at once exactly one wins) and whole (a
    complete temp file linked into place: os.link is atomic, on NFS too); False when a file was there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{_WRITER}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
