"""Loudness per ITU-R BS.1770-4 / EBU R128: integrated LUFS, true peak (dBTP), loudness range (LU)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import AudioError

GATING_BLOCK_S = 0.4  # BS.1770 momentary block; anything shorter has no gating block
GATING_OVERLAP = 0.75  # BS.1770 blocks overlap by 75 %: one every 100 ms
INTEGRATED_RELATIVE_GATE_LU = -10.0
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
LOUDNESS_CHUNK = 1 << 18  # samples K-weighted at once: 4 MB of float64 a channel, whatever the song's length
_TRUE_PEAK_MARGIN = 64  # input samples of context each side; covers resample_poly's filter


@dataclass(frozen=True)
class Loudness:
    """What one K-weighting pass over a signal reads: its gated integrated loudness (LUFS, -inf for silence and
    audio shorter than a 400 ms block) and its short-term loudness (LUFS of 3 s windows every 100 ms, -inf where
    silent; empty for audio shorter than 3 s). The loudness range derives from the latter."""

    integrated_lufs: float
    short_term_lufs: np.ndarray

    @property
    def lra_lu(self) -> float:
        """Loudness range (LU) per EBU Tech 3342: short-term levels gated at -70 LUFS absolute and -20 LU below
        their gated mean, the spread of their 10th to 95th percentiles; NaN when no window survives the gates."""
        levels = self.short_term_lufs[self.short_term_lufs > ABSOLUTE_GATE_LUFS]
        if levels.size == 0:
            return float("nan")
        mean_lufs = 10.0 * np.log10(np.mean(np.power(10.0, levels / 10.0)))
        levels = levels[levels > mean_lufs + LRA_RELATIVE_GATE_LU]
        low, high = np.percentile(levels, LRA_PERCENTILES)
        return float(high - low)


def loudness(audio: np.ndarray, sample_rate: int) -> Loudness:
    """Integrated and short-term loudness of (samples,) or (samples, channels) audio from one K-weighting pass.

    Channels follow L, R, C, Ls, Rs (5.1 input in WAV order L, R, C, LFE, Ls, Rs drops the LFE). The audio is
    filtered chunk by chunk (the filters' state carried across), each chunk's channel-weighted energy summed
    between the edges of the 400 ms gating blocks (pyloudnorm's block edges, 75 % overlap) and of the 3 s
    short-term windows; both readings come from those sums, so memory stays a few MB whatever the length.
    """
    audio = _loudness_channels(audio)
    n = audio.shape[0]
    blocks = _gating_blocks(n, sample_rate)
    windows = _short_term_windows(n, sample_rate)
    if not np.any(audio):  # digital silence (also the empty cases): no level anywhere
        return Loudness(float("-inf"), np.full(windows.shape[0], -np.inf))
    edges, energy = _energy_at_edges(audio, sample_rate, np.concatenate([blocks.ravel(), windows.ravel()]))
    return Loudness(_gated_lufs(_between(edges, energy, blocks) / (GATING_BLOCK_S * sample_rate)),
                    _lufs(_between(edges, energy, windows) / max(int(round(SHORT_TERM_S * sample_rate)), 1)))


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness (LUFS) of (samples,) or (samples, channels) audio (BS.1770-4; see `loudness`).

    Returns -inf for silence and for audio shorter than one 400 ms gating block.
    """
    return loudness(audio, sample_rate).integrated_lufs


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
    return loudness(audio, sample_rate).short_term_lufs


def loudness_range_lu(audio: np.ndarray, sample_rate: int) -> float:
    """Loudness range (LU) per EBU Tech 3342 of (samples,) or (samples, channels) audio (see Loudness.lra_lu)."""
    return loudness(audio, sample_rate).lra_lu


def _gating_blocks(samples: int, sample_rate: int) -> np.ndarray:
    """(blocks, 2) [start, end) samples of the 400 ms gating blocks every 100 ms, as pyloudnorm cuts them (its
    rounding of the count and truncation of each edge kept, so both read the same blocks); none under 400 ms."""
    if samples < int(round(GATING_BLOCK_S * sample_rate)):
        return np.zeros((0, 2), dtype=np.int64)
    step = 1.0 - GATING_OVERLAP
    count = int(np.round((samples / sample_rate - GATING_BLOCK_S) / (GATING_BLOCK_S * step))) + 1
    j = np.arange(count)
    starts = [int(GATING_BLOCK_S * (i * step) * sample_rate) for i in j]
    ends = [int(GATING_BLOCK_S * (i * step + 1) * sample_rate) for i in j]
    return np.minimum(np.array([starts, ends], dtype=np.int64).T, samples)


def _short_term_windows(samples: int, sample_rate: int) -> np.ndarray:
    """(windows, 2) [start, end) samples of the 3 s short-term windows every 100 ms; none under 3 s."""
    window = int(round(SHORT_TERM_S * sample_rate))
    starts = np.arange(0, samples - window + 1, int(round(SHORT_TERM_STEP_S * sample_rate)), dtype=np.int64)
    return np.stack([starts, starts + window], axis=1)


def _energy_at_edges(audio: np.ndarray, sample_rate: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted cut points (the `edges`, 0, the end and every chunk's start, in samples) and the running sum, from
    sample 0 to each cut, of the K-weighted, channel-weighted (BS.1770 gains) squared signal: one filter pass in
    chunks of LOUDNESS_CHUNK samples, float64 inside whatever the input."""
    from scipy.signal import sosfilt

    cuts = np.unique(np.concatenate([edges, np.arange(0, audio.shape[0] + 1, LOUDNESS_CHUNK), [audio.shape[0]]]))
    sos = _k_weighting_sos(sample_rate)
    state = np.zeros((sos.shape[0], 2, audio.shape[1]))  # (sections, 2 delays, channels): sosfilt along axis 0
    gains = np.asarray(CHANNEL_WEIGHTS[: audio.shape[1]])
    segments = []
    for start in range(0, audio.shape[0], LOUDNESS_CHUNK):
        stop = min(start + LOUDNESS_CHUNK, audio.shape[0])
        weighted, state = sosfilt(sos, audio[start:stop], axis=0, zi=state)
        inside = cuts[(cuts >= start) & (cuts < stop)] - start  # segment starts, the chunk's own 0 first
        segments.append(np.add.reduceat(np.square(weighted) @ gains, inside))
    return cuts, np.concatenate([[0.0], np.cumsum(np.concatenate(segments))])


def _between(edges: np.ndarray, energy: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Energy of each [start, end) span (rows of `spans`), from the running energy at the sorted edges."""
    return energy[np.searchsorted(edges, spans[:, 1])] - energy[np.searchsorted(edges, spans[:, 0])]


def _gated_lufs(mean_square: np.ndarray) -> float:
    """BS.1770-4 gating of the blocks' weighted mean squares: -70 LUFS absolute, then -10 LU relative."""
    block_lufs = _lufs(mean_square)
    above = block_lufs >= ABSOLUTE_GATE_LUFS
    if not above.any():
        return float("-inf")
    relative = float(_lufs(np.mean(mean_square[above]))) + INTEGRATED_RELATIVE_GATE_LU
    gated = (block_lufs > relative) & (block_lufs > ABSOLUTE_GATE_LUFS)
    return float(_lufs(np.mean(mean_square[gated]))) if gated.any() else float("-inf")


def _lufs(mean_square: np.ndarray | float) -> np.ndarray:
    """BS.1770 loudness of weighted mean squares; -inf where zero."""
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(np.maximum(mean_square, 0.0))


def _k_weighting_sos(sample_rate: int) -> np.ndarray:
    """pyloudnorm's own BS.1770 K-weighting stages (high shelf, high pass) as second-order sections."""
    import pyloudnorm

    # pyloudnorm keeps its filter stages in a private dict; reusing them keeps our weighting exactly its.
    stages = pyloudnorm.Meter(sample_rate, filter_class=K_WEIGHTING)._filters.values()
    return np.array([np.concatenate([stage.b / stage.a[0], stage.a / stage.a[0]]) for stage in stages])


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
