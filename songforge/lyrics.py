"""Lyrics in YuE's format: sections tagged [verse], [chorus], ... each with its lines (syllables: songforge.syllables)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ParamsError

# YuE splits on \[(\w+)\]: a tag is word characters only, so "[pre-chorus]" is not a tag.
_TAG_RE = re.compile(r"\[([^\]\n]*)\]")
_WORD_TAG_RE = re.compile(r"^\w+$")
INSTRUMENTAL_SECTIONS = {"intro", "outro", "inst", "instrumental", "interlude", "break", "solo"}


@dataclass(frozen=True)
class Section:
    tag: str
    lines: tuple[str, ...]

    @property
    def is_instrumental(self) -> bool:
        return not self.lines

    @property
    def yue_text(self) -> str:
        """The section as YuE's split_lyrics emits it: '[tag]\\nbody\\n\\n'."""
        return f"[{self.tag}]\n" + "\n".join(self.lines) + "\n\n"


@dataclass(frozen=True)
class Lyrics:
    sections: tuple[Section, ...]

    @property
    def text(self) -> str:
        return "\n".join(s.yue_text for s in self.sections).rstrip() + "\n"


def parse_lyrics(text: str, field: str = "lyrics") -> Lyrics:
    """Split tagged lyrics into sections; raise ParamsError naming the problem and the fix."""
    fix_format = "write sections as a tag on its own line, e.g. '[verse]', followed by its lines"
    tags = list(_TAG_RE.finditer(text))
    if not tags:
        raise ParamsError(field, "no section tags found", fix_format)
    leading = text[: tags[0].start()].strip()
    if leading:
        raise ParamsError(field, f"text before the first section tag: '{leading[:40]}'", fix_format)
    sections = []
    for number, (tag, nxt) in enumerate(zip(tags, tags[1:] + [None]), start=1):
        name = tag.group(1).strip().lower()
        if not _WORD_TAG_RE.match(name):
            fixed = re.sub(r"\W+", "", name) or "verse"
            raise ParamsError(
                field, f"section {number} tag '[{tag.group(1)}]' has characters YuE cannot read",
                f"use letters, digits and '_' only, e.g. '[{fixed}]'",
            )
        body = text[tag.end(): nxt.start() if nxt else len(text)]
        lines = tuple(line.strip() for line in body.strip().splitlines() if line.strip())
        if not lines and name not in INSTRUMENTAL_SECTIONS:
            raise ParamsError(
                field, f"section {number} '[{name}]' has no lines",
                f"add its lines, or tag it as an instrumental section ({', '.join(sorted(INSTRUMENTAL_SECTIONS))})",
            )
        sections.append(Section(name, lines))
    return Lyrics(tuple(sections))

