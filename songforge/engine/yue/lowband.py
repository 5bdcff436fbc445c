"""SPEC §6.5: YuE's final song = the 16 kHz codec mix below 5.5 kHz, RMS-matched, + the 44.1 kHz vocoder mix above.

Reproduces post_process_audio.replace_low_freq_with_energy_matched (YuE@14153f7) without torchaudio, whose
compiled parts are unavailable here: its sinc resampler (transforms.Resample defaults) and its RBJ biquads,
including lfilter's default clamp of every filter output to [-1, 1], which the official call keeps.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from ...errors import AudioError, ParamsError

Q = 0.707  # torchaudio's default for lowpass_biquad / highpass_biquad
EPS = 1e-10  # added to each RMS, as the official code does


def fuse_low_band(low: np.ndarray, low_rate: int, high: np.ndarray, high_rate: int,
                  cutoff_hz: float = 5500.0) -> np.ndarray:
    """`low` below cutoff_hz, scaled to the RMS of `high`'s own low band, plus `high` above cutoff_hz.

    Arrays are (samples,) or (samples, channels) float, unclipped; the result is float32 at high_rate, as long
    as the shorter of the two (low counted after resampling). The RMS is global over channels and time.
    """
    low, high = _audio(low, "low"), _audio(high, "high")
    if low.shape[1:] != high.shape[1:]:
        raise AudioError(f"low has shape {low.shape} and high {high.shape}: the channel counts differ. "
                         "Fix: pass both mono (samples,) or with the same number of channels.")
    if not 0 < cutoff_hz < high_rate / 2:
        raise ParamsError("cutoff_hz", f"{cutoff_hz} Hz is not between 0 and half of {high_rate} Hz",
                          "use a cutoff inside the band, e.g. the official 5500")
    low = sinc_resample(low, low_rate, high_rate)
    low_band = lowpass_biquad(low, high_rate, cutoff_hz)
    scale = (_rms(lowpass_biquad(high, high_rate, cutoff_hz)) + EPS) / (_rms(low_band) + EPS)
    high_band = highpass_biquad(high, high_rate, cutoff_hz)
    n = min(len(low_band), len(high_band))
    return (low_band[:n] * np.float32(scale) + high_band[:n]).astype(np.float32)


def lowpass_biquad(audio: np.ndarray, sample_rate: int, cutoff_hz: float, q: float = Q) -> np.ndarray:
    """torchaudio.functional.lowpass_biquad along axis 0 (RBJ cookbook, output clamped to [-1, 1])."""
    w0, alpha = _w0_alpha(sample_rate, cutoff_hz, q)
    b1 = np.float32(1) - np.cos(w0)
    return _biquad(audio, (b1 / 2, b1, b1 / 2), (1 + alpha, -2 * np.cos(w0), 1 - alpha))


def highpass_biquad(audio: np.ndarray, sample_rate: int, cutoff_hz: float, q: float = Q) -> np.ndarray:
    """torchaudio.functional.highpass_biquad along axis 0 (RBJ cookbook, output clamped to [-1, 1])."""
    w0, alpha = _w0_alpha(sample_rate, cutoff_hz, q)
    b0 = (1 + np.cos(w0)) / 2
    return _biquad(audio, (b0, -1 - np.cos(w0), b0), (1 + alpha, -2 * np.cos(w0), 1 - alpha))


def sinc_resample(audio: np.ndarray, from_rate: int, to_rate: int, lowpass_filter_width: int = 6,
                  rolloff: float = 0.99) -> np.ndarray:
    """torchaudio.transforms.Resample(from_rate, to_rate) along axis 0: Hann-windowed sinc, float32 kernel.

    Output length ceil(len * to_rate / from_rate); float32, same layout as the input.
    """
    if from_rate == to_rate:
        return np.asarray(audio, dtype=np.float32)
    kernel, width, orig, new = _sinc_kernel(int(from_rate), int(to_rate), lowpass_filter_width, rolloff)
    channels = torch.from_numpy(np.ascontiguousarray(np.asarray(audio, dtype=np.float32).T)).reshape(-1, len(audio))
    padded = torch.nn.functional.pad(channels, (width, width + orig))
    out = torch.nn.functional.conv1d(padded[:, None], kernel, stride=orig).transpose(1, 2).reshape(len(channels), -1)
    out = out[:, :math.ceil(new * len(audio) / orig)].numpy()
    return out[0] if np.ndim(audio) == 1 else np.ascontiguousarray(out.T)


@lru_cache(maxsize=8)
def _sinc_kernel(from_rate: int, to_rate: int, zeros: int, rolloff: float) -> tuple[torch.Tensor, int, int, int]:
    """(kernel [new, 1, 2*width + orig], width, orig, new), computed as torchaudio's _get_sinc_resample_kernel."""
    gcd = math.gcd(from_rate, to_rate)
    orig, new = from_rate // gcd, to_rate // gcd
    base = min(orig, new) * rolloff  # below both Nyquists: anti-aliasing, and no ringing at the edges
    width = math.ceil(zeros * orig / base)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = (torch.arange(0, -new, -1)[:, None, None] / new + idx) * base  # the float32 phase step, as torchaudio
    t = t.clamp(-zeros, zeros)
    window = torch.cos(t * math.pi / zeros / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.tensor(1.0, dtype=t.dtype), t.sin() / t)
    return (sinc * (window * (base / orig))).float(), width, orig, new


def _w0_alpha(sample_rate: int, cutoff_hz: float, q: float) -> tuple[np.float32, np.float32]:
    # float32 throughout: torchaudio designs the filter in the waveform's dtype, float32 in the official call
    w0 = np.float32(2 * math.pi) * np.float32(cutoff_hz) / np.float32(sample_rate)
    return w0, np.sin(w0) / np.float32(2) / np.float32(q)


def _biquad(audio: np.ndarray, b: tuple, a: tuple) -> np.ndarray:
    from scipy.signal import lfilter

    a0 = np.float32(a[0])
    b = np.array([np.float32(x) / a0 for x in b], dtype=np.float64)
    a = np.array([np.float32(x) / a0 for x in a], dtype=np.float64)
    filtered = lfilter(b, a, np.asarray(audio, dtype=np.float64), axis=0)
    return np.clip(filtered, -1.0, 1.0).astype(np.float32)


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def _audio(audio: np.ndarray, name: str) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2) or len(audio) == 0 or not np.isfinite(audio).all():
        raise AudioError(f"{name} audio has shape {audio.shape} or holds NaN/inf. "
                         "Fix: pass a non-empty finite (samples,) or (samples, channels) array.")
    return audio
