"""What several measurements of one mix read, computed once on first use and shared: its loudness (one
K-weighting pass: LUFS, LRA, the silence flag), its long-term spectrum (bandwidth, roll-off), its mono 22.05 kHz
signal (tempo, key, loops) and that signal's STFT as power and mel dB (tempo's onsets, the loop detector).

This file computes shared intermediates only; what each measure reads from them lives with the measure.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .io import resample, to_mono
from .loudness import Loudness, loudness
from .spectrum import Spectrum, long_term_spectrum

ANALYSIS_RATE = 22_050  # librosa's native rate: onsets, chroma and timbre need nothing above 11 kHz
N_FFT = 2048
HOP = 512  # 23 ms frames


class MixAnalysis:
    """One mix, float (samples,) or (samples, channels) at `sample_rate`, and its shared intermediates.

    Each property is computed at its first read and kept while the object lives: drop the object to free them
    (mono 4 bytes and power 2 kB per 23 ms frame: about 48 MB for 3 minutes).
    """

    def __init__(self, audio: np.ndarray, sample_rate: int) -> None:
        self.audio, self.sample_rate = audio, sample_rate

    @cached_property
    def loudness(self) -> Loudness:
        return loudness(self.audio, self.sample_rate)

    @cached_property
    def spectrum(self) -> Spectrum:
        return long_term_spectrum(self.audio, self.sample_rate)

    @cached_property
    def mono(self) -> np.ndarray:
        """(samples,) float32 mono at ANALYSIS_RATE."""
        return resample(to_mono(self.audio)[:, None], self.sample_rate, ANALYSIS_RATE)[:, 0]

    @cached_property
    def power(self) -> np.ndarray:
        """(1 + N_FFT / 2, frames) power spectrogram of `mono`, as librosa's own spectrogram helpers make it."""
        import librosa

        return np.abs(librosa.stft(self.mono, n_fft=N_FFT, hop_length=HOP)) ** 2

    @cached_property
    def mel_db(self) -> np.ndarray:
        """(128, frames) mel power in dB (librosa's defaults): what librosa's onset strength computes from y."""
        import librosa

        return librosa.power_to_db(librosa.feature.melspectrogram(S=self.power, sr=ANALYSIS_RATE))
