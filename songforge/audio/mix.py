"""Mix vocal and instrumental stems into one stereo track with headroom for mastering."""

from __future__ import annotations

import numpy as np

from ..params import MixSpec
from .dsp import check_audio, db_to_gain, widen
from .io import to_stereo

MIX_PEAK_DBFS = -1.5  # leaves the mastering stage room; "below about -1 dBFS" with a margin
PRESENCE_HZ, PRESENCE_GAIN_DB, PRESENCE_Q = 3000.0, 2.0, 0.8  # a gentle lift for intelligibility
REVERB_PREDELAY_S = 0.02  # keeps the consonants dry and in front of the reverb
REVERB_SEND_HIGHPASS_HZ = 250.0  # no low-mid mud in the reverb return
INSTRUMENTAL_LOWCUT_HZ = 30.0  # rumble below the lowest useful bass


def mix_stems(vocals: np.ndarray, instrumental: np.ndarray, sample_rate: int, spec: MixSpec) -> np.ndarray:
    """Vocal chain + reverb return + widened instrumental, summed, peaking at most MIX_PEAK_DBFS.

    Stems are float32 (samples,) or (samples, 1|2) at `sample_rate`; the shorter one is padded with
    silence. Returns float32 (samples, 2).
    """
    vocals = to_stereo(check_audio(vocals, "vocals"))
    instrumental = to_stereo(check_audio(instrumental, "instrumental"))
    vocals, instrumental = _pad_to_same_length(vocals, instrumental)
    dry = vocal_chain(vocals, sample_rate, spec)
    reverb_return = spec.reverb_send * vocal_reverb(dry, sample_rate, spec)
    mix = dry + reverb_return + instrumental_chain(instrumental, sample_rate, spec)
    return with_headroom(mix, MIX_PEAK_DBFS)


def vocal_chain(vocals: np.ndarray, sample_rate: int, spec: MixSpec) -> np.ndarray:
    """High-pass, presence EQ, level-matched compression and gain on float32 (samples, 2) vocals.

    The compressor's make-up gain restores the vocal's RMS, so the ratio and threshold change its
    dynamics, not its level in the mix (that is vocals_gain_db's job).
    """
    from pedalboard import Compressor, HighpassFilter, Pedalboard, PeakFilter

    equalised = _run(Pedalboard([
        HighpassFilter(cutoff_frequency_hz=spec.vocal_highpass_hz),
        PeakFilter(cutoff_frequency_hz=PRESENCE_HZ, gain_db=PRESENCE_GAIN_DB, q=PRESENCE_Q),
    ]), vocals, sample_rate)
    compressor = Compressor(threshold_db=spec.vocal_compressor_threshold_db, ratio=spec.vocal_compressor_ratio,
                            attack_ms=5.0, release_ms=80.0)
    compressed = _run(Pedalboard([compressor]), equalised, sample_rate)
    return compressed * float(db_to_gain(spec.vocals_gain_db)) * _rms_ratio(equalised, compressed)


def vocal_reverb(vocals: np.ndarray, sample_rate: int, spec: MixSpec) -> np.ndarray:
    """The fully wet reverb return for float32 (samples, 2) vocals (pre-delayed, high-passed)."""
    from pedalboard import Delay, HighpassFilter, Pedalboard, Reverb

    board = Pedalboard([
        HighpassFilter(cutoff_frequency_hz=REVERB_SEND_HIGHPASS_HZ),
        Delay(delay_seconds=REVERB_PREDELAY_S, feedback=0.0, mix=1.0),
        Reverb(room_size=spec.reverb_room_size, damping=0.5, wet_level=1.0, dry_level=0.0, width=1.0),
    ])
    return _run(board, vocals, sample_rate)


def instrumental_chain(instrumental: np.ndarray, sample_rate: int, spec: MixSpec) -> np.ndarray:
    """Low-cut, gain and mid/side width on float32 (samples, 2) instrumental."""
    from pedalboard import Gain, HighpassFilter, Pedalboard

    board = Pedalboard([HighpassFilter(cutoff_frequency_hz=INSTRUMENTAL_LOWCUT_HZ),
                        Gain(gain_db=spec.instrumental_gain_db)])
    return widen(_run(board, instrumental, sample_rate), sample_rate, spec.width)


def with_headroom(mix: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """Scale float32 (samples, 2) audio down so its sample peak is at most `peak_dbfs` (never up)."""
    peak = float(np.max(np.abs(mix))) if mix.size else 0.0
    limit = float(db_to_gain(peak_dbfs))
    return (mix * (limit / peak) if peak > limit else mix).astype(np.float32)


def _rms_ratio(before: np.ndarray, after: np.ndarray) -> float:
    after_rms = float(np.sqrt(np.mean(np.square(after, dtype=np.float64))))
    return float(np.sqrt(np.mean(np.square(before, dtype=np.float64)))) / after_rms if after_rms > 0 else 1.0


def _run(board, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    # pedalboard guesses the layout of 2-D input; (channels, samples) is never ambiguous
    return board(np.ascontiguousarray(audio.T, dtype=np.float32), float(sample_rate)).T.copy()


def _pad_to_same_length(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    length = max(a.shape[0], b.shape[0])
    return (np.pad(a, ((0, length - a.shape[0]), (0, 0))), np.pad(b, ((0, length - b.shape[0]), (0, 0))))
