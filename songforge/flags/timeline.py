"""When a take's words are sung: the lyric timeline an engine recorded in take.json, and the sections a YuE take
never generated. Engines that record neither get None, and the flags that need a timeline say so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..lyrics import Lyrics


@dataclass(frozen=True)
class LyricSection:
    """A section with lyrics: its 1-based number among the take's sections, its tag, its span, and the spans its
    words are sung in (the sung notes where the engine recorded them, else the whole section), in seconds."""

    number: int
    tag: str
    start_s: float
    end_s: float
    sung: tuple[tuple[float, float], ...]

    @property
    def label(self) -> str:
        return f"{self.tag} (section {self.number}, {self.start_s:.1f}-{self.end_s:.1f} s)"


@dataclass(frozen=True)
class LyricTimeline:
    """The sections with lyrics in time order, and where the timeline comes from (for the evidence)."""

    sections: tuple[LyricSection, ...]
    source: str

    @property
    def words_end_s(self) -> float:
        """When the last word is expected to end."""
        return max(end for section in self.sections for _, end in section.sung)


def lyric_timeline(take: dict[str, Any]) -> LyricTimeline | None:
    """The timeline of take.json's `sections` (start_s, end_s, lines) and `vocal_notes` ([onset_s, length_s, ...]),
    as the sketch engine writes them; None when the take has no timed section with lyrics."""
    timed = [s for s in take.get("sections") or [] if isinstance(s, dict) and {"start_s", "end_s", "tag"} <= s.keys()]
    notes = [(float(n[0]), float(n[0]) + float(n[1])) for n in take.get("vocal_notes") or [] if len(n) >= 2]
    sections = []
    for number, section in enumerate(timed, start=1):
        if not section.get("lines"):
            continue
        start, end = float(section["start_s"]), float(section["end_s"])
        sung = tuple(note for note in notes if start <= note[0] < end) or ((start, end),)
        sections.append(LyricSection(number, str(section["tag"]), start, end, sung))
    if not sections:
        return None
    return LyricTimeline(tuple(sections), "take.json vocal_notes" if notes else "take.json sections")


def unsung_sections(take: dict[str, Any], lyrics: Lyrics) -> list[str] | None:
    """Sections with lyrics that a YuE take never generated (its run_n_segments, or official compat's dropped
    last section), as 'tag (section n)'; None for a take of another engine."""
    if take.get("engine") != "yue":
        return None
    from ..engine.yue.prompt import count_segments  # YuE's own rule: which sections stage 1 generates

    params = take.get("params") or {}
    sections = lyrics.sections
    generated = count_segments(params.get("run_n_segments") or len(sections), len(sections),
                               params.get("compat") or take.get("compat") or "fixed")
    return [f"{section.tag} (section {number})" for number, section in enumerate(sections, start=1)
            if number > generated and section.lines]
