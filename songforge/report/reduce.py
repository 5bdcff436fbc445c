"""Shrink long audio to what a picture can show: a min/max/RMS envelope and a log-frequency spectrogram."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Envelope:
    """Per column: start time (s), and min, max, RMS of each channel, each (columns, channels)."""

    times_s: np.ndarray
    low: np.ndarray
    high: np.ndarray
    rms: np.ndarray


def envelope(audio: np.ndarray, sample_rate: int, columns: int) -> Envelope:
    """Reduce (samples, channels) audio to at most `columns` min/max/RMS columns (reduceat: O(samples))."""
    columns = max(1, min(columns, audio.shape[0]))
    starts = np.linspace(0, audio.shape[0], columns, endpoint=False).astype(np.int64)
    widths = np.diff(starts, append=audio.shape[0])[:, None]
    rms = np.sqrt(np.add.reduceat(audio.astype(np.float64) ** 2, starts) / widths)
    return Envelope(starts / sample_rate, np.minimum.reduceat(audio, starts), np.maximum.reduceat(audio, starts), rms)


def log_spectrogram_db(
    mono: np.ndarray, sample_rate: int, columns: int, rows: int, lowest_hz: float = 30.0, n_fft: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Power in dB re. the loudest cell, (rows, ≤ columns), on log-spaced bands; and band edges in Hz (rows + 1).

    mono: (samples,) float at `sample_rate` Hz. Frame k is centred on sample k * hop; the hop grows
    with the audio's length so a 60 s song costs the same ~`columns` FFTs as a 10 s one.
    """
    n_fft = min(n_fft, 1 << int(math.log2(max(mono.size, 64))))
    hop = max(n_fft // 4, math.ceil(mono.size / columns))
    padded = np.pad(np.asarray(mono, dtype=np.float32), (n_fft // 2, n_fft // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:columns]
    spectrum = np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)
    linear_power = (spectrum.real**2 + spectrum.imag**2).T  # (n_fft // 2 + 1, frames)
    nyquist = sample_rate / 2.0
    edges_hz = np.geomspace(min(lowest_hz, nyquist / 4), nyquist, rows + 1)
    power = _band_matrix(edges_hz, n_fft, sample_rate) @ linear_power
    return 10.0 * np.log10(np.maximum(power, 1e-12) / max(float(power.max()), 1e-12)), edges_hz


def _band_matrix(edges_hz: np.ndarray, n_fft: int, sample_rate: int) -> np.ndarray:
    """(bands, bins) weights: the mean of the FFT bins inside each band, else the nearest two bins."""
    bin_hz = sample_rate / n_fft
    weights = np.zeros((edges_hz.size - 1, n_fft // 2 + 1), dtype=np.float32)
    for band, (low, high) in enumerate(zip(edges_hz[:-1], edges_hz[1:])):
        first, last = math.ceil(low / bin_hz), min(math.ceil(high / bin_hz), n_fft // 2 + 1)
        if last > first:
            weights[band, first:last] = 1.0 / (last - first)
        else:  # narrower than a bin (low frequencies): interpolate between the two neighbours
            position = min(math.sqrt(low * high) / bin_hz, n_fft // 2)
            below = int(position)
            weights[band, below] = 1.0 - (position - below)
            weights[band, min(below + 1, n_fft // 2)] += position - below
    return weights
