"""Octave slips in a pitch contour: short stretches a whole octave (or two) off their context, folded back.

A pitch tracker sometimes reads a sub- or super-harmonic for a few frames: the contour jumps by an octave,
holds, and jumps back. Held longer than the note rule (MIN_NOTE_FRAMES), such a slip counts as a note and
stretches the vocal range by an octave. This file knows contours (fractional MIDI per frame, NaN where
unvoiced), not audio: `fix_octave_slips` is pure and cheap, and runs before notes are counted.
"""

from __future__ import annotations

import numpy as np

# A stretch is a slip only if it is at most this long: the demo album's slip held 16 frames; a real note
# sung an octave away from both of its neighbours and back lasts longer (an eighth note at 150 bpm is 20).
MAX_SLIP_FRAMES = 18
# Two octaves down from a note and straight back to it is no sung interval at any length a note of a song holds:
# such a slip may be longer (a 3-minute sketch song slipped two octaves for 19 frames between two of its 72s).
MAX_TWO_OCTAVE_SLIP_FRAMES = 40
JUMP_SEMITONES = 6.0  # a frame-to-frame jump this large starts a new stretch (a slip jumps 12 or 24)
OCTAVE_TOLERANCE = 1.0  # folded by whole octaves, a slip lands within this of its neighbour
NEIGHBOUR_FRAMES = 5  # a neighbour's pitch is the median of its frames nearest the stretch
MAX_GAP_FRAMES = 30  # a stretch across a breath longer than this (300 ms) has no neighbour on that side
BREATH_FRAMES = 10  # stretches at one pitch with a gap this short between them are one slip (or one note)
MAX_OCTAVES = 2


def fix_octave_slips(midi: np.ndarray, max_frames: int = MAX_SLIP_FRAMES) -> np.ndarray:
    """A copy of (frames,) fractional MIDI (NaN unvoiced) with its octave slips shifted back by whole octaves.

    The contour is cut into stretches at unvoiced frames and at jumps of JUMP_SEMITONES or more; stretches at one
    pitch with no more than BREATH_FRAMES unvoiced between them are taken together (a slip the tracker's voicing
    broke in two). Such a group of at most `max_frames` voiced frames (MAX_TWO_OCTAVE_SLIP_FRAMES when it folds
    by two octaves onto the same note on both sides) is a slip when it lies JUMP_SEMITONES or more from every neighbouring stretch (the voiced
    frames next to it, within MAX_GAP_FRAMES) and, shifted by one or two octaves, lands within OCTAVE_TOLERANCE
    of one of them. A melody that leaps an octave and stays there is kept: the stretch after the leap is long,
    or continues by step into the next note.
    """
    midi = np.asarray(midi, dtype=np.float64).copy()
    stretches = _stretches(midi)
    for first, last in _groups(midi, stretches):
        voiced = sum(end - start for start, end in stretches[first:last + 1])
        pitch = float(np.median(np.concatenate([midi[start:end] for start, end in stretches[first:last + 1]])))
        neighbours = _neighbours(midi, stretches, first, last)
        shift = _octave_shift(pitch, neighbours)
        if shift and voiced <= _longest_slip(pitch + shift, neighbours, abs(shift) // 12, max_frames):
            for start, end in stretches[first:last + 1]:
                midi[start:end] += shift
    return midi


def _stretches(midi: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of voiced frames with no frame-to-frame jump of JUMP_SEMITONES or more."""
    voiced = ~np.isnan(midi)
    jump = np.abs(np.diff(midi)) >= JUMP_SEMITONES  # NaN compares False: voicing edges come from `voiced`
    cut = np.concatenate([[True], jump | ~voiced[1:] | ~voiced[:-1], [True]])  # cut[i]: frame i starts anew
    starts = np.flatnonzero(voiced & cut[:-1])
    ends = np.flatnonzero(voiced & cut[1:]) + 1  # a voiced frame ends its stretch where the next one is cut
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def _longest_slip(folded: float, neighbours: list[float], octaves: float, max_frames: int) -> int:
    """How many voiced frames a slip may hold: MAX_TWO_OCTAVE_SLIP_FRAMES for one two octaves off the same note on
    both sides (down two octaves and back is no sung interval), else `max_frames`."""
    on_both = len(neighbours) == 2 and all(abs(folded - n) <= OCTAVE_TOLERANCE for n in neighbours)
    return max(max_frames, MAX_TWO_OCTAVE_SLIP_FRAMES) if octaves == 2 and on_both else max_frames


def _groups(midi: np.ndarray, stretches: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(first, last) indices of runs of stretches at one pitch (medians within JUMP_SEMITONES) with gaps of at
    most BREATH_FRAMES between them."""
    groups: list[tuple[int, int]] = []
    for index, (start, end) in enumerate(stretches):
        if groups:
            first, last = groups[-1]
            gap = start - stretches[last][1]
            same_pitch = abs(_median(midi, stretches[last]) - _median(midi, (start, end))) < JUMP_SEMITONES
            if gap <= BREATH_FRAMES and same_pitch:
                groups[-1] = (first, index)
                continue
        groups.append((index, index))
    return groups


def _median(midi: np.ndarray, stretch: tuple[int, int]) -> float:
    return float(np.median(midi[stretch[0]:stretch[1]]))


def _neighbours(midi: np.ndarray, stretches: list[tuple[int, int]], first: int, last: int) -> list[float]:
    """The pitch of the stretches before stretches[first] and after stretches[last], where one lies within
    MAX_GAP_FRAMES."""
    start, end = stretches[first][0], stretches[last][1]
    found = []
    if first > 0 and start - stretches[first - 1][1] <= MAX_GAP_FRAMES:
        before = stretches[first - 1]
        found.append(float(np.median(midi[max(before[0], before[1] - NEIGHBOUR_FRAMES):before[1]])))
    if last + 1 < len(stretches) and stretches[last + 1][0] - end <= MAX_GAP_FRAMES:
        after = stretches[last + 1]
        found.append(float(np.median(midi[after[0]:min(after[1], after[0] + NEIGHBOUR_FRAMES)])))
    return found


def _octave_shift(pitch: float, neighbours: list[float]) -> float:
    """Semitones (a multiple of 12) that fold `pitch` onto a neighbour, or 0.0 when it is no slip."""
    if not neighbours or any(abs(pitch - n) < JUMP_SEMITONES for n in neighbours):
        return 0.0
    for neighbour in neighbours:
        octaves = round((neighbour - pitch) / 12.0)
        if 0 < abs(octaves) <= MAX_OCTAVES and abs(pitch + 12.0 * octaves - neighbour) <= OCTAVE_TOLERANCE:
            return 12.0 * octaves
    return 0.0
