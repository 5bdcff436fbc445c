"""The song's form: lyric sections laid out in beats, with instrumental bars fitted to duration_s."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ...errors import ParamsError
from ...lyrics import Lyrics
from ...syllables import Word, line_syllables, sung_words

BEATS_PER_BAR = 4
DURATION_TOLERANCE = 0.15  # the fitted form lands within this fraction of duration_s
SYLLABLES_PER_BAR = 6  # eighth notes, leaving a beat to breathe
DENSE_SYLLABLES_PER_BAR = 12  # sixteenths: only when the lyrics would not fit otherwise
FIT_SLACK = 0.06  # the vocal may push the form this far past the target (well inside the tolerance)
SHORT_LYRICS = 0.6  # lyrics filling under this share of the song at two bars a line may take four
FINAL_CHORD_BEATS = 2
INTRO_SHARE = 0.12  # an added intro bar is reserved when a bar is at most this share of the song
_AUTO_PAD_CAP_BARS = 4  # an intro or outro the engine adds grows to this before breaks are inserted
_PAD_CAP_BARS = 8

ENERGY = {"intro": 0.35, "verse": 0.55, "prechorus": 0.7, "chorus": 1.0,
          "bridge": 0.65, "instrumental": 0.8, "outro": 0.45}
_ALIASES = {"intro": "intro", "verse": "verse", "prechorus": "prechorus", "pre": "prechorus",
            "chorus": "chorus", "hook": "chorus", "refrain": "chorus", "bridge": "bridge",
            "middle": "bridge", "outro": "outro", "ending": "outro", "coda": "outro",
            "inst": "instrumental", "instrumental": "instrumental", "interlude": "instrumental",
            "break": "instrumental", "solo": "instrumental"}


@dataclass(frozen=True)
class LinePlan:
    """A lyric line placed in time: `beats` from `start_beat`; its syllables are numbered from `first_syllable`.

    A line with no sung word (digits or symbols only) is a rest of its length.
    """

    text: str
    words: tuple[Word, ...]  # its sung words (songforge.syllables.sung_words)
    start_beat: float
    beats: float
    first_syllable: int

    @property
    def counts(self) -> tuple[int, ...]:
        """Syllables per sung word."""
        return tuple(len(word.syllables) for word in self.words)

    @property
    def n_syllables(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class SectionPlan:
    """A section of the song: its tag, kind (intro/verse/.../outro), energy 0..1, span in beats, lines."""

    tag: str
    kind: str
    energy: float
    start_beat: float
    beats: float
    lines: tuple[LinePlan, ...] = ()

    @property
    def end_beat(self) -> float:
        return self.start_beat + self.beats

    @property
    def bars(self) -> int:
        return math.ceil(self.beats / BEATS_PER_BAR)


def section_kind(tag: str) -> str:
    """'verse2' -> 'verse', 'pre_chorus' -> 'prechorus', 'hook' -> 'chorus'; unknown tags are verses."""
    name = re.sub(r"[\d_\W]+", "", tag.lower())
    if name in _ALIASES:
        return _ALIASES[name]
    return next((kind for alias, kind in _ALIASES.items() if name.startswith(alias)), "verse")


def plan_form(lyrics: Lyrics, bpm: float, duration_s: float, tail_s: float,
              bars_per_line: int | None = None, language: str = "en") -> tuple[SectionPlan, ...]:
    """Lay the lyric sections out in beats so the song (plus a `tail_s` ring-out) lasts about `duration_s`.

    Lines get `bars_per_line` bars (None: each line as roomy as the duration allows); instrumental
    sections, an added intro/outro and, when needed, breaks after choruses absorb the rest.
    Syllables are counted as sung in the song's `language` (songforge.syllables).
    """
    beat_s = 60.0 / bpm
    target_beats = max(10.0, duration_s) / beat_s - tail_s / beat_s
    words = [[tuple(sung_words(line, language)) for line in s.lines] for s in lyrics.sections]
    counts = [[sum(len(word.syllables) for word in line) for line in section] for section in words]
    if bars_per_line is None:
        line_bars = _fit_line_bars(counts, lyrics, target_beats)
    else:
        line_bars = [[_line_bars(n, bars_per_line) for n in section] for section in counts]
    vocal_beats = BEATS_PER_BAR * sum(map(sum, line_bars))
    need_s = (vocal_beats + FINAL_CHORD_BEATS) * beat_s + tail_s
    if need_s > duration_s * (1 + DURATION_TOLERANCE) and bars_per_line is None:
        raise ParamsError("duration_s", f"the lyrics need at least {need_s:.0f} s at {bpm:g} bpm",
                          f"raise duration_s to {math.ceil(need_s)} or more, raise bpm, or shorten the lyrics")
    blocks = _blocks(lyrics, line_bars)
    pad_beats = max(0, round(target_beats) - vocal_beats)
    _fill_pads(blocks, pad_beats)
    return _layout(blocks, words, lyrics)


def min_duration_s(lyrics: Lyrics, bpm: float, tail_s: float, bars_per_line: int | None = None,
                   language: str = "en") -> float:
    """The shortest duration_s plan_form lays these lyrics out in at `bpm`: every line as densely as the
    engine sings it (or at `bars_per_line`), the final chord and the tail, less the form's tolerance.

    Linear in the lyrics, so params can refuse lyrics too long for any song before a run starts.
    """
    per_line = 0 if bars_per_line is None else bars_per_line
    vocal_beats = BEATS_PER_BAR * sum(_line_bars(sum(line_syllables(line, language)), per_line)
                                      for section in lyrics.sections for line in section.lines)
    return ((vocal_beats + FINAL_CHORD_BEATS) * 60.0 / bpm + tail_s) / (1 + DURATION_TOLERANCE)


def _line_bars(n_syllables: int, per_line: int) -> int:
    """Bars for a line: `per_line`, or more when its syllables would crowd (per_line 0: dense packing)."""
    if per_line == 0:
        return max(1, math.ceil(n_syllables / DENSE_SYLLABLES_PER_BAR))
    return max(per_line, math.ceil(n_syllables / SYLLABLES_PER_BAR))


def _fit_line_bars(counts: list[list[int]], lyrics: Lyrics, target_beats: float) -> list[list[int]]:
    """Bars per line (`counts`: syllables per line, per section), as roomy as the target allows: every line
    starts densely packed and relaxes a step at a time (choruses first) while the vocal plus the shortest
    instrumental sections fit."""
    steps = [[0 for _ in section] for section in counts]
    last = len(lyrics.sections) - 1
    min_pad_beats = sum(_min_pad_beats(True, i == last) for i, s in enumerate(lyrics.sections) if s.is_instrumental)
    min_pad_beats += 0 if lyrics.sections[last].is_instrumental else _min_pad_beats(False, True)
    if not lyrics.sections[0].is_instrumental and BEATS_PER_BAR <= INTRO_SHARE * target_beats:
        min_pad_beats += BEATS_PER_BAR  # room for a bar of intro before the voice comes in
    budget = target_beats * (1 + FIT_SLACK) - min_pad_beats
    short = BEATS_PER_BAR * sum(_line_bars(n, 2) for c in counts for n in c) <= SHORT_LYRICS * target_beats
    levels = (0, 1, 2, 4) if short else (0, 1, 2)
    order = sorted(((i, j) for i, c in enumerate(counts) for j in range(len(c))),
                   key=lambda ij: section_kind(lyrics.sections[ij[0]].tag) != "chorus")
    bars = lambda: [[_line_bars(n, levels[k]) for n, k in zip(c, ks)] for c, ks in zip(counts, steps)]  # noqa: E731
    changed = True
    while changed:
        changed = False
        for i, j in order:
            if steps[i][j] + 1 < len(levels):
                steps[i][j] += 1
                if BEATS_PER_BAR * sum(map(sum, bars())) <= budget:
                    changed = True
                else:
                    steps[i][j] -= 1
    return bars()


@dataclass
class _Block:
    """A section under construction: vocal (bars per line) or an instrumental pad (bars to fill)."""

    tag: str
    kind: str
    line_bars: list[int]
    pad_beats: int = 0
    cap_bars: int = _PAD_CAP_BARS
    source: int | None = None  # index into lyrics.sections, None for an added section

    @property
    def is_pad(self) -> bool:
        return not self.line_bars


def _blocks(lyrics: Lyrics, line_bars: list[list[int]]) -> list[_Block]:
    blocks = [_Block(s.tag, section_kind(s.tag) if s.lines else _pad_kind(s.tag), bars, source=i)
              for i, (s, bars) in enumerate(zip(lyrics.sections, line_bars))]
    if not blocks[0].is_pad:
        blocks.insert(0, _Block("intro", "intro", [], cap_bars=_AUTO_PAD_CAP_BARS))
    if not blocks[-1].is_pad:
        blocks.append(_Block("outro", "outro", [], cap_bars=_AUTO_PAD_CAP_BARS))
    return blocks


def _pad_kind(tag: str) -> str:
    kind = section_kind(tag)
    return kind if kind in ("intro", "outro") else "instrumental"


def _fill_pads(blocks: list[_Block], pad_beats: int) -> None:
    """Share `pad_beats` among the pad blocks in whole bars (the last block takes the odd beats).

    The song's own instrumental sections keep a bar each and the last block half a bar for the
    final chord; an added intro may stay empty. Pads fill round-robin up to their caps; past
    that, breaks go in after choruses, then the caps are ignored.
    """
    pads = [b for b in blocks if b.is_pad]
    for pad in pads:
        pad.pad_beats = _min_pad_beats(pad.source is not None, pad is blocks[-1])
    bars, odd_beats = divmod(max(0, pad_beats - sum(p.pad_beats for p in pads)), BEATS_PER_BAR)
    room_bars = sum(max(0, p.cap_bars * BEATS_PER_BAR - p.pad_beats) // BEATS_PER_BAR for p in pads)
    _insert_breaks(blocks, bars - room_bars)
    pads = [b for b in blocks if b.is_pad]
    while bars > 0:
        room = [p for p in pads if p.pad_beats + BEATS_PER_BAR <= p.cap_bars * BEATS_PER_BAR] or pads
        for pad in room[:bars]:
            pad.pad_beats += BEATS_PER_BAR
        bars -= min(bars, len(room))
    blocks[-1].pad_beats += odd_beats


def _min_pad_beats(own: bool, last: bool) -> int:
    """The song's last section holds its final chord half a bar; the lyrics' own pads last a bar."""
    return FINAL_CHORD_BEATS if last else BEATS_PER_BAR if own else 0


def _insert_breaks(blocks: list[_Block], excess_bars: int) -> None:
    """Add instrumental breaks after choruses (or any vocal section) until they absorb `excess_bars`."""
    vocal = [i for i, b in enumerate(blocks) if not b.is_pad][:-1]
    after = [i for i in vocal if blocks[i].kind == "chorus"] or vocal
    for index in sorted(after, reverse=True)[: math.ceil(max(0, excess_bars) / _PAD_CAP_BARS)]:
        blocks.insert(index + 1, _Block("break", "instrumental", []))


def _layout(blocks: list[_Block], words: list[list[tuple[Word, ...]]], lyrics: Lyrics) -> tuple[SectionPlan, ...]:
    """Blocks end to end from beat 0, lines numbered by their first syllable; empty pads dropped."""
    sections, beat, syllable = [], 0.0, 0
    for block in blocks:
        start, lines = beat, []
        if block.source is not None:
            texts = lyrics.sections[block.source].lines
            for text, line_words, bars in zip(texts, words[block.source], block.line_bars):
                lines.append(LinePlan(text, line_words, beat, float(BEATS_PER_BAR * bars), syllable))
                beat += BEATS_PER_BAR * bars
                syllable += lines[-1].n_syllables
        beat += block.pad_beats
        if beat > start:
            sections.append(SectionPlan(block.tag, block.kind, ENERGY[block.kind], start, beat - start, tuple(lines)))
    return tuple(sections)


def known_section(tag: str) -> bool:
    """Whether a tag names a section kind the form knows ('verse', 'chorus2', 'pre_chorus'), not a guess."""
    return re.sub(r"[\d_\W]+", "", tag.lower()) in _ALIASES
