"""Loudness per ITU-R BS.1770-4 / EBU R128: integrated LUFS, true peak (dBTP), loudness range (LU)."""

from __future__ import annotations

import numpy as np

from ..errors import AudioError

GATING_BLOCK_S = 0.4  # BS.1770 momentary block; anything shorter has no gating block
SHORT_TERM_S = 3.0  # EBU Tech 3342 short-term window
SHORT_TERM_STEP_S = 0.1  # 10 Hz, the minimum rate Tech 3342 allows
ABSOLUTE_GATE_LUFS = -70.0
LRA_RELATIVE_GATE_LU = -20.0
LRA_PERCENTILES = (10.0, 95.0)
# BS.1770 channel weights in pyloudnorm's channel order L, R, C, Ls, Rs.
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
# pyloudnorm's "DeMan" stages reproduce the BS.1770 K-weighting coefficients; its default
# RBJ-cookbook design reads EBU Tech 3341 case 1 0.035 LU low, DeMan 0.007 LU high.
K_WEIGHTING = "DeMan"
TRUE_PEAK_CHUNK = 1 << 18  # input samples per resampling chunk: bounds memory on long songs
_TRUE_PEAK_MARGIN = 64  # input samples of context each side; covers resample_poly's filter


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness (LUFS) of (samples,) or (samples, channels) audio.

    Channels follow L, R, C, Ls, Rs (5.1 input in WAV order L, R, C, LFE, Ls, Rs drops
    the LFE). Returns -inf for silence and for audio shorter than one 400 ms gating block.
    """
    import pyloudnorm

    audio = _loudness_channels(audio)
    if audio.shape[0] < int(round(GATING_BLOCK_S * sample_rate)) or not np.any(audio):
        return float("-inf")
    return float(pyloudnorm.Meter(sample_rate, filter_class=K_WEIGHTING).integrated_loudness(audio))


def true_peak_dbtp(audio: np.ndarray, sample_rate: int, oversample: int = 4) -> float:
    """Peak of the `oversample`x upsampled signal in dBTP (BS.1770-4 Annex 2); -inf for silence.

    Works on (samples,) or (samples, channels) audio in chunks, so a long song costs
    little memory. The result is never below the sample peak.
    """
    audio = np.asarray(audio)
    audio = audio[:, None] if audio.ndim == 1 else audio
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    for start in range(0, audio.shape[0], TRUE_PEAK_CHUNK):
        peak = max(peak, _chunk_true_peak(audio, start, oversample))
    return 20.0 * float(np.log10(peak)) if peak > 0 else float("-inf")


def _chunk_true_peak(audio: np.ndarray, start: int, oversample: int) -> float:
    """Upsampled peak of audio[start : start + TRUE_PEAK_CHUNK], with filter context around it."""
    from scipy.signal import resample_poly

    lo = max(0, start - _TRUE_PEAK_MARGIN)
    hi = min(audio.shape[0], start + TRUE_PEAK_CHUNK + _TRUE_PEAK_MARGIN)
    upsampled = resample_poly(audio[lo:hi], oversample, 1, axis=0)  # float32 in, float32 out: ample for a peak
    # Keep only the span this chunk owns: edges of the padded span ring against implied zeros.
    first = (start - lo) * oversample
    last = first + min(TRUE_PEAK_CHUNK, audio.shape[0] - start) * oversample
    return float(np.max(np.abs(upsampled[first:last])))


def short_term_loudness(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Short-term loudness (LUFS) of 3 s K-weighted windows every 100 ms (EBU Tech 3342).

    Input (samples,) or (samples, channels); output (windows,), -inf where silent;
    empty when the audio is shorter than 3 s.
    """
    weighted = _k_weighted(_loudness_channels(audio), sample_rate)
    window = int(round(SHORT_TERM_S * sample_rate))
    step = int(round(SHORT_TERM_STEP_S * sample_rate))
    if weighted.shape[0] < window:
        return np.zeros(0)
    gains = np.asarray(CHANNEL_WEIGHTS[: weighted.shape[1]])
    energy = np.concatenate([[0.0], np.cumsum(np.square(weighted) @ gains)])
    starts = np.arange(0, weighted.shape[0] - window + 1, step)
    mean_square = (energy[starts + window] - energy[starts]) / window
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(np.maximum(mean_square, 0.0))


def loudness_range_lu(audio: np.ndarray, sample_rate: int) -> float:
    """Loudness range (LU) per EBU Tech 3342 of (samples,) or (samples, channels) audio.

    Short-term loudness gated at -70 LUFS absolute and -20 LU below the gated mean;
    LRA is the spread between the 10th and 95th percentiles. NaN when no window survives
    the gates (silence, or audio shorter than 3 s).
    """
    levels = short_term_loudness(audio, sample_rate)
    levels = levels[levels > ABSOLUTE_GATE_LUFS]
    if levels.size == 0:
        return float("nan")
    mean_lufs = 10.0 * np.log10(np.mean(np.power(10.0, levels / 10.0)))
    levels = levels[levels > mean_lufs + LRA_RELATIVE_GATE_LU]
    low, high = np.percentile(levels, LRA_PERCENTILES)
    return float(high - low)


def _k_weighted(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """K-weighted copy of (samples, channels) audio, through pyloudnorm's own BS.1770 filters."""
    import pyloudnorm

    # pyloudnorm keeps its filter stages in a private dict; reusing them keeps LRA and
    # integrated loudness on exactly the same weighting.
    stages = pyloudnorm.Meter(sample_rate, filter_class=K_WEIGHTING)._filters.values()
    weighted = audio.copy()
    for channel in range(weighted.shape[1]):
        for stage in stages:
            weighted[:, channel] = stage.apply_filter(weighted[:, channel])
    return weighted


def _loudness_channels(audio: np.ndarray) -> np.ndarray:
    """(samples,) or (samples, channels) -> float (samples, <=5) in L, R, C, Ls, Rs order.

    float32 stays float32: the K-weighting filters and block energies hold EBU conformance in it (tested),
    and a float64 copy of a whole song would double the memory.
    """
    audio = np.asarray(audio)
    audio = audio if audio.dtype in (np.float32, np.float64) else audio.astype(np.float64)
    audio = audio[:, None] if audio.ndim == 1 else audio
    if audio.ndim != 2 or audio.shape[1] not in (1, 2, 3, 4, 5, 6):
        raise AudioError(
            f"audio: loudness needs (samples,) or (samples, 1..6 channels), got shape {audio.shape}. "
            "Fix: pass mono, stereo, 5.0 (L, R, C, Ls, Rs) or 5.1 (L, R, C, LFE, Ls, Rs) audio."
        )
    if audio.shape[1] == 6:  # BS.1770 leaves the LFE channel out of the measurement
        audio = np.delete(audio, 3, axis=1)
    return audio
