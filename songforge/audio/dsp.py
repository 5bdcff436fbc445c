"""Shared DSP stages over float32 (samples, channels) audio: true-peak limiting, widening, bus compression."""

from __future__ import annotations

import numpy as np

from ..errors import AudioError
from .loudness import true_peak_dbtp
from .spectrum import stereo_width

NEAR_MONO_WIDTH = 0.0025  # side/mid energy under -26 dB (side RMS < 5 % of mid RMS) counts as mono
DERIVED_SIDE_GAIN = 0.35  # a derived side at about -9 dB under the mid: audible width, no hollow centre
HAAS_DELAY_MS = 12.0  # short enough to fuse into one source, long enough to decorrelate
DERIVED_SIDE_HIGHPASS_HZ = 250.0  # keep bass in the centre


def db_to_gain(db: float | np.ndarray) -> float | np.ndarray:
    return 10.0 ** (np.asarray(db, dtype=np.float64) / 20.0)


def sample_peak_dbfs(audio: np.ndarray) -> float:
    """Largest absolute sample in dBFS; -inf for silence."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")


def check_audio(audio: np.ndarray, name: str) -> np.ndarray:
    """`audio` as float32 (samples, channels); AudioError naming `name` if it is empty or not finite."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[0] == 0:
        raise AudioError(f"{name}: expected (samples, channels) audio with at least one sample, "
                         f"got shape {audio.shape}. "
                         "Fix: pass float32 audio shaped (samples, channels).")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{name}: contains NaN or infinite samples. Fix: check the stage that produced it.")
    return audio


def widen(audio: np.ndarray, sample_rate: int, width: float) -> np.ndarray:
    """Scale the side channel of (samples, 2) audio by `width` (0 mono, 1 unchanged).

    Near-mono material has no side to scale, so a side is derived from the mid (a short Haas delay,
    high-passed). Whatever the side holds cancels in L+R, so the mono fold-down is unchanged.
    """
    audio = np.asarray(audio, dtype=np.float64)
    mid, side = (audio[:, 0] + audio[:, 1]) / 2, (audio[:, 0] - audio[:, 1]) / 2
    if stereo_width(audio) < NEAR_MONO_WIDTH:
        side = side + _derived_side(mid, sample_rate)
    side = side * width
    return np.stack([mid + side, mid - side], axis=1).astype(np.float32)


def _derived_side(mid: np.ndarray, sample_rate: int) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    delay = min(int(round(HAAS_DELAY_MS * sample_rate / 1000)), mid.shape[0])
    delayed = np.concatenate([np.zeros(delay), mid[: mid.shape[0] - delay]])
    sos = butter(2, DERIVED_SIDE_HIGHPASS_HZ, btype="highpass", fs=sample_rate, output="sos")
    return DERIVED_SIDE_GAIN * sosfilt(sos, delayed)


def bus_compress(audio: np.ndarray, sample_rate: int, threshold_db: float, ratio: float = 2.0,
                 attack_ms: float = 20.0, release_ms: float = 200.0) -> np.ndarray:
    """Gentle glue compression of (samples, channels) audio (pedalboard's compressor, both channels linked)."""
    from pedalboard import Compressor

    compressor = Compressor(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms)
    return compressor(np.ascontiguousarray(audio.T, dtype=np.float32), sample_rate).T.copy()


def true_peak_envelope(audio: np.ndarray, oversample: int = 4) -> np.ndarray:
    """Per-sample true peak of (samples, channels) audio, linear, shape (samples,).

    Uses the same polyphase upsampling as `songforge.audio.loudness.true_peak_dbtp`, so a gain that
    holds this envelope under a ceiling holds the measured true peak under it too. An inter-sample
    peak between n and n+1 is charged to both samples: the gain at either one shapes it.
    """
    from scipy.signal import resample_poly

    upsampled = resample_poly(np.asarray(audio, dtype=np.float64), oversample, 1, axis=0)
    # rows of `oversample` upsampled frames are contiguous: one reduction per input sample is fast
    peaks = np.abs(upsampled).reshape(-1, oversample * upsampled.shape[1]).max(axis=1)
    return np.maximum(peaks, np.concatenate([[0.0], peaks[:-1]]))


def limit_true_peak(audio: np.ndarray, sample_rate: int, ceiling_dbtp: float = -1.0,
                    lookahead_ms: float = 1.5, release_ms: float = 60.0, margin_db: float = 0.05) -> np.ndarray:
    """Look-ahead limiter whose ceiling holds in the 4x oversampled (true-peak) domain.

    (samples, channels) float32 in, same out, channels linked. The gain computer works offline on the
    whole signal: the reduction each sample needs, an exponential release, then a max-and-average over
    ±lookahead so the gain reaches its floor before the peak and never rises above what any sample
    needs. The result is measured; a residual overshoot (the gain ramps reshape inter-sample peaks
    slightly) is removed by a static trim, so the ceiling is guaranteed, not approximate.
    """
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    audio = np.asarray(audio, dtype=np.float32)
    ceiling = float(db_to_gain(ceiling_dbtp - margin_db))
    over_db = 20.0 * np.log10(np.maximum(true_peak_envelope(audio) / ceiling, 1.0))
    reduction_db = _release(over_db, release_ms * sample_rate / 1000.0)
    span = 2 * max(1, int(round(lookahead_ms * sample_rate / 1000))) + 1
    reduction_db = uniform_filter1d(maximum_filter1d(reduction_db, span, mode="nearest"), span, mode="nearest")
    limited = (audio * db_to_gain(-reduction_db)[:, None]).astype(np.float32)
    overshoot_db = true_peak_dbtp(limited, sample_rate) - ceiling_dbtp
    if overshoot_db > 0:
        limited = (limited * db_to_gain(-overshoot_db - 0.01)).astype(np.float32)
    return limited


def _release(reduction_db: np.ndarray, time_constant_samples: float) -> np.ndarray:
    """Instant attack, exponential release: r[n] = max(x[n], r[n-1] * exp(-1/tau)).

    In the log domain this recursion is a running maximum of log x[j] + j/tau, so it runs vectorised.
    """
    floor = 1e-6  # dB; below this nothing needs limiting
    active = reduction_db > floor
    if not active.any():
        return np.zeros_like(reduction_db)
    index = np.arange(reduction_db.shape[0], dtype=np.float64) / time_constant_samples
    log_r = np.where(active, np.log(np.maximum(reduction_db, floor)), -np.inf)
    released = np.exp(np.maximum.accumulate(log_r + index) - index)
    return np.where(released > floor, released, 0.0)
