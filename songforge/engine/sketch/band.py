"""Pitched accompaniment: bass on the chord roots, voice-led chords, a pad for lift, a lead line and fills."""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ...music import Key
from .arrangement import Note
from .form import BEATS_PER_BAR, SectionPlan
from .harmony import Chord
from .melody import phrase

ChordAt = Callable[[float], Chord]
BASS_LOW = 28  # E1: chord roots sit in E1..D#2
CHORD_LOW, CHORD_HIGH = 52, 74  # E3..D5 for keys and guitar voicings
PAD_LOW = 55
_GUITARS = range(24, 32)

# Bass rhythms per energy band: (offset, length, chord tone) within a bar; tones 0..3 are the
# root, third, fifth and octave, so minor chords put their minor third in the bass now and then.
_BASS = {
    "low": (((0, 4, 0),), ((0, 2, 0), (2, 2, 2))),
    "mid": (((0, 1.5, 0), (1.5, 0.5, 0), (2, 1.5, 0), (3.5, 0.5, 2)),
            ((0, 1, 0), (1, 1, 1), (2, 1, 2), (3, 1, 3))),
    "high": (tuple((i * 0.5, 0.5, (0, 0, 3, 0, 2, 0, 1, 0)[i]) for i in range(8)),
             tuple((i * 0.5, 0.5, 0) for i in range(8))),
}
# Chord rhythms: sustained, and comping for keys (halves, then a push) and for guitar (a strum).
_COMP = {
    "keys": ((0, 2), (2, 1.5), (3.5, 0.5)),
    "guitar": ((0, 1), (1, 0.5), (1.5, 1), (2.5, 0.5), (3, 0.5), (3.5, 0.5)),
}


def on_beats(pattern: tuple, beats: int = BEATS_PER_BAR) -> tuple:
    """The pattern's on-beat notes, each held to the next (slow songs: the pulse must read as the tempo)."""
    kept = [step for step in pattern if step[0] % 1 == 0]
    ends = [step[0] for step in kept[1:]] + [beats]
    return tuple((step[0], end - step[0], *step[2:]) for step, end in zip(kept, ends))


def _band(energy: float) -> str:
    return "low" if energy < 0.5 else "mid" if energy < 0.8 else "high"


def bar_spans(sections: tuple[SectionPlan, ...]) -> Iterator[tuple[SectionPlan, float, float, bool]]:
    """(section, bar start beat, beats in the bar, is the song's last bar) for every bar."""
    for index, section in enumerate(sections):
        for bar in range(section.bars):
            start = section.start_beat + bar * BEATS_PER_BAR
            last = index == len(sections) - 1 and bar == section.bars - 1
            yield section, start, min(BEATS_PER_BAR, section.end_beat - start), last


def bass_part(sections: tuple[SectionPlan, ...], chord_at: ChordAt, style: str, rng: np.random.Generator,
              on_beat: bool = False) -> list[Note]:
    """Chord roots (with thirds, fifths and octaves when busier), one pattern per energy band per song."""
    choice = {band: options[int(rng.integers(len(options)))] for band, options in _BASS.items()}
    if style == "four" and not on_beat:  # dance music: the bass answers the four-on-the-floor kick off the beat
        choice["high"] = tuple((i + 0.5, 0.5, 0) for i in range(BEATS_PER_BAR))
    if on_beat:
        choice = {band: on_beats(pattern) for band, pattern in choice.items()}
    notes = []
    for section, start, beats, last in bar_spans(sections):
        chord = chord_at(start)
        root = BASS_LOW + (chord.root - BASS_LOW) % 12
        tones = [root + (pc - chord.root) % 12 for pc in chord.pitch_classes] + [root + 12]
        pattern = ((0, beats, 0),) if last else choice[_band(section.energy)]
        velocity = int(72 + 40 * section.energy)
        notes += [Note(start + offset, min(length, beats - offset) * 0.92, tones[tone], velocity)
                  for offset, length, tone in pattern if offset < beats]
    return notes


def voicing(chord: Chord, previous: tuple[int, ...] | None,
            low: int = CHORD_LOW, high: int = CHORD_HIGH) -> tuple[int, ...]:
    """A close triad in [low, high] that moves least from `previous` (root position when there is none)."""
    options = []
    for bottom in range(low, high - 6):
        if bottom % 12 in chord.pitch_classes:
            notes = [bottom]
            while len(notes) < 3:
                notes.append(next(p for p in range(notes[-1] + 1, notes[-1] + 8) if p % 12 in chord.pitch_classes))
            options.append(tuple(notes))
    if previous is None:
        return min(options, key=lambda v: (v[0] % 12 != chord.root, abs(v[0] - low - 6)))
    return min(options, key=lambda v: sum(abs(a - b) for a, b in zip(v, previous)))


def chord_part(sections: tuple[SectionPlan, ...], chord_at: ChordAt, program: int, on_beat: bool = False) -> list[Note]:
    """Keys or guitar: sustained in quiet sections, comping (strumming for guitars) in busier ones."""
    comp = _COMP["guitar" if program in _GUITARS else "keys"]
    comp = on_beats(comp) if on_beat else comp
    notes, previous = [], None
    for section, start, beats, last in bar_spans(sections):
        previous = voicing(chord_at(start), previous)
        rhythm = ((0, beats),) if (last or section.energy < 0.5 or section.kind == "bridge") else comp
        top = (previous[0] + 12,) if section.energy >= 0.9 else ()
        velocity = int(55 + 40 * section.energy)
        for offset, length in rhythm:
            if offset < beats:
                notes += [Note(start + offset, min(length, beats - offset) * 0.95, p, velocity) for p in previous + top]
    return notes


def pad_part(sections: tuple[SectionPlan, ...], chord_at: ChordAt) -> list[Note]:
    """Sustained open chords (root, fifth, third above) wherever the song lifts: energy >= 0.65."""
    notes = []
    for section, start, beats, _ in bar_spans(sections):
        if section.energy >= 0.65:
            chord = chord_at(start)
            root = PAD_LOW + (chord.root - PAD_LOW) % 12
            third = chord.pitch_classes[1]
            voiced = (root, root + 7, root + 12 + (third - chord.root) % 12)
            notes += [Note(start, beats, p, int(40 + 40 * section.energy)) for p in voiced]
    return notes


def lead_part(sections: tuple[SectionPlan, ...], vocal: list[Note], chord_at: ChordAt, key: Key,
              register: tuple[int, int], rng: np.random.Generator, temperature: float = 1.0) -> list[Note]:
    """Phrases over instrumental sections (two bars at a time) and short fills in the vocal's gaps."""
    notes = []
    for section in sections:
        if not section.lines:
            notes += _lead_phrases(section, chord_at, key, register, rng, temperature)
        elif section.energy >= 0.55:
            for line in section.lines:
                notes += _fill(line.start_beat + line.beats, vocal, section, chord_at, key, register, rng, temperature)
    return notes


def _lead_phrases(section: SectionPlan, chord_at: ChordAt, key: Key, register: tuple[int, int],
                  rng: np.random.Generator, temperature: float = 1.0) -> list[Note]:
    notes = []
    # A quiet intro keeps its first half to the band.
    start = section.start_beat + (BEATS_PER_BAR * (section.bars // 2) if section.kind == "intro" else 0)
    count = 0
    while section.end_beat - start >= 2:
        beats = min(2 * BEATS_PER_BAR, section.end_beat - start)
        n_notes = min(int(rng.integers(4, 8)), int((beats - 1) * 2))
        notes += phrase(start, beats, n_notes, section.kind, section.energy, chord_at, key, register, rng,
                        answer=count % 2 == 1, temperature=temperature)
        start += beats
        count += 1
    return notes


def _fill(line_end: float, vocal: list[Note], section: SectionPlan, chord_at: ChordAt, key: Key,
          register: tuple[int, int], rng: np.random.Generator, temperature: float = 1.0) -> list[Note]:
    """Two to four notes answering the vocal line, in the gap before the next line, if it is long enough."""
    sung_until = max((n.end_beat for n in vocal if n.beat < line_end), default=line_end)
    start = float(np.ceil(sung_until * 2) / 2) + 0.5
    gap = line_end - start
    if gap < 1.5 or rng.random() < 0.3:
        return []
    n_notes = min(4, int(gap * 2) - 1)
    return phrase(start, gap, n_notes, "outro", section.energy * 0.8, chord_at, key, register, rng, answer=True,
                  temperature=temperature)
