"""The fit rules: whether drafted lyrics are singable as a song of `bpm` and `duration_s`, as pure functions.

Each broken rule is a Problem naming where (the song, a section, a line) and the rule, so that the repair
loop can send the list back to the model and a failure can say what still breaks. The bars a line gets are
the sketch engine's own form (songforge.engine.sketch.form) at the song's bpm and duration, and syllables
are counted as every engine counts them (songforge.syllables), in the song's language.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from ..engine.sketch.compose import TAIL_S
from ..engine.sketch.form import (BEATS_PER_BAR, DURATION_TOLERANCE, SYLLABLES_PER_BAR, known_section, min_duration_s,
                                  plan_form, section_kind)
from ..errors import ParamsError
from ..lyrics import Lyrics, Section, parse_lyrics
from ..params import MAX_DURATION_S
from ..syllables import line_syllables
from ..tags import normalize_tags

MAX_SECTIONS = 10  # YuE generates up to about ten sections well
MAX_LINE_BARS = 2  # a line sung at the form's roomy pace takes at most two bars: a breath
MAX_LINE_SYLLABLES = MAX_LINE_BARS * SYLLABLES_PER_BAR
SECTION_LINES = (2, 8)  # a sung section's lines: at most 16 bars at two bars a line
FILL_SHARE = 0.4  # the lines, two bars each, fill at least this share of the song (else it is mostly instrumental)
MIN_DURATION_S = 10.0
TAG_FIELDS = ("genre", "mood", "instrument", "voice")


@dataclass(frozen=True)
class Problem:
    """A broken rule: where ('song', 'section 2 [chorus]', 'section 2 [chorus] line 3', 'genre'), which, and how."""

    where: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.rule}: {self.detail}"


def fit_problems(text: str, language: str, bpm: float, duration_s: float) -> list[Problem]:
    """Every fit rule the lyrics `text` break as a song of `bpm` lasting `duration_s`, in `language`."""
    try:
        lyrics = parse_lyrics(text)
    except ParamsError as error:
        return [Problem("lyrics", "format", f"{error.problem} ({error.fix})")]
    problems = structure_problems(lyrics) + line_problems(lyrics, language)
    return problems + timing_problems(lyrics, language, bpm, duration_s)


def structure_problems(lyrics: Lyrics) -> list[Problem]:
    """Sections YuE sings: at most MAX_SECTIONS, known tags, a sung section, and a chorus that comes back the same."""
    problems = []
    if len(lyrics.sections) > MAX_SECTIONS:
        problems.append(Problem("song", "sections", f"{len(lyrics.sections)} sections; YuE sings at most "
                                f"{MAX_SECTIONS} well: merge or drop {len(lyrics.sections) - MAX_SECTIONS}"))
    for number, section in enumerate(lyrics.sections, start=1):
        if not known_section(section.tag):
            problems.append(Problem(_where(number, section), "section_tag", f"'[{section.tag}]' is not a section "
                                    "tag YuE knows: use [intro], [verse], [prechorus], [chorus], [bridge], [outro]"))
    if all(section.is_instrumental for section in lyrics.sections):
        problems.append(Problem("song", "sung_sections", "no section has lines to sing: add a [verse] and a [chorus]"))
    choruses = [(n, s) for n, s in enumerate(lyrics.sections, start=1) if s.lines and section_kind(s.tag) == "chorus"]
    if len(choruses) < 2:
        problems.append(Problem("song", "chorus_repeats", f"{len(choruses)} sung [chorus] section(s): a chorus "
                                "comes back, so write at least two [chorus] sections with the same lines"))
    for number, chorus in choruses[1:]:
        if _said(chorus.lines) != _said(choruses[0][1].lines):
            problems.append(Problem(_where(number, chorus), "chorus_repeats", f"differs from the first chorus "
                                    f"(section {choruses[0][0]}): repeat its lines exactly"))
    return problems


def _said(lines: tuple[str, ...] | list[str]) -> list[str]:
    """Lines as sung: case, punctuation and spacing do not make a chorus another ('Stay, stay' == 'stay stay')."""
    return [" ".join("".join(c for c in line.casefold() if not unicodedata.category(c).startswith("P")).split())
            for line in lines]


def line_problems(lyrics: Lyrics, language: str) -> list[Problem]:
    """Per sung section SECTION_LINES lines, per line 1 to MAX_LINE_SYLLABLES sung syllables (as `language` counts)."""
    problems = []
    low, high = SECTION_LINES
    for number, section in enumerate(lyrics.sections, start=1):
        if section.lines and not low <= len(section.lines) <= high:
            problems.append(Problem(_where(number, section), "section_lines", f"{len(section.lines)} lines: a sung "
                                    f"section has {low} to {high}"))
        for index, line in enumerate(section.lines, start=1):
            count = sum(line_syllables(line, language))
            if not 1 <= count <= MAX_LINE_SYLLABLES:
                problems.append(Problem(f"{_where(number, section)} line {index}", "line_syllables",
                                        f"'{line[:60]}' has {count} sung syllables: a line has 1 to "
                                        f"{MAX_LINE_SYLLABLES} ({MAX_LINE_BARS} bars at {SYLLABLES_PER_BAR} a bar)"))
    return problems


def timing_problems(lyrics: Lyrics, language: str, bpm: float, duration_s: float) -> list[Problem]:
    """The lyrics against the song's length at its bpm: they fit it, fill it, and no line is crowded in its bars."""
    try:
        form = plan_form(lyrics, bpm, duration_s, TAIL_S, None, language)
    except ParamsError as error:
        return [Problem("song", "fits_duration", f"{error.problem}, and the song lasts {duration_s:g} s: "
                        "cut lines or sections")]
    problems = []
    sung_s = vocal_seconds(lyrics, language, bpm)
    if sung_s < FILL_SHARE * duration_s:
        more = math.ceil((FILL_SHARE * duration_s - sung_s) / (MAX_LINE_BARS * BEATS_PER_BAR * 60 / bpm))
        problems.append(Problem("song", "fills_duration", f"the lines fill {sung_s:.0f} s of {duration_s:g} s at "
                                f"{bpm:g} bpm (at least {FILL_SHARE:.0%}): add about {more} lines"))
    sung = [(number, section) for number, section in enumerate(lyrics.sections, start=1) if section.lines]
    for (number, section), laid in zip(sung, (planned for planned in form if planned.lines)):  # the form adds pads only
        for index, line in enumerate(laid.lines, start=1):
            bars = line.beats / BEATS_PER_BAR
            if line.n_syllables > SYLLABLES_PER_BAR * bars:
                problems.append(Problem(f"{_where(number, section)} line {index}", "line_crowded",
                                        f"{line.n_syllables} syllables in the {bars:g} bar(s) it gets at {bpm:g} bpm "
                                        f"in {duration_s:g} s (at most {SYLLABLES_PER_BAR} a bar): shorten it"))
    return problems


def tag_problems(tags: dict[str, list[str]]) -> list[Problem]:
    """Tags outside the engine vocabulary (YuE's), with the nearest known tag."""
    problems = []
    for field in TAG_FIELDS:
        try:
            normalize_tags(field, list(tags.get(field) or []))
        except ParamsError as error:
            problems.append(Problem(error.field, "tag_vocabulary", f"{error.problem}; {error.fix}"))
    return problems


def vocal_seconds(lyrics: Lyrics, language: str, bpm: float) -> float:
    """Seconds the sung lines take at MAX_LINE_BARS bars a line (more where a line's syllables need them)."""
    whole = min_duration_s(lyrics, bpm, 0.0, MAX_LINE_BARS, language) * (1 + DURATION_TOLERANCE)
    return whole - 2 * 60.0 / bpm  # less the final chord's two beats


def fitting_duration_s(lyrics: Lyrics, language: str, bpm: float) -> float:
    """A duration_s the lyrics fit at `bpm`: every line two bars (more if it needs them), each instrumental section
    and an intro and outro two bars, rounded up to whole seconds within the song limits."""
    pads = sum(1 for section in lyrics.sections if section.is_instrumental) + 2
    seconds = vocal_seconds(lyrics, language, bpm) + pads * 2 * BEATS_PER_BAR * 60.0 / bpm + TAIL_S
    return float(min(MAX_DURATION_S, max(MIN_DURATION_S, math.ceil(seconds))))


def _where(number: int, section: Section) -> str:
    return f"section {number} [{section.tag}]"
