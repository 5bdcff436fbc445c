"""Melodies: one note per syllable over a line's span, shaped per section, chord tones on the beat."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ...music import Key
from .arrangement import Note
from .form import LinePlan
from .harmony import Chord

ChordAt = Callable[[float], Chord]

# Section kind -> (centre, spread of the contour) as fractions of the register, and the contour.
# Verses sit low, choruses high, the bridge falls from the middle: the guide vocal spans >= an octave.
CONTOURS = {
    "intro": (0.45, 0.3, "arch"), "verse": (0.3, 0.3, "arch"), "prechorus": (0.45, 0.4, "rise"),
    "chorus": (0.72, 0.35, "arch"), "bridge": (0.55, 0.4, "fall"), "instrumental": (0.6, 0.4, "arch"),
    "outro": (0.4, 0.3, "fall"),
}
_SHAPES = {
    "arch": lambda t: math.sin(math.pi * t),
    "rise": lambda t: t,
    "fall": lambda t: 1.0 - t,
}
TONIC_PULL, THIRD_PULL = 1.0, 0.4  # semitones of contour a tonic (third) may cost: the key stays audible
_MAX_UNITS = 4  # longest mid-line note, in grid units (a half note on the eighth grid)
_MAX_LAST_UNITS = 6
_NOISE = 1.5  # semitones of random cost per candidate pitch at temperature 1


def line_rhythm(n_notes: int, beats: float, word_ends: list[bool],
                rng: np.random.Generator, temperature: float = 1.0) -> list[tuple[float, float]]:
    """(offset, length) in beats for `n_notes` notes in `beats`, leaving a breath at the end.

    Eighth-note grid, sixteenths when crowded; spare time lengthens word-final syllables
    and the line's last note; sometimes the line starts on the off-beat. `temperature`
    sharpens (< 1) or flattens (> 1) the preference for lengthening word ends.
    """
    rest = 1.0 if beats >= 4 else 0.5
    grid = 2 if n_notes <= (beats - rest) * 2 else 4
    units = int((beats - rest) * grid)
    assert n_notes <= units, (n_notes, beats)
    lengths = [1] * n_notes
    extra = units - n_notes
    lead = 1 if extra >= 2 and rng.random() < 0.35 else 0
    extra -= lead
    grow = min(extra, _MAX_LAST_UNITS - 1)
    lengths[-1] += grow
    extra -= grow
    for _ in range(extra):
        # Softmax over log-preferences at `temperature`: w ** (1 / T); T = 1 keeps w exactly.
        weights = np.array([(2.0 if end else 1.0) ** (1.0 / temperature) * (length < _MAX_UNITS)
                            for end, length in zip(word_ends[:-1], lengths[:-1])])
        if not weights.any():
            break
        lengths[int(rng.choice(len(weights), p=weights / weights.sum()))] += 1
    onsets = np.cumsum([lead] + lengths[:-1])
    return [(float(o) / grid, float(n) / grid) for o, n in zip(onsets, lengths)]


def pitches(onsets: list[float], kind: str, chord_at: ChordAt, key: Key, register: tuple[int, int],
            rng: np.random.Generator, answer: bool = False, end_on_tonic: bool = False,
            temperature: float = 1.0) -> list[int]:
    """A MIDI pitch per onset (absolute beats): scale tones along the section's contour.

    Onsets on the beat take chord tones; `answer` lines fall; `end_on_tonic` closes on the tonic
    when the last chord holds it. The register is (lowest, highest) MIDI note. Each note is the
    cheapest candidate after random noise scaled by `temperature`: near 0 the line follows the
    contour greedily, at 2 it leaps and wanders more.
    """
    centre, spread, shape = CONTOURS[kind]
    shape = "fall" if answer else shape
    low, high = register
    span = high - low
    centre += float(rng.uniform(-0.08 * temperature, 0.08 * temperature))
    scale = [p for p in range(low, high + 1) if p % 12 in key.scale]
    result, previous = [], None
    for index, beat in enumerate(onsets):
        t = index / max(1, len(onsets) - 1)
        target = low + span * (centre + spread * (_SHAPES[shape](t) - 0.5))
        candidates = _candidates(scale, chord_at(beat), key, beat, last=index == len(onsets) - 1,
                                 end_on_tonic=end_on_tonic)
        previous = min(candidates,
                       key=lambda p: _cost(p, target, previous, key) + float(rng.uniform(0, _NOISE * temperature)))
        result.append(previous)
    return result


def _candidates(scale: list[int], chord: Chord, key: Key, beat: float, last: bool, end_on_tonic: bool) -> list[int]:
    """Pitches a note may take: chord tones on the beat and at line ends, any scale tone between."""
    if last and end_on_tonic and key.tonic in chord.pitch_classes:
        wanted = {key.tonic}
    elif last or beat % 1.0 == 0.0:
        wanted = set(chord.pitch_classes)
    else:
        return scale
    # A harmonic-minor dominant's leading tone is outside the natural scale: keep to its root and fifth.
    return [p for p in scale if p % 12 in wanted] or scale


def _cost(pitch: int, target: float, previous: int | None, key: Key) -> float:
    """Distance from the contour, leaps, repeats; the tonic and the key's third pull the line home."""
    degree = (pitch - key.tonic) % 12
    cost = abs(pitch - target) - (TONIC_PULL if degree == 0 else THIRD_PULL if degree in (3, 4) else 0.0)
    if previous is not None:
        leap = abs(pitch - previous)
        cost += 0.35 * max(0, leap - 2) + (3.0 if leap > 9 else 0.0) + (0.6 if leap == 0 else 0.0)
    return cost


def sing_line(line: LinePlan, kind: str, energy: float, chord_at: ChordAt, key: Key,
              register: tuple[int, int], rng: np.random.Generator, answer: bool, end_on_tonic: bool,
              temperature: float = 1.0) -> list[Note]:
    """The guide vocal's notes for one lyric line: one per syllable, numbered by syllable (none: a rest)."""
    if line.n_syllables == 0:
        return []
    word_ends = [i == n - 1 for n in line.counts for i in range(n)]
    rhythm = line_rhythm(line.n_syllables, line.beats, word_ends, rng, temperature)
    onsets = [line.start_beat + offset for offset, _ in rhythm]
    notes = pitches(onsets, kind, chord_at, key, register, rng, answer, end_on_tonic, temperature)
    base = int(70 + 30 * energy)
    return [Note(onset, length, pitch, _accent(base, onset), line.first_syllable + i)
            for i, ((_, length), onset, pitch) in enumerate(zip(rhythm, onsets, notes))]


def phrase(start_beat: float, beats: float, n_notes: int, kind: str, energy: float, chord_at: ChordAt,
           key: Key, register: tuple[int, int], rng: np.random.Generator, answer: bool = False,
           temperature: float = 1.0) -> list[Note]:
    """An instrumental phrase of `n_notes` notes in `beats` from `start_beat` (a lead line or a fill)."""
    rhythm = line_rhythm(n_notes, beats, [True] * n_notes, rng, temperature)
    onsets = [start_beat + offset for offset, _ in rhythm]
    notes = pitches(onsets, kind, chord_at, key, register, rng, answer, end_on_tonic=answer, temperature=temperature)
    base = int(60 + 35 * energy)
    return [Note(onset, length, pitch, _accent(base, onset))
            for (_, length), onset, pitch in zip(rhythm, onsets, notes)]


def _accent(base: int, beat: float) -> int:
    """Downbeats a little louder, off-beats a little softer."""
    return max(1, min(127, base + (8 if beat % 2.0 == 0.0 else 0 if beat % 1.0 == 0.0 else -6)))
