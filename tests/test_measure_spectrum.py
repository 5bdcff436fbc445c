"""Bandwidth, stereo width, clipping and duration on synthesised noise and tones."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from songforge.audio.spectrum import CLIP_THRESHOLD, bandwidth_hz, clipped_samples, duration_s, stereo_width

RATE = 44_100


def lowpassed_noise(cutoff_hz: float, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Stereo white noise through a zero-phase 8th-order Butterworth low-pass (16th-order slope)."""
    noise = np.random.default_rng(seed).standard_normal((int(seconds * RATE), 2))
    sos = butter(8, cutoff_hz, fs=RATE, output="sos")
    return (0.1 * sosfiltfilt(sos, noise, axis=0)).astype(np.float32)


@pytest.mark.parametrize("cutoff_hz", [3000.0, 8000.0, 12000.0])
def test_bandwidth_of_lowpassed_noise_sits_at_its_cutoff(cutoff_hz):
    assert bandwidth_hz(lowpassed_noise(cutoff_hz), RATE) == pytest.approx(cutoff_hz, rel=0.03)


def test_bandwidth_of_a_pure_tone_is_its_frequency_and_of_silence_zero():
    t = np.arange(RATE) / RATE
    assert bandwidth_hz(np.sin(2 * np.pi * 1000 * t), RATE) == pytest.approx(1000, abs=30)
    assert bandwidth_hz(np.zeros((RATE, 2)), RATE) == 0.0


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
