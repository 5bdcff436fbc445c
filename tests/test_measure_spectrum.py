"""Bandwidth, roll-off, stereo width, clipping and duration on synthesised noise and tones, and a sketch mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from songforge.audio.spectrum import (CLIP_THRESHOLD, TONE_SMOOTHING_HZ, bandwidth_hz, clipped_samples, duration_s, rolloff_99_hz,
                                      stereo_width)

RATE = 44_100
DEMO_ALBUM = Path(__file__).resolve().parents[1] / "params" / "albums" / "demo.yaml"


def lowpassed_noise(cutoff_hz: float, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Stereo white noise through a zero-phase 8th-order Butterworth low-pass (16th-order slope)."""
    noise = np.random.default_rng(seed).standard_normal((int(seconds * RATE), 2))
    sos = butter(8, cutoff_hz, fs=RATE, output="sos")
    return (0.1 * sosfiltfilt(sos, noise, axis=0)).astype(np.float32)


@pytest.mark.parametrize("cutoff_hz", [3000.0, 8000.0, 12000.0])
def test_rolloff_of_lowpassed_noise_sits_at_its_cutoff(cutoff_hz):
    assert rolloff_99_hz(lowpassed_noise(cutoff_hz), RATE) == pytest.approx(cutoff_hz, rel=0.03)


def test_rolloff_of_a_pure_tone_is_its_frequency_and_of_silence_zero():
    t = np.arange(RATE) / RATE
    assert rolloff_99_hz(np.sin(2 * np.pi * 1000 * t), RATE) == pytest.approx(1000, abs=30)
    assert rolloff_99_hz(np.zeros((RATE, 2)), RATE) == 0.0


def brickwall_noise(cutoff_hz: float | None, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Stereo white noise at -20 dBFS RMS with nothing above cutoff_hz (an FFT brick wall, as a codec cuts)."""
    noise = 0.1 * np.random.default_rng(seed).standard_normal((int(seconds * RATE), 2))
    if cutoff_hz is not None:
        spectrum = np.fft.rfft(noise, axis=0)
        spectrum[np.fft.rfftfreq(noise.shape[0], 1 / RATE) > cutoff_hz] = 0
        noise = np.fft.irfft(spectrum, n=noise.shape[0], axis=0)
    return noise.astype(np.float32)


@pytest.mark.parametrize("cutoff_hz", [3000.0, 8000.0, 16000.0])
def test_bandwidth_of_lowpassed_noise_is_its_cutoff(cutoff_hz):
    assert bandwidth_hz(brickwall_noise(cutoff_hz), RATE) == pytest.approx(cutoff_hz, rel=0.01)
    # A real filter's 96 dB/octave slope past the cut reads a little above it, never as far as the slope goes.
    assert cutoff_hz <= bandwidth_hz(lowpassed_noise(cutoff_hz), RATE) <= 1.15 * cutoff_hz + TONE_SMOOTHING_HZ


def test_bandwidth_of_full_band_noise_reaches_nyquist_and_of_silence_is_zero():
    assert bandwidth_hz(brickwall_noise(None), RATE) >= 20000.0
    assert bandwidth_hz(brickwall_noise(None)[:, 0], RATE) >= 20000.0
    pcm16 = np.round(brickwall_noise(8000.0) * 32767) / 32767  # a 16-bit file's quantisation floor is not content
    assert bandwidth_hz(pcm16, RATE) == pytest.approx(8000.0, rel=0.01)
    assert bandwidth_hz(np.zeros((RATE, 2)), RATE) == 0.0


def test_a_lone_tone_above_the_content_is_not_bandwidth():
    noise = lowpassed_noise(8000.0)
    t = np.arange(noise.shape[0]) / RATE
    whine = noise + (0.01 * np.sin(2 * np.pi * 18000 * t))[:, None].astype(np.float32)
    assert bandwidth_hz(whine, RATE) == pytest.approx(bandwidth_hz(noise, RATE), abs=50)
    assert rolloff_99_hz(whine, RATE) > 17000.0  # the whine holds over 1 % of the energy: the roll-off moves


def test_a_sketch_mix_reads_its_full_band_where_the_rolloff_reads_a_few_khz():
    from songforge.album_file import load_album

    song = load_album(DEMO_ALBUM).songs[2]  # Paper Planes: 32 s, the shortest
    stems = song.engine.engine.generate(song, song.engine.params, song.seed)
    mix = stems.vocals + stems.instrumental
    # The SoundFont's samples reach 20 kHz (as its spectrogram shows); most of the energy sits below 5 kHz.
    assert bandwidth_hz(mix, stems.sample_rate) >= 18000.0
    assert rolloff_99_hz(mix, stems.sample_rate) < 5000.0


def test_width_is_zero_for_mono_and_about_one_for_decorrelated_stereo():
    noise = np.random.default_rng(1).standard_normal((RATE, 2)).astype(np.float32)
    assert stereo_width(np.repeat(noise[:, :1], 2, axis=1)) == 0.0
    assert stereo_width(noise[:, 0]) == 0.0
    assert stereo_width(noise) == pytest.approx(1.0, abs=0.05)
    partly = np.stack([noise[:, 0], 0.8 * noise[:, 0] + 0.2 * noise[:, 1]], axis=1)
    assert 0.0 < stereo_width(partly) < stereo_width(noise)
    assert stereo_width(np.stack([noise[:, 0], -noise[:, 0]], axis=1)) == float("inf")
    assert stereo_width(np.zeros((100, 2))) == 0.0


def test_clipping_counts_flat_tops_and_overs_not_lone_peaks():
    audio = np.zeros((200, 2), dtype=np.float32)
    audio[10:15, 0] = 1.0  # a 5-sample flat top: 5
    audio[40:43, 1] = -CLIP_THRESHOLD  # 3 at the negative ceiling: 3
    audio[60, 0] = 1.0  # a normalised peak: 0
    audio[80:82, 1] = 0.9995  # 2 at the ceiling: too short to be a clip
    audio[100, 1] = 1.3  # beyond full scale: 1
    audio[120:124, 0] = 0.99  # loud but under the threshold: 0
    assert clipped_samples(audio) == 9
    assert clipped_samples(audio, min_run=1) == 5 + 3 + 1 + 2 + 1
    assert clipped_samples(audio[:, 0]) == 5


def test_hard_clipped_sine_counts_every_sample_on_its_plateaus():
    t = np.arange(RATE) / RATE
    sine = np.clip(1.5 * np.sin(2 * np.pi * 100 * t), -1.0, 1.0)
    expected = int(np.sum(np.abs(sine) >= CLIP_THRESHOLD))
    assert clipped_samples(sine) == expected > 0
    assert clipped_samples(0.5 * sine) == 0


def test_duration():
    assert duration_s(np.zeros((RATE * 3, 2)), RATE) == 3.0
    assert duration_s(np.zeros(RATE // 2), RATE) == 0.5
