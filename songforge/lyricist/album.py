"""A brief made into an album file: each song drafted in turn (the repair loop), its duration fitted to its
lyrics, and the file rendered as YAML (lyrics as blocks, a header saying which model wrote it: never a key),
checked by the real album loader before it is written atomically."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ..album_file import album_from_dict
from ..errors import SongforgeError
from ..paths import write_text
from .repair import Chat, Drafted, draft_song

_SONGS_RE = re.compile(r"\b(\d{1,2})\s+songs?\b", re.IGNORECASE)
MAX_SONGS = 30


def songs_in(brief: str) -> int | None:
    """How many songs a brief asks for ('...; 6 songs'), where it says."""
    found = _SONGS_RE.search(brief)
    return int(found.group(1)) if found else None


def album_title(brief: str) -> str:
    """A working title from the brief's first clause (the user renames it): 'an album about x; folk' -> 'X'."""
    first = re.split(r"[;,.\n]", brief.strip(), maxsplit=1)[0]
    first = re.sub(r"^(an?|the)\s+(album|record|ep)\s+(about|of|on)\s+", "", first, flags=re.IGNORECASE).strip()
    return (first[:1].upper() + first[1:])[:100] or "Untitled"


class AlbumCut(SongforgeError):
    """Song `number` of `count` could not be drafted: the songs drafted before it, and why it failed."""

    def __init__(self, drafted: list[Drafted], number: int, count: int, error: SongforgeError):
        self.drafted, self.number, self.count, self.error = drafted, number, count, error
        super().__init__(f"song {number} of {count}: {error}")


def draft_songs(chat: Chat, brief: str, count: int, language: str, max_rounds: int) -> list[Drafted]:
    """`count` songs for one brief, each told its place and the titles already taken; AlbumCut (with the songs
    drafted so far) where one cannot be."""
    drafted: list[Drafted] = []
    for number in range(1, count + 1):
        taken = tuple(d.draft.title for d in drafted)
        ask = brief if count == 1 else (f"{brief} (song {number} of {count}"
                                        + (f"; the album's other songs: {', '.join(taken)})" if taken else ")"))
        try:
            drafted.append(draft_song(chat, ask, language, max_rounds, taken=taken))
        except SongforgeError as error:
            raise AlbumCut(drafted, number, count, error) from error
    return drafted


def song_fields(drafted: Drafted, language: str, seed: int) -> dict[str, Any]:
    """A song of the album file, in the order a person reads it."""
    from ruamel.yaml.comments import CommentedSeq
    from ruamel.yaml.scalarstring import LiteralScalarString

    def inline(tags: list[str]) -> CommentedSeq:  # genre: [folk, indie], as people write tags
        seq = CommentedSeq(tags)
        seq.fa.set_flow_style()
        return seq

    draft = drafted.draft
    fields = {"title": draft.title, "language": language, **{k: inline(v) for k, v in draft.tags().items() if v},
              "bpm": int(draft.bpm) if float(draft.bpm).is_integer() else draft.bpm, "key": draft.key,
              "duration_s": drafted.duration_s, "seed": seed,
              "lyrics": LiteralScalarString(draft.lyrics.strip() + "\n")}
    return fields


def provenance_line(provenance: dict[str, Any]) -> str:
    """Who wrote it, for the file's header: backend, model, revision, URL (credentials never in it)."""
    parts = [f"{k}: {provenance[k]}" for k in ("backend", "model", "revision", "url") if provenance.get(k)]
    return "drafted by songforge write (" + ", ".join(parts) + ")"


def render(document: Any, header: str | None = None) -> str:
    """The YAML text of a document (a ruamel round-trip tree or plain data), with an optional header comment."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()  # round trip: comments and order kept
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    if header is not None and isinstance(document, CommentedMap):
        document.yaml_set_start_comment(header)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def new_album(title: str, songs: list[dict[str, Any]]) -> Any:
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap({"title": title, "songs": [CommentedMap(song) for song in songs]})


def write_checked(text: str, out: Path) -> Path:
    """`text` loaded by the real album loader as the file it will be (every problem raised, nothing written),
    then written atomically."""
    from ..params_file import load_yaml

    album_from_dict(load_yaml(text, str(out)), base_dir=out.parent, source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_text(out, text)
