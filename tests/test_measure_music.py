"""Tempo and key of synthesised drum loops and chord progressions; MIREX tempo accuracies and key scores."""

from __future__ import annotations

import numpy as np
import pytest

from songforge.errors import ParamsError
from songforge.measure.key import estimate_key, key_from_chroma, key_score
from songforge.measure.rhythm import estimate_tempo, tempo_accuracy1, tempo_accuracy2
from songforge.music import Key, midi_to_hz

RATE = 22_050


def drum_loop(bpm: float, seconds: float = 12.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, closed hi-hat on every eighth note; mono float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.15 * rate)) / rate
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-30 * t)) * t) * np.exp(-20 * t)
    snare = 0.5 * rng.standard_normal(t.size) * np.exp(-30 * t)
    hat = 0.2 * rng.standard_normal(t.size) * np.exp(-120 * t)
    out = np.zeros(int(seconds * rate) + t.size)
    eighths = int(seconds * bpm / 30)
    for eighth in range(eighths):
        start = int(eighth * 30 / bpm * rate)
        hit = hat + (0 if eighth % 2 else kick if eighth % 4 == 0 else snare)
        out[start : start + t.size] += hit
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def tone(midi: int, seconds: float, rate: int = RATE) -> np.ndarray:
    """Six harmonics falling 4.4 dB each, 10 ms attack, 50 ms release."""
    t = np.arange(int(seconds * rate)) / rate
    partials = sum(0.6 ** (k - 1) * np.sin(2 * np.pi * k * midi_to_hz(midi) * t) for k in range(1, 7))
    return partials * np.minimum(1.0, np.minimum(t / 0.01, (seconds - t) / 0.05))


def cadence(key: Key, seconds_per_chord: float = 1.0, rate: int = RATE) -> np.ndarray:
    """I-IV-V-I (i-iv-V-i in minor, with the raised leading tone) twice, triads over a bass."""
    tonic = 48 + key.tonic
    third = 4 if key.mode == "major" else 3
    chords = [(0, third), (5, third), (7, 4), (0, third)] * 2
    audio = np.concatenate([
        sum(tone(tonic + root + step, seconds_per_chord, rate) for step in (-12, 0, chord_third, 7))
        for root, chord_third in chords
    ])
    return (0.2 * audio / np.abs(audio).max()).astype(np.float32)


@pytest.mark.parametrize("bpm", [90, 120, 128])
def test_drum_loop_tempo_meets_accuracy1(bpm):
    estimated = estimate_tempo(drum_loop(bpm), RATE)
    assert tempo_accuracy1(estimated, bpm), estimated


def test_tempo_is_read_from_stereo_at_any_rate():
    loop = drum_loop(120, rate=44_100)
    assert tempo_accuracy1(estimate_tempo(np.stack([loop, loop], axis=1), 44_100), 120)


def test_tempo_of_silence_is_zero():
    assert estimate_tempo(np.zeros(5 * RATE, dtype=np.float32), RATE) == 0.0


@pytest.mark.parametrize(
    "estimated, acc1, acc2",
    [
        (120.0, True, True), (124.7, True, True), (115.3, True, True),  # within 4%
        (125.0, False, False), (114.0, False, False),  # just outside
        (240.0, False, True), (360.0, False, True), (60.0, False, True), (40.0, False, True),
        (249.0, False, True), (231.0, False, True),  # 4% of the doubled tempo
        (180.0, False, False), (80.0, False, False), (480.0, False, False),  # 3/2, 2/3, 4x
    ],
)
def test_mirex_accuracies_against_120_bpm(estimated, acc1, acc2):
    assert tempo_accuracy1(estimated, 120.0) is acc1
    assert tempo_accuracy2(estimated, 120.0) is acc2


def test_tempo_accuracy_refuses_a_non_positive_reference():
    with pytest.raises(ParamsError, match="bpm"):
        tempo_accuracy1(120.0, 0.0)


@pytest.mark.parametrize("name", ["C major", "G major", "F# major", "Bb major", "A minor", "E minor", "C# minor", "F minor"])
def test_cadence_key_is_estimated(name):
    key = Key.parse(name)
    assert estimate_key(cadence(key), RATE) == key


def test_temperley_profile_agrees_on_cadences():
    for name in ("D major", "G minor"):
        assert estimate_key(cadence(Key.parse(name)), RATE, profile="temperley") == Key.parse(name)


def test_silence_and_flat_chroma_have_no_key():
    assert estimate_key(np.zeros(3 * RATE, dtype=np.float32), RATE) is None
    assert key_from_chroma(np.ones(12)) is None


@pytest.mark.parametrize(
    "estimated, reference, score",
    [
        ("C major", "C major", 1.0),
        ("G major", "C major", 0.5), ("F major", "C major", 0.5),  # fifth above and below
        ("E minor", "A minor", 0.5), ("D minor", "A minor", 0.5),
        ("A minor", "C major", 0.3), ("C major", "A minor", 0.3),  # relative
        ("C minor", "C major", 0.2), ("A major", "A minor", 0.2),  # parallel
        ("D major", "C major", 0.0), ("G minor", "C major", 0.0),  # fifth but other mode
        ("E minor", "C major", 0.0), ("C major", "E minor", 0.0), ("F# major", "C major", 0.0),
    ],
)
def test_mirex_weighted_key_score(estimated, reference, score):
    assert key_score(Key.parse(estimated), Key.parse(reference)) == score
