"""The sketch engine end to end: rendered stems, determinism, and what the measurements hear in them."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest

from songforge.engine.sketch.engine import VERSION

from songforge.engine.base import Stems
from songforge.measure.key import estimate_key, key_score
from songforge.measure.rhythm import estimate_tempo, tempo_accuracy1
from songforge.music import Key
from songforge.params import SongSpec
from songforge.registry import get_engine
from songforge.syllables import line_syllables

LYRICS = """[verse]
City lights are fading into morning
I keep your letters folded in my coat
Every step a promise I am keeping
Every word a song I never wrote

[chorus]
Hold on, hold on, the night is almost over
Hold on, hold on, the sun is coming through
"""
SAMPLE_RATE = 44_100
PEAK_LIMIT = 10 ** (-1 / 20) + 1e-6


def song(bpm: float = 120, key: str = "C major", **fields) -> SongSpec:
    return SongSpec(title="Guide", lyrics=LYRICS, bpm=bpm, key=key, duration_s=30, **fields)


@lru_cache(maxsize=None)
def render(bpm: float = 120, key: str = "C major", seed: int = 0) -> Stems:
    engine = get_engine("sketch")
    return engine.generate(song(bpm, key), engine.Params(), seed)


def test_registry_gives_the_engine_with_valid_default_params():
    engine = get_engine("sketch")
    params = engine.Params.model_validate({})
    identity = engine.identity(params)
    assert engine.name == "sketch" and identity.startswith(VERSION + ":")
    assert engine.identity(engine.Params(humanize=0.0)) != identity
    assert engine.identity(engine.Params()) == identity


def test_stems_are_stereo_44k_float32_of_the_requested_length_with_headroom():
    stems = render()
    assert stems.sample_rate == SAMPLE_RATE
    assert stems.vocals.dtype == np.float32 and stems.instrumental.dtype == np.float32
    assert stems.vocals.shape == stems.instrumental.shape and stems.vocals.shape[1] == 2
    assert 10.0 <= stems.duration_s and abs(stems.duration_s / 30 - 1) <= 0.15
    for audio in (stems.vocals, stems.instrumental, stems.vocals + stems.instrumental):
        assert 0.1 < np.max(np.abs(audio)) <= PEAK_LIMIT
    assert stems.metadata["sections"][-1]["end_s"] <= stems.duration_s
    assert json.loads(json.dumps(stems.metadata)) == stems.metadata


def test_same_seed_is_bit_identical_and_another_seed_differs():
    engine = get_engine("sketch")
    again = engine.generate(song(), engine.Params(), 0)
    first, other = render(), render(seed=1)
    assert np.array_equal(first.vocals, again.vocals) and np.array_equal(first.instrumental, again.instrumental)
    assert first.metadata == again.metadata
    assert first.metadata["vocal_notes"] != other.metadata["vocal_notes"]
    assert first.vocals.shape != other.vocals.shape or not np.array_equal(first.instrumental, other.instrumental)


def test_guide_vocal_sings_one_note_per_syllable_in_order():
    stems = render()
    syllables = sum(sum(line_syllables(line)) for section in song().sections.sections for line in section.lines)
    notes = stems.metadata["vocal_notes"]
    assert len(notes) == syllables
    assert [n[3] for n in notes] == list(range(syllables))
    onsets = [n[0] for n in notes]
    assert onsets == sorted(onsets) and onsets[-1] + notes[-1][1] <= stems.duration_s


@pytest.mark.parametrize("bpm, key", [(96, "A minor"), (120, "C major"), (128, "F# minor")])
def test_measured_tempo_and_key_match_the_request(bpm, key):
    stems = render(bpm, key)
    mix = stems.vocals + stems.instrumental
    tempo = estimate_tempo(mix, SAMPLE_RATE)
    estimated = estimate_key(mix, SAMPLE_RATE)
    assert tempo_accuracy1(tempo, bpm), f"measured {tempo:.1f} bpm for {bpm}"
    assert key_score(estimated, Key.parse(key)) >= 0.5, f"measured {estimated} for {key}"


def test_vocal_stem_pitch_is_in_the_scale_and_spans_an_octave():
    from songforge.measure.pitch import vocal_pitch

    stems = render(96, "A minor")
    pitch = vocal_pitch(stems.vocals, SAMPLE_RATE)
    voiced = pitch.midi[~np.isnan(pitch.midi)]
    in_scale = np.mean([round(m) % 12 in Key.parse("A minor").scale for m in voiced])
    assert voiced.size > 500 and in_scale >= 0.95
    assert pitch.range_semitones is not None and pitch.range_semitones >= 12
    written = [n[2] for n in stems.metadata["vocal_notes"]]
    assert max(written) - min(written) >= 12


def _clickiness(audio: np.ndarray) -> float:
    """Largest second difference relative to its 20 ms neighbourhood (a step stands out ~20x)."""
    from scipy.ndimage import uniform_filter1d

    mono = audio.mean(axis=1).astype(np.float64)
    curvature = np.diff(mono, 2)
    window = int(0.02 * SAMPLE_RATE)
    local = np.sqrt(np.maximum(uniform_filter1d(curvature ** 2, window), 0) + 1e-12)
    loud = uniform_filter1d(mono[2:] ** 2, window) > 1e-6
    return float(np.max(np.abs(curvature) / local * loud))


def test_vocal_notes_start_and_stop_without_clicks():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    cut = 0.5 * np.sin(2 * np.pi * 440 * t) * (t < 0.5)
    assert _clickiness(np.stack([cut, cut], axis=1)) > 15  # the measure hears a hard cut
    stems = render()
    assert _clickiness(stems.vocals) < 10
    edge = int(0.002 * SAMPLE_RATE)
    assert np.max(np.abs(stems.vocals[:edge])) < 1e-3 and np.max(np.abs(stems.instrumental[-edge:])) < 1e-2


def test_vocal_and_instrumental_are_balanced():
    from songforge.audio.loudness import integrated_lufs

    stems = render()
    difference = integrated_lufs(stems.vocals, SAMPLE_RATE) - integrated_lufs(stems.instrumental, SAMPLE_RATE)
    assert abs(difference) < 1.0


def test_generate_stage_writes_the_arrangement_as_midi_with_the_sung_notes(tmp_path):
    import io

    import pretty_midi

    from songforge.engine.take import SongTake, generate

    generated = generate(SongTake.of(song()), {}, tmp_path)
    midi = pretty_midi.PrettyMIDI(io.BytesIO(generated.path("arrangement").read_bytes()))
    take = json.loads(generated.path("take").read_text())
    sung = sorted((start, pitch) for start, _, pitch in (n[:3] for n in take["vocal_notes"]))
    assert len(midi.instruments) >= 3 and midi.get_end_time() > 10

    def holds_the_sung_notes(instrument) -> bool:
        notes = sorted((n.start, n.pitch) for n in instrument.notes)
        return len(notes) == len(sung) and all(
            abs(a[0] - b[0]) < 0.01 and a[1] == b[1] for a, b in zip(notes, sung))

    assert sum(map(holds_the_sung_notes, midi.instruments)) == 1, f"no MIDI track holds the {len(sung)} sung notes"
