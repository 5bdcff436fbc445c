"""Key of a mix (chroma against key profiles) and the MIREX weighted key score against a requested key."""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..audio.analysis import ANALYSIS_RATE, MixAnalysis
from ..music import Key

HOP = 2048  # ~93 ms: a key is a property of bars, not of onsets
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KRUMHANSL_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KRUMHANSL_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
# Temperley (2007) Kostka-Payne corpus profiles, tonic first.
TEMPERLEY_MAJOR = (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0)
TEMPERLEY_MINOR = (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0)
PROFILES = {
    "krumhansl": (KRUMHANSL_MAJOR, KRUMHANSL_MINOR),
    "temperley": (TEMPERLEY_MAJOR, TEMPERLEY_MINOR),
}
Profile = Literal["krumhansl", "temperley"]
# MIREX key-detection weights; the fifth counts in either direction.
SCORE_SAME, SCORE_FIFTH, SCORE_RELATIVE, SCORE_PARALLEL = 1.0, 0.5, 0.3, 0.2


def chroma_profile(audio: np.ndarray, sample_rate: int, analysis: MixAnalysis | None = None) -> np.ndarray:
    """Mean constant-Q chroma (12,) of (samples,) or (samples, channels) audio, C first; zeros for silence.
    `analysis`: the audio's shared intermediates (its mono 22.05 kHz signal) when the caller has them."""
    import librosa

    mono = (analysis if analysis is not None else MixAnalysis(audio, sample_rate)).mono
    if not np.any(mono):
        return np.zeros(12)
    chroma = librosa.feature.chroma_cqt(y=mono, sr=ANALYSIS_RATE, hop_length=HOP)
    return chroma.mean(axis=1)


def key_from_chroma(chroma: np.ndarray, profile: Profile = "krumhansl") -> Key | None:
    """The key whose rotated profile correlates best with a (12,) chroma; None if it is flat."""
    chroma = np.asarray(chroma, dtype=np.float64)
    if np.ptp(chroma) == 0:
        return None
    scores = {
        Key(tonic, mode): np.corrcoef(chroma, np.roll(template, tonic))[0, 1]
        for mode, template in zip(("major", "minor"), PROFILES[profile])
        for tonic in range(12)
    }
    return max(scores, key=scores.__getitem__)


def estimate_key(audio: np.ndarray, sample_rate: int, profile: Profile = "krumhansl",
                 analysis: MixAnalysis | None = None) -> Key | None:
    """Key of (samples,) or (samples, channels) audio; None for silence or a flat chroma."""
    return key_from_chroma(chroma_profile(audio, sample_rate, analysis), profile)


def key_score(estimated: Key, reference: Key) -> float:
    """MIREX weighted key score of `estimated` against `reference`.

    1.0 same key; 0.5 a perfect fifth above or below in the same mode; 0.3 the relative
    major/minor; 0.2 the parallel major/minor; 0.0 otherwise.
    """
    interval = (estimated.tonic - reference.tonic) % 12
    if estimated.mode == reference.mode:
        return SCORE_SAME if interval == 0 else SCORE_FIFTH if interval in (5, 7) else 0.0
    if interval == 0:
        return SCORE_PARALLEL
    # The relative minor sits 9 semitones above its major (A minor for C major).
    relative = 9 if reference.mode == "major" else 3
    return SCORE_RELATIVE if interval == relative else 0.0
