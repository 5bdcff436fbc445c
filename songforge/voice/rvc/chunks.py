"""How a vocal goes through the voice model: in one pass when memory allows, else in overlapping windows on the
10 ms frame grid, joined by a linear crossfade. Pure arithmetic over frame counts and arrays.

A pass's memory grows with the square of its length (the synthesizer's attention holds T x T score maps) and
with its length (the decoder's upsampled activations, ~0.4 MB a frame at 40 kHz): a 4-minute vocal in one pass
needs about 35 GB.
"""

from __future__ import annotations

import os

import numpy as np
import torch

# Peak memory of a pass of T frames ~ BYTES_PER_FRAME_PAIR T^2 + BYTES_PER_FRAME T: measured on CPU for RVC's real
# 40 kHz synthesizer (433 MB at T = 1000, 939 MB at T = 2000: 36.5 B and 396 kB), rounded up to cover 48 kHz (a
# fifth more samples per frame). ContentVec's pass (linear: ~0.16 MB a frame) runs before and stays under it.
BYTES_PER_FRAME_PAIR = 40
BYTES_PER_FRAME = 500_000
MEMORY_SHARE = 0.5  # of the free device memory (CUDA) or available RAM (CPU) a pass may take
OVERLAP_FRAMES = 50  # 0.5 s shared by neighbouring windows and crossfaded
MIN_PASS_FRAMES = 4 * OVERLAP_FRAMES


def free_bytes(device: torch.device) -> int:
    """Free memory on `device`: CUDA's free bytes, else the host's available RAM (Linux), else 4 GiB."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def pass_bytes(frames: int) -> int:
    """The memory a pass of `frames` 10 ms frames takes at its peak (an estimate, see BYTES_PER_FRAME_PAIR)."""
    return BYTES_PER_FRAME_PAIR * frames ** 2 + BYTES_PER_FRAME * frames


def pass_frames(device: torch.device) -> int:
    """The longest window (in 10 ms frames, context included) whose pass_bytes fit MEMORY_SHARE of what `device`
    has free (never under MIN_PASS_FRAMES)."""
    budget = MEMORY_SHARE * free_bytes(device)
    a, b = BYTES_PER_FRAME_PAIR, BYTES_PER_FRAME
    return max(MIN_PASS_FRAMES, int((-b + (b * b + 4 * a * budget) ** 0.5) / (2 * a)))


def windows(frames: int, longest: int, overlap: int = OVERLAP_FRAMES) -> list[tuple[int, int]]:
    """[start, end) frame spans covering [0, frames), each at most `longest` long, neighbours sharing `overlap`
    frames; one span when it all fits."""
    if frames <= longest:
        return [(0, frames)]
    assert longest > 2 * overlap, (longest, overlap)
    step = longest - overlap
    starts = range(0, frames - overlap, step)
    return [(start, min(start + longest, frames)) for start in starts]


def join(pieces: list[np.ndarray], spans: list[tuple[int, int]], hop: int) -> np.ndarray:
    """Each window's audio (its span x `hop` samples) placed at its span, overlaps crossfaded linearly."""
    total = spans[-1][1] * hop
    out = np.zeros(total, dtype=np.float32)
    for i, (piece, (start, end)) in enumerate(zip(pieces, spans)):
        assert piece.shape[0] == (end - start) * hop, (piece.shape, start, end)
        gain = np.ones(piece.shape[0], dtype=np.float32)
        if i > 0:  # fade in over the overlap with the window before
            fade = (spans[i - 1][1] - start) * hop
            gain[:fade] = np.linspace(0.0, 1.0, fade, endpoint=False, dtype=np.float32) + 0.5 / fade
        if i + 1 < len(spans):  # fade out over the overlap with the window after
            fade = (end - spans[i + 1][0]) * hop
            gain[-fade:] *= 1.0 - (np.linspace(0.0, 1.0, fade, endpoint=False, dtype=np.float32) + 0.5 / fade)
        out[start * hop:end * hop] += piece * gain
    return out
