"""Tempo of a mix (librosa onset envelope) and the MIREX tempo accuracies against a requested bpm."""

from __future__ import annotations

import numpy as np

from ..audio.io import resample, to_mono
from ..errors import ParamsError

ANALYSIS_RATE = 22_050  # librosa's native rate: onsets need nothing above 11 kHz
HOP = 512  # librosa default; the lag grid is 23 ms, so at most 3.6% off up to 185 bpm
TOLERANCE = 0.04  # MIREX: within 4% of the reference tempo
ACC2_FACTORS = (1.0, 2.0, 3.0, 1.0 / 2.0, 1.0 / 3.0)


def estimate_tempo(audio: np.ndarray, sample_rate: int) -> float:
    """Global tempo (bpm) of (samples,) or (samples, channels) audio; 0.0 for silence.

    Onset-strength autocorrelation weighted by librosa's log-normal prior around 120 bpm.
    """
    import librosa

    mono = resample(to_mono(audio)[:, None], sample_rate, ANALYSIS_RATE)[:, 0]
    envelope = librosa.onset.onset_strength(y=mono, sr=ANALYSIS_RATE, hop_length=HOP)
    if not np.any(envelope):
        return 0.0
    tempo = librosa.feature.tempo(onset_envelope=envelope, sr=ANALYSIS_RATE, hop_length=HOP)
    return float(tempo[0])


def tempo_accuracy1(estimated_bpm: float, reference_bpm: float) -> bool:
    """MIREX Accuracy1: the estimate lies within 4% of the reference tempo."""
    return _within(estimated_bpm, _positive_bpm(reference_bpm))


def tempo_accuracy2(estimated_bpm: float, reference_bpm: float) -> bool:
    """MIREX Accuracy2: within 4% of the reference or of its 2x, 3x, 1/2 or 1/3 multiple."""
    reference_bpm = _positive_bpm(reference_bpm)
    return any(_within(estimated_bpm, factor * reference_bpm) for factor in ACC2_FACTORS)


def _within(estimated_bpm: float, target_bpm: float) -> bool:
    """The 4% window is taken around the (possibly multiplied) target tempo."""
    return abs(estimated_bpm - target_bpm) <= TOLERANCE * target_bpm


def _positive_bpm(bpm: float) -> float:
    if not bpm > 0:
        raise ParamsError("bpm", f"{bpm} is not a tempo", "give the requested tempo in beats per minute, e.g. 120")
    return float(bpm)
