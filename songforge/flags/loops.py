"""Loops: the same bars repeating far more than the written form asks, found by self-similarity at a lag.

Each moment of the take is a vector of chroma (harmony) and mean-removed MFCCs (timbre, the voice), smoothed over
half a second. A loop of period L shows as a long stretch where every moment matches the moment L later; the
stretch's length over L counts the repeats. Lags are searched in frames, not beats, so no beat tracker (nor its
tempo errors on a stuck take) is needed: a period off by a fraction of a frame still matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..audio.analysis import ANALYSIS_RATE, HOP, MixAnalysis  # 23 ms frames: a period is matched within 12 ms
from ..lyrics import Lyrics
from .flag import Flag
from .level import true_runs
from .settings import LoopLimits

SMOOTH_S = 0.5  # humanised timing and vibrato are not what makes two bars different
QUIET_DB = -50.0  # frames this far under the loudest match nothing: silence is the silence flag's, not a loop


@dataclass(frozen=True)
class Loop:
    """The most repeated stretch: `repeats` units of `period_s` seconds, from start_s to end_s."""

    repeats: float
    period_s: float
    start_s: float
    end_s: float


def loop_features(audio: np.ndarray, sample_rate: int,
                  analysis: MixAnalysis | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 31) unit vectors (12 chroma, 19 MFCCs without the 0th, mean-removed, each half weighted equally)
    and (frames,) bool: the frame is loud enough to match, of float (samples,) or (samples, channels) audio.
    `analysis`: the audio's shared spectrogram (songforge measure's, also read for the tempo) when given."""
    import librosa
    from scipy.ndimage import uniform_filter1d

    analysis = analysis if analysis is not None else MixAnalysis(audio, sample_rate)
    power, mel = analysis.power, analysis.mel_db
    width = max(1, int(round(SMOOTH_S * ANALYSIS_RATE / HOP)))
    chroma = uniform_filter1d(librosa.feature.chroma_stft(S=power, sr=ANALYSIS_RATE), width, axis=1)
    mfcc = uniform_filter1d(librosa.feature.mfcc(S=mel, n_mfcc=20)[1:], width, axis=1)
    mfcc -= mfcc.mean(axis=1, keepdims=True)
    features = np.vstack([_unit(chroma), _unit(mfcc)]).T / np.sqrt(2.0)
    energy = uniform_filter1d(power.sum(axis=0), width)
    return features, energy > energy.max(initial=0.0) * 10 ** (QUIET_DB / 10)


def longest_loop(features: np.ndarray, loud: np.ndarray, limits: LoopLimits) -> Loop:
    """The lag (between min_period_s and max_period_s) whose longest stretch of near-identical frames (cosine at
    least `similarity`, both loud) repeats most; Loop(1, 0, 0, 0) when nothing repeats."""
    rate = ANALYSIS_RATE / HOP
    best = Loop(1.0, 0.0, 0.0, 0.0)
    shortest = max(1, int(limits.min_period_s * rate))
    for lag in range(shortest, min(int(limits.max_period_s * rate), len(features) - 1) + 1):
        match = (np.einsum("ij,ij->i", features[:-lag], features[lag:]) >= limits.similarity) & loud[:-lag] & loud[lag:]
        starts, ends = true_runs(match)
        if not starts.size:
            continue
        longest = int(np.argmax(ends - starts))
        repeats = (ends[longest] - starts[longest] + lag) / lag
        if repeats > best.repeats:
            best = Loop(repeats, lag / rate, starts[longest] / rate, (ends[longest] + lag) / rate)
    return best


def written_repeats(lyrics: Lyrics) -> int:
    """The most times the lyrics write one line in a row (across sections): what the form itself repeats."""
    lines = [re.sub(r"\W+", " ", line.lower()).strip() for section in lyrics.sections for line in section.lines]
    most, run = 1, 1
    for before, line in zip(lines, lines[1:]):
        run = run + 1 if line == before and line else 1
        most = max(most, run)
    return most


def detect_loop(audio: np.ndarray, sample_rate: int, lyrics: Lyrics, limits: LoopLimits,
                analysis: MixAnalysis | None = None) -> Flag:
    """Raised when a stretch repeats more than max(min_repeats, form_factor x the lyrics' most repeated line)."""
    features, loud = loop_features(audio, sample_rate, analysis)
    loop = longest_loop(features, loud, limits)
    written = written_repeats(lyrics)
    allowed = max(limits.min_repeats, limits.form_factor * written)
    raised = loop.repeats > allowed
    summary = (f"{loop.period_s:.1f} s repeated {loop.repeats:.0f} times from {loop.start_s:.1f} s to "
               f"{loop.end_s:.1f} s (the form allows {allowed:g})" if raised else
               f"at most {loop.repeats:.1f} repeats (the form allows {allowed:g})")
    return Flag("loop", raised, summary, {
        "repeats": loop.repeats, "period_s": loop.period_s, "start_s": loop.start_s, "end_s": loop.end_s,
        "written_repeats": written, "allowed_repeats": allowed, "similarity": limits.similarity,
        "min_period_s": limits.min_period_s, "max_period_s": limits.max_period_s})


def _unit(features: np.ndarray) -> np.ndarray:
    """Each column (a frame) scaled to unit length; silent columns stay zero."""
    return features / np.maximum(np.linalg.norm(features, axis=0, keepdims=True), 1e-12)
