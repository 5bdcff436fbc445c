"""The sung F0 the voice follows: tracked by RMVPE (RVC's default, once pulled) or torchcrepe (which ships its
weights), shifted in semitones, and quantised to the synthesizer's coarse pitch bins.

Every tracker here gives (samples // 160 + 1,) frames of 16 kHz mono audio, frame j centred on sample 160 j,
in Hz with 0 where unvoiced: the grid the content features and the synthesizer share.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

F0_MIN_HZ, F0_MAX_HZ = 50.0, 1100.0  # RVC's range for every tracker and for the coarse bins
HOP = 160  # 10 ms at 16 kHz
CREPE_PERIODICITY = 0.1  # RVC's voicing cut for crepe (after a 3-frame median of the periodicity)
CREPE_BATCH = 512

Tracker = Callable[[np.ndarray], np.ndarray]
"""16 kHz mono (samples,) -> F0 in Hz per 10 ms frame, 0 where unvoiced."""


def crepe_tracker(model: str = "full", device: str | torch.device = "cpu") -> Tracker:
    """torchcrepe as RVC runs it: 50-1100 Hz, Viterbi decoding, a 3-frame mean of F0 and median of periodicity,
    unvoiced below periodicity 0.1. 'full' is RVC's choice; 'tiny' is about 14 times faster on a CPU."""

    def track(audio: np.ndarray) -> np.ndarray:
        import torchcrepe

        with torch.inference_mode():
            f0, periodicity = torchcrepe.predict(torch.as_tensor(audio, dtype=torch.float32)[None], 16000, HOP,
                                                 F0_MIN_HZ, F0_MAX_HZ, model, batch_size=CREPE_BATCH, device=device,
                                                 return_periodicity=True)
            periodicity = torchcrepe.filter.median(periodicity, 3)
            f0 = torchcrepe.filter.mean(f0, 3)
        f0, periodicity = f0[0].cpu().numpy().astype(np.float64), periodicity[0].cpu().numpy()
        return np.where(periodicity < CREPE_PERIODICITY, 0.0, f0)

    return track


def rmvpe_tracker(network: torch.nn.Module) -> Tracker:
    """RMVPE's network (songforge.voice.rvc.rmvpe) as a tracker."""
    from .rmvpe import rmvpe_f0

    return lambda audio: rmvpe_f0(network, audio)


def shift(f0: np.ndarray, semitones: float) -> np.ndarray:
    """F0 moved by `semitones` (unvoiced frames stay 0)."""
    return f0 * 2.0 ** (semitones / 12.0)


def coarse(f0: np.ndarray) -> np.ndarray:
    """Hz -> the synthesizer's pitch bins (int64): 1 where unvoiced, else 1..255 spaced evenly in mel between
    F0_MIN_HZ and F0_MAX_HZ (clamped beyond them)."""
    mel = 1127.0 * np.log1p(np.asarray(f0, dtype=np.float64) / 700.0)
    low, high = (1127.0 * np.log1p(hz / 700.0) for hz in (F0_MIN_HZ, F0_MAX_HZ))
    scaled = np.where(mel > 0, (mel - low) * 254.0 / (high - low) + 1.0, mel)
    return np.rint(np.clip(scaled, 1.0, 255.0)).astype(np.int64)
