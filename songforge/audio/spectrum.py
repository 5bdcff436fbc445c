"""Spectral and sample-level checks of a mix: bandwidth, stereo width, clipping, duration."""

from __future__ import annotations

import numpy as np

BANDWIDTH_ENERGY = 0.99  # bandwidth is where this share of the spectral energy lies below
WELCH_SEGMENT = 4096  # ~10 Hz bins at 44.1 kHz
# A sample this close to full scale (-0.0087 dBFS) is at the ceiling: float masters that
# were limited to 0 dBFS and 24-bit files both land here, while -0.1 dBTP masters stay below.
CLIP_THRESHOLD = 0.999
# A lone full-scale sample is a normalised peak; a flat top of 3 or more samples is a clip
# (the usual CD-mastering criterion). Samples beyond full scale always count: a fixed-point
# file cannot hold them.
CLIP_MIN_RUN = 3


def duration_s(audio: np.ndarray, sample_rate: int) -> float:
    """Length in seconds of (samples,) or (samples, channels) audio."""
    return np.asarray(audio).shape[0] / float(sample_rate)


def bandwidth_hz(audio: np.ndarray, sample_rate: int, energy: float = BANDWIDTH_ENERGY) -> float:
    """Frequency (Hz) below which `energy` of the spectral energy lies, channels summed.

    Welch power spectrum of (samples,) or (samples, channels) audio; 0.0 for silence.
    """
    from scipy.signal import welch

    audio = _two_d(audio)
    if not np.any(audio):
        return 0.0
    segment = min(WELCH_SEGMENT, audio.shape[0])
    freqs, power = welch(audio, fs=sample_rate, nperseg=segment, axis=0)
    cumulative = np.cumsum(power.sum(axis=1))
    return float(freqs[np.searchsorted(cumulative, energy * cumulative[-1])])


def stereo_width(audio: np.ndarray) -> float:
    """Side-to-mid energy ratio of the first two channels: 0 mono, ~1 decorrelated, inf antiphase.

    mid = (L + R) / 2, side = (L - R) / 2. Mono input and silence give 0.0.
    """
    audio = _two_d(audio)
    if audio.shape[1] < 2:
        return 0.0
    left, right = audio[:, 0], audio[:, 1]
    mid_energy = float(np.sum(np.square((left + right) / 2.0)))
    side_energy = float(np.sum(np.square((left - right) / 2.0)))
    if side_energy == 0.0:
        return 0.0
    return side_energy / mid_energy if mid_energy > 0.0 else float("inf")


def clipped_samples(audio: np.ndarray, threshold: float = CLIP_THRESHOLD, min_run: int = CLIP_MIN_RUN) -> int:
    """Clipped samples in (samples,) or (samples, channels) audio, all channels counted.

    A sample counts when it belongs to a run of at least `min_run` consecutive samples with
    |x| >= threshold in its channel, or when |x| > 1.0 whatever the run.
    """
    audio = _two_d(audio)
    in_runs = _in_long_runs(np.abs(audio) >= threshold, min_run)
    return int(np.sum(in_runs | (np.abs(audio) > 1.0)))


def _in_long_runs(mask: np.ndarray, min_run: int) -> np.ndarray:
    """(samples, channels) bool -> True where the sample sits in a run of >= min_run Trues."""
    out = np.zeros_like(mask)
    for channel in range(mask.shape[1]):
        edges = np.diff(np.pad(mask[:, channel], 1).astype(np.int8))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        long = ends - starts >= min_run
        marks = np.zeros(mask.shape[0] + 1, dtype=np.int64)
        np.add.at(marks, starts[long], 1)
        np.add.at(marks, ends[long], -1)
        out[:, channel] = np.cumsum(marks)[:-1] > 0
    return out


def _two_d(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64)
    return audio[:, None] if audio.ndim == 1 else audio
