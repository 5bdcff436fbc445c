"""Performance feel: swing the off-beat eighths, loosen timing and velocity, keep same-pitch notes apart."""

from __future__ import annotations

import numpy as np

from .arrangement import Note, Track

MAX_JITTER_MS = 12.0  # at humanize = 1; drums get half so the pulse stays tight
MAX_VELOCITY_JITTER = 10
MIN_NOTE_BEATS = 1 / 32


def swing_beat(beat: float, swing: float) -> float:
    """Delay the off-beat eighth to 0.5 + swing/6 of the beat (swing 1 = triplet feel), warping smoothly."""
    if swing <= 0:
        return beat
    whole, frac = divmod(beat, 1.0)
    delayed = 0.5 + swing / 6.0
    warped = frac * delayed / 0.5 if frac < 0.5 else delayed + (frac - 0.5) * (1 - delayed) / 0.5
    return whole + warped


def perform(track: Track, bpm: float, swing: float, humanize: float, rng: np.random.Generator) -> Track:
    """A copy of `track` with swing and humanize applied and overlapping same-pitch notes trimmed."""
    jitter_beats = humanize * MAX_JITTER_MS / 1000.0 * bpm / 60.0 * (0.5 if track.is_drum else 1.0)
    offsets = rng.normal(0.0, jitter_beats / 2, len(track.notes)).clip(-jitter_beats, jitter_beats)
    velocities = rng.integers(-MAX_VELOCITY_JITTER, MAX_VELOCITY_JITTER + 1, len(track.notes)) * humanize
    played = []
    for note, offset, dv in zip(track.notes, offsets, velocities):
        start = max(0.0, swing_beat(note.beat, swing) + float(offset))
        end = swing_beat(note.end_beat, swing) + float(offset)
        velocity = int(max(1, min(127, round(note.velocity + float(dv)))))
        played.append(Note(start, max(MIN_NOTE_BEATS, end - start), note.pitch, velocity, note.syllable))
    return Track(track.name, track.program, track.channel, _untangle(played), track.level_db, track.pan)


def _untangle(notes: list[Note]) -> list[Note]:
    """Sort by onset and end each note before the next onset of the same pitch (a note-off would cut it)."""
    notes = sorted(notes, key=lambda n: (n.beat, n.pitch))
    next_onset: dict[int, float] = {}
    result = []
    for note in reversed(notes):
        limit = next_onset.get(note.pitch)
        if limit is not None and note.end_beat > limit:
            note = Note(note.beat, max(MIN_NOTE_BEATS, limit - note.beat), note.pitch, note.velocity, note.syllable)
        next_onset[note.pitch] = note.beat
        result.append(note)
    return result[::-1]
