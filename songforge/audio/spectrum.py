"""Spectral and sample-level checks of a mix: bandwidth, spectral roll-off, stereo width, clipping, duration."""

from __future__ import annotations

import numpy as np

ROLLOFF_ENERGY = 0.99  # the roll-off is where this share of the spectral energy lies below
WELCH_SEGMENT = 4096  # ~10 Hz bins at 44.1 kHz
SPECTRUM_CHUNK_SEGMENTS = 256  # segments transformed at once: bounds memory on long songs (~8 MB at 4096)
CONTENT_MARGIN_DB = 12.0  # content stands this far above the noise floor
CONTENT_RANGE_DB = 100.0  # and within this of the loudest band (float files have no dither floor)
TONE_SMOOTHING_HZ = 200.0  # the level is a running median over this width: a lone tone is not bandwidth
# Content ends where the level falls this far below the half octave under it (a cut's cliff; music's own
# top-octave roll-off stays within it) or under the floor; content beyond a third-octave gap is a lone tone.
CLIFF_DB = 15.0
GAP_RATIO = 2.0 ** (1.0 / 3.0)
MIN_CUT_HZ = 1000.0
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


def long_term_spectrum(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average power spectrum of (samples,) or (samples, channels) audio, channels summed.

    Welch's method (Blackman-Harris segments of WELCH_SEGMENT, half overlapping, each less its mean) in
    chunks of segments, so memory stays a few MB whatever the length. Returns (freqs, power), each
    (segment // 2 + 1,), power in arbitrary units (only ratios are read).
    """
    from scipy.signal import get_window

    audio = _two_d(audio)
    segment = min(WELCH_SEGMENT, audio.shape[0])
    hop = max(1, segment // 2)
    window = get_window("blackmanharris", segment).astype(np.float32)
    starts = np.arange(0, audio.shape[0] - segment + 1, hop)
    power = np.zeros(segment // 2 + 1)
    for first in range(0, starts.size, SPECTRUM_CHUNK_SEGMENTS):
        chunk = starts[first:first + SPECTRUM_CHUNK_SEGMENTS]
        frames = np.stack([audio[s:s + segment] for s in chunk]).astype(np.float32)  # (n, segment, channels)
        frames -= frames.mean(axis=1, keepdims=True)
        spectra = np.fft.rfft(frames * window[None, :, None], axis=1)
        power += np.sum(np.abs(spectra) ** 2, axis=(0, 2))
    return np.fft.rfftfreq(segment, 1.0 / sample_rate), power / max(starts.size, 1)


Spectrum = tuple[np.ndarray, np.ndarray]
"""(freqs, power) as long_term_spectrum gives them: a caller reading several measures computes it once."""


def bandwidth_hz(audio: np.ndarray, sample_rate: int, margin_db: float = CONTENT_MARGIN_DB,
                 range_db: float = CONTENT_RANGE_DB, spectrum: Spectrum | None = None) -> float:
    """The audible bandwidth (Hz): the highest frequency with content above the noise floor; 0.0 for silence.

    What a producer reads off a spectrogram: where a low-pass, a low sample rate or a codec cut the top end.
    The long-term spectrum's level (dB) is smoothed by a running median over TONE_SMOOTHING_HZ, so a lone
    tone (a whine, a pilot tone) above the content does not count. The floor is the smoothed level's 5th
    percentile (the empty band above a low-pass, or the dither); content is a band `margin_db` above it
    (or within `margin_db` of the loudest band, for full-band noise), never more than `range_db` below
    the loudest band, and not CLIFF_DB below the half octave under it (a filter's slope past its cut).
    Scanning up, content ends at the first gap of a third of an octave. `spectrum`: the audio's
    long_term_spectrum when the caller has it.
    """
    from scipy.ndimage import median_filter

    if _two_d(audio).shape[0] < 2 or not np.any(audio):
        return 0.0
    freqs, power = spectrum if spectrum is not None else long_term_spectrum(audio, sample_rate)
    level = 10.0 * np.log10(power + 1e-30)
    width = 2 * int(TONE_SMOOTHING_HZ / max(freqs[1], 1e-9) / 2) + 1
    smoothed = median_filter(level, size=width, mode="nearest")
    peak, floor = float(smoothed.max()), float(np.percentile(smoothed, 5))
    threshold = max(min(floor + margin_db, peak - margin_db), peak - range_db)
    content = (smoothed > threshold) & (smoothed >= _half_octave_below(smoothed) - CLIFF_DB)
    bins = np.flatnonzero(content)  # never empty: the loudest band qualifies
    # A cut is a low-pass: gaps count from 1 kHz (or the loudest band) up, where a third octave is many bins.
    bins = bins[bins >= min(max(int(np.argmax(smoothed)), int(np.searchsorted(freqs, MIN_CUT_HZ)), 1), bins[-1])]
    gaps = np.flatnonzero(freqs[bins[1:]] / freqs[bins[:-1]] >= GAP_RATIO)  # beyond such a gap: a lone tone
    return float(freqs[bins[gaps[0] if gaps.size else -1]])


def _half_octave_below(level: np.ndarray) -> np.ndarray:
    """(bins,) mean of the dB level over each bin's half octave [f / sqrt(2), f], the bin included."""
    index = np.arange(level.size)
    low = np.floor(index / np.sqrt(2.0)).astype(np.int64)
    total = np.concatenate([[0.0], np.cumsum(level)])
    return (total[index + 1] - total[low]) / (index + 1 - low)


def rolloff_99_hz(audio: np.ndarray, sample_rate: int, energy: float = ROLLOFF_ENERGY,
                  spectrum: Spectrum | None = None) -> float:
    """Spectral roll-off (Hz): the frequency below which `energy` of the spectral energy lies; 0.0 for silence.

    A measure of where the energy sits (a bass-heavy mix reads a few kHz), not of how far the content reaches:
    that is bandwidth_hz. `spectrum`: the audio's long_term_spectrum when the caller has it.
    """
    if not np.any(audio):
        return 0.0
    freqs, power = spectrum if spectrum is not None else long_term_spectrum(audio, sample_rate)
    cumulative = np.cumsum(power)
    return float(freqs[np.searchsorted(cumulative, energy * cumulative[-1])])


def stereo_width(audio: np.ndarray) -> float:
    """Side-to-mid energy ratio of the first two channels: 0 mono, ~1 decorrelated, inf antiphase.

    mid = (L + R) / 2, side = (L - R) / 2. Mono input and silence give 0.0.
    """
    audio = _two_d(audio)
    if audio.shape[1] < 2:
        return 0.0
    left, right = audio[:, 0], audio[:, 1]
    mid_energy = float(np.sum(np.square((left + right) / 2.0), dtype=np.float64))
    side_energy = float(np.sum(np.square((left - right) / 2.0), dtype=np.float64))
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
    """(samples, channels) view of float audio; no float64 copy of a whole song."""
    audio = np.asarray(audio)
    audio = audio if audio.dtype.kind == "f" else audio.astype(np.float64)
    return audio[:, None] if audio.ndim == 1 else audio
