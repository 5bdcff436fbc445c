"""measure_audio / measure_file end to end on a short synthesised song with a vocal stem."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from songforge.audio.io import write_wav
from songforge.errors import AudioError, ParamsError
from songforge.measure.metrics import SongMetrics, measure_audio, measure_file
from songforge.music import Key
from test_measure_music import cadence, drum_loop
from test_measure_pitch import MELODY, melody_with_glitches

RATE = 22_050
BPM = 120
KEY = Key.parse("G major")
FIELDS = {
    "lufs", "true_peak_dbtp", "lra_lu", "duration_s", "bandwidth_hz", "rolloff_99_hz", "stereo_width", "clipped_samples",
    "tempo_bpm", "tempo_acc1", "tempo_acc2", "key", "key_score",
    "vocal_range_semitones", "vocal_lowest", "vocal_highest",
}


@pytest.fixture(scope="module")
def song() -> tuple[np.ndarray, np.ndarray]:
    """A 16 s stereo mix (G major cadences, 120 bpm drums, slightly wide) and its vocal stem."""
    chords = np.tile(cadence(KEY, seconds_per_chord=2.0), 2)
    drums = drum_loop(BPM, seconds=chords.size / RATE)[: chords.size]
    mono = chords + 0.5 * drums
    mix = np.stack([mono, 0.95 * mono + 0.02 * np.roll(drums, 300)], axis=1)
    return (0.5 * mix / np.abs(mix).max()).astype(np.float32), melody_with_glitches(RATE)


@pytest.fixture(scope="module")
def measured(song) -> SongMetrics:
    mix, vocals = song
    return measure_audio(mix, RATE, vocals=vocals, bpm=BPM, key="G major")


def test_measure_audio_fills_every_field(song, measured):
    mix, _ = song
    metrics = measured
    assert metrics.key == "G major" and metrics.key_score == 1.0
    assert metrics.tempo_acc1 == 1.0 and metrics.tempo_acc2 == 1.0
    assert metrics.vocal_range_semitones == max(MELODY) - min(MELODY)
    assert (metrics.vocal_lowest, metrics.vocal_highest) == (min(MELODY), max(MELODY))
    assert -30 < metrics.lufs < -5 and metrics.true_peak_dbtp == pytest.approx(-6.0, abs=0.5)
    assert metrics.duration_s == pytest.approx(mix.shape[0] / RATE)
    assert 0 < metrics.stereo_width < 0.1 and metrics.clipped_samples == 0
    assert metrics.pitch is not None and metrics.pitch.midi.size == metrics.pitch.times_s.size


def test_to_dict_is_flat_strict_json_without_the_contour(measured):
    row = measured.to_dict()
    assert set(row) == FIELDS
    assert all(value is None or isinstance(value, (int, float, str)) for value in row.values())
    assert json.loads(json.dumps(row, allow_nan=False)) == row


def test_absent_inputs_leave_their_fields_none(song):
    mix, _ = song
    row = measure_audio(mix, RATE).to_dict()
    for name in ("tempo_acc1", "tempo_acc2", "key_score", "vocal_range_semitones", "vocal_lowest", "vocal_highest"):
        assert row[name] is None, name
    assert row["key"] == "G major" and row["tempo_bpm"] > 0


def test_silence_measures_without_crashing():
    silence = np.zeros((4 * RATE, 2), dtype=np.float32)
    metrics = measure_audio(silence, RATE, vocals=silence, bpm=BPM, key=KEY)
    assert metrics.lufs == -math.inf and metrics.key is None and metrics.key_score == 0.0
    assert metrics.tempo_acc1 == 0.0 and metrics.vocal_range_semitones is None
    row = metrics.to_dict()
    assert row["lufs"] is None and row["true_peak_dbtp"] is None and row["lra_lu"] is None
    json.dumps(row, allow_nan=False)


def test_measure_file_reads_mix_and_vocal_stem(song, measured, tmp_path):
    mix, vocals = song
    mix_path = write_wav(tmp_path / "mix.wav", mix, RATE, "FLOAT")
    vocals_path = write_wav(tmp_path / "vocals.wav", vocals[:, None], RATE, "FLOAT")
    from_file = measure_file(mix_path, vocals_path, bpm=BPM, key=KEY)
    assert isinstance(from_file, SongMetrics)
    assert from_file == measured  # lossless float WAV, repeatable tracker: identical numbers


def test_bad_inputs_name_the_field_and_fix(song):
    mix, _ = song
    with pytest.raises(ParamsError, match="key"):
        measure_audio(mix, RATE, key="H lydian")
    with pytest.raises(AudioError, match="audio.*NaN"):
        measure_audio(np.full((RATE, 2), np.nan, dtype=np.float32), RATE)
    with pytest.raises(AudioError, match="vocals"):
        measure_audio(mix, RATE, vocals=np.zeros((0, 1), dtype=np.float32))
    with pytest.raises(ParamsError, match="sample_rate"):
        measure_audio(mix, 0)
    with pytest.raises(ParamsError, match="bpm"):
        measure_audio(mix, RATE, bpm=-5)
    with pytest.raises(ParamsError, match="pitch_model"):
        measure_audio(mix, RATE, pitch_model="large")
