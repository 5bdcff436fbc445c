"""Loudness against the EBU Tech 3341 / 3342 reference signals, synthesised here; true peak per BS.1770-4."""

from __future__ import annotations

import numpy as np
import pytest

from songforge.audio import loudness
from songforge.audio.loudness import integrated_lufs, loudness_range_lu, short_term_loudness, true_peak_dbtp
from songforge.errors import AudioError

RATE = 48_000


def sine_sequence(parts: list[tuple[float, float]], channels: int = 2, rate: int = RATE) -> np.ndarray:
    """1 kHz sine in every channel, one (level dBFS, seconds) segment after another."""
    segments = []
    for level_dbfs, seconds in parts:
        t = np.arange(int(round(seconds * rate))) / rate
        segments.append(10 ** (level_dbfs / 20) * np.sin(2 * np.pi * 1000 * t))
    return np.repeat(np.concatenate(segments)[:, None], channels, axis=1).astype(np.float32)


EBU_3341 = {  # case: (segments, expected LUFS)
    1: ([(-23, 20)], -23.0),
    2: ([(-33, 20)], -33.0),
    3: ([(-36, 10), (-23, 60), (-36, 10)], -23.0),
    4: ([(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)], -23.0),
    5: ([(-26, 20), (-20, 20.1), (-26, 20)], -23.0),
}


@pytest.mark.parametrize("case", sorted(EBU_3341))
def test_ebu_3341_stereo_cases_read_within_a_tenth_of_an_lu(case):
    parts, expected = EBU_3341[case]
    assert integrated_lufs(sine_sequence(parts), RATE) == pytest.approx(expected, abs=0.1)


def test_ebu_3341_case_6_five_channels_weights_the_surrounds():
    t = np.arange(20 * RATE) / RATE
    sine = np.sin(2 * np.pi * 1000 * t)
    levels_dbfs = (-28, -28, -24, -30, -30)  # L, R, C, Ls, Rs
    audio = np.stack([10 ** (db / 20) * sine for db in levels_dbfs], axis=1).astype(np.float32)
    assert integrated_lufs(audio, RATE) == pytest.approx(-23.0, abs=0.1)
    # 5.1 in WAV order: a loud LFE channel must not change the reading.
    with_lfe = np.insert(audio, 3, 0.5 * sine.astype(np.float32), axis=1)
    assert integrated_lufs(with_lfe, RATE) == pytest.approx(integrated_lufs(audio, RATE), abs=1e-9)


EBU_3342 = {  # case: (segments, expected LRA in LU)
    1: ([(-20, 20), (-30, 20)], 10.0),
    2: ([(-20, 20), (-15, 20)], 5.0),
    3: ([(-40, 20), (-20, 20)], 20.0),
    4: ([(-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)], 15.0),
}


@pytest.mark.parametrize("case", sorted(EBU_3342))
def test_ebu_3342_loudness_range_cases_read_within_one_lu(case):
    parts, expected = EBU_3342[case]
    assert loudness_range_lu(sine_sequence(parts), RATE) == pytest.approx(expected, abs=1.0)


def test_short_term_loudness_runs_at_ten_hertz_over_three_second_windows():
    levels = short_term_loudness(sine_sequence([(-23, 10)]), RATE)
    assert levels.size == int((10 - 3) / 0.1) + 1
    assert np.allclose(levels[5:-5], -23.0, atol=0.1)


def test_true_peak_finds_the_peak_between_samples():
    # A quarter-rate sine at 45 degrees lands every sample at 0.707 of its crest.
    t = np.arange(RATE) / RATE
    amplitude = 0.5
    sine = amplitude * np.sin(2 * np.pi * RATE / 4 * t + np.pi / 4)
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)  # no step at the ends to ring on
    audio = np.stack([sine * fade, 0.5 * sine * fade], axis=1).astype(np.float32)
    sample_peak_db = 20 * np.log10(np.max(np.abs(audio)))
    expected_db = 20 * np.log10(amplitude)
    assert sample_peak_db < expected_db - 2.9
    assert true_peak_dbtp(audio, RATE) == pytest.approx(expected_db, abs=0.2)


def test_true_peak_is_found_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(loudness, "TRUE_PEAK_CHUNK", 1000)
    t = np.arange(5000) / RATE
    audio = (0.25 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    audio[2995:3005] = 0.9 * np.hanning(10)  # a burst straddling the boundary at 3000
    chunked = true_peak_dbtp(audio, RATE)
    monkeypatch.setattr(loudness, "TRUE_PEAK_CHUNK", 1 << 20)
    assert chunked == pytest.approx(true_peak_dbtp(audio, RATE), abs=1e-6)
    assert chunked >= 20 * np.log10(np.max(np.abs(audio)))


def test_silence_and_very_short_audio_do_not_crash():
    silence = np.zeros((5 * RATE, 2), dtype=np.float32)
    assert integrated_lufs(silence, RATE) == float("-inf")
    assert true_peak_dbtp(silence, RATE) == float("-inf")
    assert np.isnan(loudness_range_lu(silence, RATE))
    blip = sine_sequence([(-20, 0.2)])
    assert integrated_lufs(blip, RATE) == float("-inf")
    assert np.isnan(loudness_range_lu(blip, RATE))
    assert true_peak_dbtp(blip, RATE) == pytest.approx(-20.0, abs=0.2)


def test_mono_reads_like_one_channel_of_stereo():
    stereo = sine_sequence([(-20, 5)])
    assert integrated_lufs(stereo[:, 0], RATE) == pytest.approx(integrated_lufs(stereo, RATE) - 3.01, abs=0.02)


def test_more_than_six_channels_is_refused_with_a_fix():
    with pytest.raises(AudioError, match="Fix"):
        integrated_lufs(np.zeros((RATE, 8), dtype=np.float32), RATE)


@pytest.mark.parametrize("rate", [11_025, 44_100, 48_000])
def test_one_pass_reads_pyloudnorms_integrated_loudness_and_the_short_term_levels_it_gates(rate):
    import pyloudnorm

    rng = np.random.default_rng(rate)
    audio = (0.1 * rng.standard_normal((rate * 9 + 123, 2))).astype(np.float32)
    audio[: 3 * rate] *= 0.003  # a quiet start the relative gate drops
    reading = loudness.loudness(audio, rate)
    reference = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(audio.astype(np.float64))
    assert reading.integrated_lufs == pytest.approx(reference, abs=1e-9)
    assert reading.integrated_lufs == integrated_lufs(audio, rate)
    assert np.array_equal(reading.short_term_lufs, short_term_loudness(audio, rate))
    assert reading.lra_lu == loudness_range_lu(audio, rate) and reading.lra_lu > 5  # the quiet start is in range
    # short-term windows straight from their definition: K-weighted mean square of each 3 s window
    weighted = np.stack([pyloudnorm.Meter(rate, filter_class="DeMan")._filters["high_pass_DeMan"].apply_filter(
        pyloudnorm.Meter(rate, filter_class="DeMan")._filters["high_shelf_DeMan"].apply_filter(
            audio[:, c].astype(np.float64))) for c in range(2)], axis=1)
    window, step = 3 * rate, int(round(0.1 * rate))
    direct = [-0.691 + 10 * np.log10(np.sum(weighted[s:s + window] ** 2) / window)
              for s in range(0, len(audio) - window + 1, step)]
    assert np.allclose(reading.short_term_lufs, direct, atol=1e-9)


def test_the_filter_pass_runs_in_chunks_with_the_same_reading_and_little_memory(monkeypatch):
    import tracemalloc

    audio = sine_sequence([(-30, 12), (-18, 20), (-40, 8)])
    whole = loudness.loudness(audio, RATE)
    monkeypatch.setattr(loudness, "LOUDNESS_CHUNK", 10_007)  # cuts fall inside blocks and windows
    chunked = loudness.loudness(audio, RATE)
    assert chunked.integrated_lufs == pytest.approx(whole.integrated_lufs, abs=1e-9)
    assert np.allclose(chunked.short_term_lufs, whole.short_term_lufs, atol=1e-9)
    monkeypatch.undo()
    song = np.tile(audio, (4, 1))  # 160 s, 61 MB
    tracemalloc.start()
    loudness.loudness(song, RATE)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < song.nbytes / 4  # chunks: no whole-song float64 copy (that alone would be 2x the audio)
