"""Vocal pitch tracking with the real crepe 'tiny' model and the YuE vocal-range rule."""

from __future__ import annotations

import numpy as np
import pytest

from songforge.errors import ParamsError
from songforge.measure.pitch import HOP_S, MIN_NOTE_FRAMES, held_notes, vocal_pitch

RATE = 22_050
MELODY = (57, 60, 62, 64, 65, 67, 69, 72)  # A3 to C5: 15 semitones
# (index of the host note, glitch MIDI note, seconds): brief slips outside the range. The
# semitone slips show in the track for 3 frames, one short of counting; the octave slips
# are the kind the tracker's Viterbi path never follows.
GLITCHES = ((0, 56, 0.030), (7, 73, 0.030), (3, 52, 0.020), (5, 48, 0.020))


def sung(notes_s: list[tuple[np.ndarray, float]], rate: int = RATE) -> np.ndarray:
    """Harmonic-rich voice-like tone from per-sample MIDI pitch; 30 ms fades at both ends."""
    midi = np.concatenate([pitch for pitch, _ in notes_s])
    phase = 2 * np.pi * np.cumsum(440.0 * 2 ** ((midi - 69) / 12)) / rate
    tone = sum(0.7 ** (k - 1) * np.sin(k * phase) for k in range(1, 9))
    t = np.arange(midi.size) / rate
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.03)
    padding = np.zeros(int(0.1 * rate))
    return np.concatenate([padding, 0.1 * tone * fade, padding]).astype(np.float32)


def melody_with_glitches(rate: int = RATE, glitches: tuple = GLITCHES) -> np.ndarray:
    """MELODY at 0.3 s a note with 5.5 Hz, ±20 cent vibrato, and GLITCHES cut into their hosts."""
    notes = []
    for index, note in enumerate(MELODY):
        t = np.arange(int(0.3 * rate)) / rate
        pitch = note + 0.2 * np.sin(2 * np.pi * 5.5 * t)
        for host, glitch, seconds in glitches:
            if host == index:
                middle = pitch.size // 2
                pitch[middle : middle + int(seconds * rate)] = glitch
        notes.append((pitch, 0.3))
    return sung(notes, rate)


def test_held_notes_counts_a_note_only_after_four_frames():
    contour = np.array(
        [np.nan] * 3 + [60.2] * 4  # 60 held exactly 4 frames: counts
        + [72.0] * 3 + [np.nan]  # 72 for 3 frames: a glitch
        + [64.4, 63.6, 64.1, 63.9, 64.2]  # 64 for 5 frames despite wobble
        + [40.0, 40.0, np.nan, 40.0, 40.0]  # 40 twice, broken by an unvoiced frame
        + [55.0] + [67.0] * 6 + [55.0, 55.0]
    )
    assert held_notes(contour).tolist() == [60, 64, 67]
    assert held_notes(contour, min_frames=1).tolist() == [40, 55, 60, 64, 67, 72]
    assert MIN_NOTE_FRAMES == 4


def test_held_notes_of_an_unvoiced_or_empty_contour_is_empty():
    assert held_notes(np.full(50, np.nan)).size == 0
    assert held_notes(np.zeros(0)).size == 0


def test_sung_melody_range_is_exact_and_glitches_do_not_count():
    pitch = vocal_pitch(melody_with_glitches(), RATE)
    assert (pitch.lowest_midi, pitch.highest_midi) == (min(MELODY), max(MELODY))
    assert pitch.range_semitones == max(MELODY) - min(MELODY)
    # The semitone slips did reach the track: the 4-frame rule, not the tracker, left them out.
    assert {min(MELODY) - 1, max(MELODY) + 1} <= set(held_notes(pitch.midi, min_frames=MIN_NOTE_FRAMES - 1))
    assert pitch.times_s.shape == pitch.midi.shape
    assert np.allclose(np.diff(pitch.times_s), HOP_S)
    voiced = pitch.midi[~np.isnan(pitch.midi)]
    assert voiced.size > 0.8 * len(MELODY) * 0.3 / HOP_S
    assert np.isnan(pitch.midi[:5]).all()  # the leading 100 ms of silence is unvoiced


def held(note: float, seconds: float = 0.3, rate: int = RATE) -> tuple[np.ndarray, float]:
    return np.full(int(seconds * rate), float(note)), seconds


def test_octave_leaps_are_followed_legato_and_across_a_breath():
    legato = vocal_pitch(sung([held(52), held(64), held(76), held(64)]), RATE)
    assert (legato.lowest_midi, legato.highest_midi) == (52, 76)
    phrases = np.concatenate([sung([held(50), held(53)]), sung([held(74), held(72)])])
    assert vocal_pitch(phrases, RATE).range_semitones == 24


def test_the_same_vocal_measures_the_same_twice():
    vocals = melody_with_glitches()
    first, second = vocal_pitch(vocals, RATE), vocal_pitch(vocals, RATE)
    assert np.array_equal(first.midi, second.midi, equal_nan=True)


@pytest.mark.slow
def test_full_model_agrees_on_the_melody():
    # Octave slips only: 'full' localises the 30 ms semitone slips to a legitimate 4 frames.
    octave_slips = tuple(g for g in GLITCHES if abs(g[1] - MELODY[g[0]]) >= 12)
    pitch = vocal_pitch(melody_with_glitches(glitches=octave_slips), RATE, model="full")
    assert (pitch.lowest_midi, pitch.highest_midi) == (min(MELODY), max(MELODY))


def test_tracked_pitch_follows_a_steady_note_within_a_quarter_tone():
    pitch = vocal_pitch(sung([(np.full(int(0.5 * 16_000), 63.0), 0.5)], 16_000), 16_000)
    voiced = pitch.midi[~np.isnan(pitch.midi)]
    assert np.median(voiced) == pytest.approx(63.0, abs=0.25)
    assert pitch.range_semitones == 0 and pitch.lowest_midi == 63


def test_silence_has_no_range():
    pitch = vocal_pitch(np.zeros((RATE, 2), dtype=np.float32), RATE)
    assert pitch.range_semitones is None and pitch.lowest_midi is None
    assert np.isnan(pitch.midi).all()


def test_unknown_model_is_refused_naming_the_field():
    with pytest.raises(ParamsError, match="pitch_model"):
        vocal_pitch(np.zeros(RATE, dtype=np.float32), RATE, model="huge")



def test_banded_viterbi_finds_librosas_dense_path():
    import librosa

    from songforge.measure.pitch import LEAP_PROBABILITY, _transition, _viterbi_bins

    rng = np.random.default_rng(3)
    # A wandering pitch with noise, an octave slip and a real leap: the paths must agree bin for bin.
    centre = np.concatenate([np.linspace(120, 140, 80), np.full(10, 80.0), np.full(60, 200.0)])
    bins = np.arange(360)[None, :]
    salience = np.exp(-0.5 * ((bins - centre[:, None]) / 3.0) ** 2) + 0.05 * rng.random((centre.size, 360))
    emission = salience / salience.sum(axis=1, keepdims=True) + 1e-9
    expected = librosa.sequence.viterbi(emission.T, _transition(LEAP_PROBABILITY))
    assert np.array_equal(_viterbi_bins(salience), expected)
