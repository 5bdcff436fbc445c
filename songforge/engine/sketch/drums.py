"""Drum parts on the GM percussion kit: a steady beat per style and energy, fills and crashes at joins."""

from __future__ import annotations

from .arrangement import Note
from .form import BEATS_PER_BAR, SectionPlan

SLOW_BPM = 90.0
KICK, SIDE_STICK, SNARE, CLAP, CLOSED_HAT, OPEN_HAT, CRASH, RIDE, TAMBOURINE = 36, 37, 38, 39, 42, 46, 49, 51, 54
LOW_TOM, MID_TOM, HIGH_TOM = 45, 47, 50

# Kick offsets (beats within a 4/4 bar) per style, quiet and loud; the kick always marks beat 1
# and the snare the back-beat so the pulse (and the measured tempo) stays clear.
_KICKS = {
    "pop": ((0, 2), (0, 2, 2.5)),
    "four": ((0, 1, 2, 3), (0, 1, 2, 3)),
    "rock": ((0, 2), (0, 1.5, 2, 2.5)),
    "hiphop": ((0, 2.5), (0, 0.75, 2, 2.5)),
    "soft": ((0, 2), (0, 2)),
}


def drum_part(sections: tuple[SectionPlan, ...], style: str, bpm: float) -> list[Note]:
    """The whole song's drums: one pattern per bar, a fill before louder sections, a crash after.

    Slow songs keep every hit but the fills on the beat, so that the pulse and not its eighth
    notes reads as the tempo.
    """
    on_beat = bpm < SLOW_BPM
    notes: list[Note] = []
    for index, section in enumerate(sections):
        following = sections[index + 1] if index + 1 < len(sections) else None
        lifts = following is not None and following.energy > section.energy
        previous_quieter = index > 0 and sections[index - 1].energy < section.energy
        for bar in range(section.bars):
            start = section.start_beat + bar * BEATS_PER_BAR
            beats = min(BEATS_PER_BAR, section.end_beat - start)
            if following is None and bar == section.bars - 1:
                notes += _final_hit(start, section.energy)
                continue
            fill = lifts and bar == section.bars - 1 and beats == BEATS_PER_BAR
            crash = bar == 0 and (previous_quieter or index == 0) and section.energy >= 0.5
            notes += [n for n in _bar(start, style, section.energy, fill, crash, on_beat) if n.beat < start + beats]
    return notes


def _bar(start: float, style: str, energy: float, fill: bool, crash: bool, on_beat: bool) -> list[Note]:
    loud = energy >= 0.8
    base = 62 + 50 * energy
    hits = [(offset, KICK, 1.0) for offset in _KICKS[style][loud]]
    hits += _backbeat(style, energy)
    hits += _cymbals(style, energy)
    if on_beat:
        hits = [h for h in hits if h[0] % 1 == 0]
    if crash:
        hits.append((0.0, CRASH, 0.95))
    if fill:
        hits = [h for h in hits if h[0] < 3 or h[1] == KICK and h[0] == 3] + _fill(style)
    return [Note(start + offset, 0.25, pitch, _velocity(base * weight)) for offset, pitch, weight in hits]


def _backbeat(style: str, energy: float) -> list[tuple[float, int, float]]:
    if energy < 0.45:
        return [(1.0, SIDE_STICK, 0.8), (3.0, SIDE_STICK, 0.8)]
    hits = [(1.0, SNARE, 0.95), (3.0, SNARE, 0.95)]
    if style in ("four", "hiphop") and energy >= 0.8:
        hits += [(1.0, CLAP, 0.7), (3.0, CLAP, 0.7)]
    return hits


def _cymbals(style: str, energy: float) -> list[tuple[float, int, float]]:
    """Hats (or ride for soft styles): quarters when quiet, eighths, sixteenths for loud electronic styles."""
    cymbal = RIDE if style == "soft" else CLOSED_HAT
    step = 1.0 if energy < 0.45 else 0.25 if (energy >= 0.8 and style in ("four", "hiphop")) else 0.5
    hits = [(i * step, cymbal, 0.62 if (i * step) % 1 == 0 else 0.48) for i in range(int(BEATS_PER_BAR / step))]
    if style == "four" and energy >= 0.8:  # house: the open hat on every off-beat
        hits = [h for h in hits if h[0] % 1 != 0.5] + [(b + 0.5, OPEN_HAT, 0.55) for b in range(BEATS_PER_BAR)]
    elif energy >= 0.8:
        hits = [h for h in hits if h[0] != 3.5] + [(3.5, OPEN_HAT, 0.5)]
    if style == "soft" and energy >= 0.6:
        hits += [(1.0, TAMBOURINE, 0.4), (3.0, TAMBOURINE, 0.4)]
    return hits


def _fill(style: str) -> list[tuple[float, int, float]]:
    """The last beat of a bar before a lift: sixteenth snares (toms for rock), getting louder."""
    pitches = (HIGH_TOM, MID_TOM, LOW_TOM, LOW_TOM) if style == "rock" else (SNARE,) * 4
    return [(3.0 + 0.25 * i, pitch, 0.7 + 0.1 * i) for i, pitch in enumerate(pitches)]


def _final_hit(start: float, energy: float) -> list[Note]:
    velocity = _velocity(70 + 40 * energy)
    return [Note(start, 0.25, KICK, velocity), Note(start, 0.25, CRASH, velocity)]


def _velocity(value: float) -> int:
    return int(max(1, min(127, round(value))))
