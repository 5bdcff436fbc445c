"""Vocal pitch tracking (torchcrepe salience, Viterbi path, on CPU) and the YuE vocal-range measure."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from ..audio.io import resample, to_mono
from ..errors import ParamsError
from .octave_slips import fix_octave_slips

CREPE_SAMPLE_RATE = 16_000
HOP_S = 0.010  # YuE's vocal range is defined on a 10 ms pitch track
MIN_NOTE_FRAMES = 4  # a note counts once it holds this many consecutive frames
PERIODICITY_THRESHOLD = 0.21  # torchcrepe's recommended voiced/unvoiced cut
PERIODICITY_MEDIAN_FRAMES = 3
SILENCE_DBFS = -50.0  # frames quieter than this (RMS) are unvoiced whatever crepe says
FMIN_HZ, FMAX_HZ = 50.0, 1100.0  # G1 to C#6: beyond any sung fundamental
MODELS = ("tiny", "full")
BATCH_FRAMES = 128  # frames a forward pass: small batches stay in cache (0.5 ms a frame; 2048 frames: 1.2 before channels-last)
PITCH_BINS = 360  # crepe's 20-cent bins upward from C1
# Per-frame chance of a jump beyond the +-2.2 semitone band; tuned on sketch-engine vocals,
# where 1e-4 to 1e-6 all read the written range exactly and frame-wise argmax read 4 of 12.
LEAP_PROBABILITY = 1e-5
BIN0_CENTS = 1997.3794084376191  # torchcrepe's pitch of bin 0, in cents above 10 Hz


@dataclass(frozen=True)
class VocalPitch:
    """A vocal's pitch contour and its YuE vocal range.

    times_s and midi are (frames,) at a 10 ms hop; midi is fractional and NaN where
    unvoiced. The note fields are None when no note held MIN_NOTE_FRAMES frames.
    """

    times_s: np.ndarray
    midi: np.ndarray
    lowest_midi: int | None
    highest_midi: int | None

    @property
    def range_semitones(self) -> int | None:
        """Highest minus lowest counted MIDI note."""
        if self.lowest_midi is None or self.highest_midi is None:
            return None
        return self.highest_midi - self.lowest_midi


def vocal_pitch(vocals: np.ndarray, sample_rate: int, model: str = "tiny") -> VocalPitch:
    """Pitch-track a vocal and measure its range as the YuE paper defines it.

    10 ms pitch track, octave slips folded back (octave_slips.py), unvoiced frames dropped,
    frames rounded to MIDI notes, a note counted once it holds MIN_NOTE_FRAMES consecutive frames; range = highest - lowest.
    vocals: float32 (samples,) or (samples, channels) at `sample_rate`, downmixed and
    resampled to 16 kHz. model: 'tiny' (fast) or 'full' (~10x the cost). Runs on CPU:
    with 'tiny', about 0.15 s per second of sung (non-silent) audio on 2 cores.
    """
    if model not in MODELS:
        raise ParamsError("pitch_model", f"'{model}' is not a crepe model", "use 'tiny' or 'full'")
    audio = resample(to_mono(vocals)[:, None], sample_rate, CREPE_SAMPLE_RATE)[:, 0]
    midi = fix_octave_slips(_crepe_midi(audio, model))
    notes = held_notes(midi)
    times_s = np.arange(midi.size) * HOP_S
    if notes.size == 0:
        return VocalPitch(times_s, midi, None, None)
    return VocalPitch(times_s, midi, int(notes.min()), int(notes.max()))


def held_notes(midi: np.ndarray, min_frames: int = MIN_NOTE_FRAMES) -> np.ndarray:
    """Distinct MIDI notes that hold at least `min_frames` consecutive frames.

    midi: (frames,) fractional MIDI, NaN where unvoiced. Each voiced frame rounds to
    its nearest note; a run is broken by an unvoiced frame or a change of note.
    """
    midi = np.asarray(midi, dtype=np.float64)
    voiced = ~np.isnan(midi)
    notes = np.where(voiced, np.round(np.nan_to_num(midi)), np.nan)
    # Run boundaries: wherever the rounded note (or voicing) differs from the frame before.
    changes = np.flatnonzero(~_same(notes[1:], notes[:-1])) + 1
    starts = np.concatenate([[0], changes])
    lengths = np.diff(np.concatenate([starts, [notes.size]]))
    held = notes[starts][(lengths >= min_frames) & voiced[starts]] if notes.size else notes
    return np.unique(held).astype(np.int64)


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise equality that treats NaN == NaN as the same (unvoiced) state."""
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _crepe_midi(audio: np.ndarray, model: str) -> np.ndarray:
    """(samples,) 16 kHz audio -> (frames,) fractional MIDI at a 10 ms hop, NaN if unvoiced."""
    hop = int(round(HOP_S * CREPE_SAMPLE_RATE))
    loud = _frame_rms_db(audio, hop) >= SILENCE_DBFS
    salience = _salience(audio, loud, model)
    midi, periodicity = np.full(loud.size, np.nan), np.zeros(loud.size)
    # Each stretch between silences is decoded on its own: a new phrase may start anywhere.
    for start, end in _runs(loud):
        midi[start:end], periodicity[start:end] = _decode(salience[start:end])
    periodicity = median_filter(periodicity, PERIODICITY_MEDIAN_FRAMES, mode="nearest")
    return np.where(periodicity >= PERIODICITY_THRESHOLD, midi, np.nan)


def _salience(audio: np.ndarray, loud: np.ndarray, model: str) -> np.ndarray:
    """crepe's (frames, 360) pitch-bin salience; rows stay zero where `loud` is False.

    Only loud frames are cut out, normalised (as torchcrepe.preprocess does: zero mean, unit sample
    standard deviation) and run through the network: a vocal stem is often half silence, and the network
    is nearly all of the cost. Frames are 1024 samples centred every hop, the audio zero-padded by half.
    """
    import torch
    import torchcrepe

    from .crepe_net import salience as network_salience

    hop = int(round(HOP_S * CREPE_SAMPLE_RATE))
    salience = np.zeros((loud.size, PITCH_BINS), dtype=np.float32)
    padded = np.pad(np.asarray(audio, dtype=np.float32), torchcrepe.WINDOW_SIZE // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, torchcrepe.WINDOW_SIZE)[::hop][: loud.size]
    index = np.flatnonzero(loud)
    for first in range(0, index.size, BATCH_FRAMES):
        rows = index[first : first + BATCH_FRAMES]
        batch = frames[rows] - frames[rows].mean(axis=1, keepdims=True)
        batch /= np.maximum(batch.std(axis=1, ddof=1, keepdims=True), np.float32(1e-10))
        salience[rows] = network_salience(torch.from_numpy(batch), model).numpy()
    return salience


def _decode(salience: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 360) salience -> (MIDI, periodicity), each (frames,).

    A Viterbi path through the bins keeps crepe-tiny's brief octave slips out (frame-wise
    argmax lets them through for 4+ frames); the pitch is then CREPE's salience-weighted
    mean of the 9 bins around the path, without torchcrepe's random dither, so results
    repeat exactly.
    """
    cents = 20.0 * np.arange(PITCH_BINS) + BIN0_CENTS
    in_range = (cents >= _hz_to_cents(FMIN_HZ)) & (cents <= _hz_to_cents(FMAX_HZ))
    bins = _viterbi_bins(np.where(in_range, salience, 0.0))
    frames = np.arange(bins.size)
    window = np.clip(bins[:, None] + np.arange(-4, 5), 0, PITCH_BINS - 1)
    weights = np.where(in_range[window], salience[frames[:, None], window], 0.0)
    mean_cents = (weights * cents[window]).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return (mean_cents - _hz_to_cents(440.0)) / 100.0 + 69.0, salience[frames, bins]


def _viterbi_bins(salience: np.ndarray) -> np.ndarray:
    """Most likely bin path through (frames, 360) salience: small steps cheap, leaps rare.

    Emissions are the salience normalised per frame, as CREPE does; torchcrepe's softmax
    over sigmoid outputs is nearly flat and lets the transition penalty hold the path
    an octave off through whole notes. The same path as librosa.sequence.viterbi with the
    dense _transition matrix, in a fifteenth of the time: a bin is reached from its +-11 band
    or, at one flat cost, from the best bin anywhere.
    """
    emission = salience / np.maximum(salience.sum(axis=1, keepdims=True), 1e-12) + 1e-9
    log_prob = np.log(emission.astype(np.float64) + _TINY)
    sources, log_band, log_far = _banded(LEAP_PROBABILITY)
    rows = np.arange(PITCH_BINS)
    value = log_prob[0] + np.log(1.0 / PITCH_BINS + _TINY)
    pointer = np.zeros(log_prob.shape, dtype=np.int64)
    for t in range(1, log_prob.shape[0]):
        candidates = value[sources] + log_band  # (360 targets, 23 sources)
        best = candidates.argmax(axis=1)
        near, far_from = candidates[rows, best], int(value.argmax())
        far = value[far_from] + log_far
        pointer[t] = np.where(far > near, far_from, sources[rows, best])
        value = np.maximum(near, far) + log_prob[t]
    path = np.zeros(log_prob.shape[0], dtype=np.int64)
    path[-1] = int(value.argmax())
    for t in range(log_prob.shape[0] - 1, 0, -1):
        path[t - 1] = pointer[t, path[t]]
    return path


_TINY = np.finfo(np.float64).tiny  # librosa's epsilon under every log
_BAND = 11  # bins each side that _transition's triangle reaches


@functools.lru_cache(maxsize=2)
def _banded(leap_probability: float) -> tuple[np.ndarray, np.ndarray, float]:
    """_transition as bands: (360, 23) source bins of each target (clipped at the edges), their log
    transition (-inf where clipped), and the log of the flat cost of any other jump."""
    log_transition = np.log(_transition(leap_probability) + _TINY)
    targets = np.arange(PITCH_BINS)[:, None]
    sources = targets + np.arange(-_BAND, _BAND + 1)[None, :]
    inside = (sources >= 0) & (sources < PITCH_BINS)
    sources = np.clip(sources, 0, PITCH_BINS - 1)
    log_band = np.where(inside, log_transition[sources, targets], -np.inf)
    return sources, log_band, float(np.log(leap_probability / PITCH_BINS + _TINY))


@functools.lru_cache(maxsize=2)
def _transition(leap_probability: float) -> np.ndarray:
    """(360, 360) bin transitions: CREPE's triangular band of +-11 bins per frame plus a flat
    `leap_probability` of jumping anywhere: a held leap is followed, a slip of a few
    frames costs more than it explains."""
    distance = np.abs(np.subtract.outer(np.arange(PITCH_BINS), np.arange(PITCH_BINS)))
    band = np.maximum(12 - distance, 0).astype(np.float64)
    band /= band.sum(axis=1, keepdims=True)
    return (1.0 - leap_probability) * band + leap_probability / PITCH_BINS


def _hz_to_cents(hz: float) -> float:
    """Cents above 10 Hz, torchcrepe's pitch scale."""
    return 1200.0 * float(np.log2(hz / 10.0))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a (frames,) bool mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _frame_rms_db(audio: np.ndarray, hop: int) -> np.ndarray:
    """RMS (dBFS) of crepe's own frames: 1024 samples centred every `hop`, zero-padded."""
    import torchcrepe

    half = torchcrepe.WINDOW_SIZE // 2
    padded = np.pad(np.asarray(audio, dtype=np.float64), half)
    energy = np.concatenate([[0.0], np.cumsum(padded**2)])
    starts = np.arange(1 + audio.size // hop) * hop
    mean_square = (energy[starts + torchcrepe.WINDOW_SIZE] - energy[starts]) / torchcrepe.WINDOW_SIZE
    return 10.0 * np.log10(np.maximum(mean_square, 1e-20))
