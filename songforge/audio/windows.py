"""Where in a recording to listen: the most energetic stretch of a given length that has a voice in it."""

from __future__ import annotations

import numpy as np

from .io import to_mono

FRAME_S = 1.0  # windows start on whole seconds; energy is counted per second
VOICED_DB = -30.0  # a second is voiced when its vocal energy is within this of the vocal's loudest second
VOICED_SHARE = 0.9  # a window "contains vocals" when at least this share of its seconds are voiced


def frame_energy(audio: np.ndarray, sample_rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """Mean power per whole frame of (samples,) or (samples, channels) audio: (frames,)."""
    mono = to_mono(audio).astype(np.float64)
    size = int(round(frame_s * sample_rate))
    frames = len(mono) // size
    return (mono[: frames * size].reshape(frames, size) ** 2).mean(axis=1) if frames else np.zeros(0)


def energetic_vocal_window(mix: np.ndarray, vocals: np.ndarray, sample_rate: int,
                           seconds: float = 30.0) -> tuple[float, float]:
    """(start_s, end_s) of the `seconds`-long stretch with the most energy in `mix` among those whose seconds are
    at least 90 % voiced (by `vocals`); the most voiced stretch when none is; the whole file when shorter."""
    duration_s = min(len(mix), len(vocals)) / sample_rate
    frames = int(seconds / FRAME_S)
    if duration_s <= seconds or frames < 1:
        return 0.0, duration_s
    power, vocal = frame_energy(mix, sample_rate), frame_energy(vocals, sample_rate)
    voiced = vocal >= vocal.max() * 10 ** (VOICED_DB / 10) if vocal.max() > 0 else np.zeros_like(vocal, bool)
    kernel = np.ones(frames)
    energy = np.convolve(power, kernel, mode="valid")  # window starting at each whole second
    share = np.convolve(voiced.astype(float), kernel, mode="valid") / frames
    candidates = np.flatnonzero(share >= VOICED_SHARE)
    start = int(candidates[np.argmax(energy[candidates])]) if len(candidates) else int(np.argmax(share))
    return start * FRAME_S, start * FRAME_S + seconds
