"""RVC v2 voice refinement of a vocal stem: 16 kHz analysis (48 Hz high-pass, F0, ContentVec, index retrieval,
protection of unvoiced frames), the voice's synthesizer, then back to the stem's rate and length.

Alignment is by construction: every stage works on one grid of 10 ms frames that starts at the stem's first
sample (frame j = 16 kHz samples [160 j, 160 j + 160) = the voice's samples [hop j, hop j + hop)); the
context padded on for each pass is cut off again by exactly as many frames; the high-pass runs forward and
backward (no phase delay) and soxr's one-shot resampling is delay-compensated. The result has the stem's
length and channels, sample for sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from scipy.signal import butter, sosfiltfilt

from ...audio.io import resample, to_mono
from .chunks import OVERLAP_FRAMES, join, pass_frames, windows
from .f0 import HOP, Tracker, coarse, shift
from .features import content_features
from .index import FeatureIndex, retrieve
from .voice import Voice

ANALYSIS_RATE = 16000
CONTEXT_FRAMES = 100  # 1 s of audio either side of each pass, mirrored at the ends, cut off after synthesis
HIGHPASS_HZ = 48  # RVC's: below any sung fundamental; removes rumble before analysis
PROTECT_OFF = 0.5  # protect at 0.5 or more leaves unvoiced frames to the index like the rest, as in RVC
SEED = 0  # the synthesizer's noise: the same call gives the same audio

Progress = Optional[Callable[[float, str], None]]


@dataclass(frozen=True)
class Refinement:
    """How the voice is applied. pitch_shift in semitones; index_rate 0..1 (retrieved features' share); protect
    0..0.5 (the share of index and voice features on unvoiced frames, breaths and consonants: lower keeps more
    of the singer); rms_mix_rate 0..1 as RVC defines it: 1 keeps the voice model's own loudness envelope, 0
    gives the output the input's envelope (1 s windows)."""

    pitch_shift: float = 0.0
    index_rate: float = 0.4
    protect: float = 0.33
    rms_mix_rate: float = 0.25
    speaker: int = 0


@dataclass(frozen=True)
class Models:
    """What a refinement runs on: ContentVec (a transformers HubertModel), an F0 tracker, the voice, its index."""

    contentvec: object
    track_f0: Tracker
    voice: Voice
    index: FeatureIndex | None = None


def refine_vocal(audio: np.ndarray, rate: int, models: Models, settings: Refinement,
                 longest_pass: int | None = None, progress: Progress = None) -> np.ndarray:
    """The stem (samples,) or (samples, channels) float32 at `rate`, sung by the voice: same shape, same rate.

    longest_pass: the most 10 ms frames one pass may hold (context included); None: as memory allows.
    """
    mono = to_mono(audio)
    frames, analysis = analysis_signal(mono, rate)
    padded = np.pad(analysis, CONTEXT_FRAMES * HOP, mode="reflect")
    f0 = shift(models.track_f0(padded)[:frames + 2 * CONTEXT_FRAMES], settings.pitch_shift)
    core = (longest_pass or pass_frames(_device(models.voice))) - 2 * CONTEXT_FRAMES
    sung = sing(padded, f0, windows(frames, max(core, 3 * OVERLAP_FRAMES)), models, settings, progress)
    voiced = fit_length(resample(sung[:, None], models.voice.sample_rate, rate)[:, 0], mono.shape[0])
    if settings.rms_mix_rate < 1:
        voiced = match_envelope(mono, voiced, rate, settings.rms_mix_rate)
    return voiced if np.ndim(audio) == 1 else np.repeat(voiced[:, None], np.shape(audio)[1], axis=1)


def sing(padded: np.ndarray, f0: np.ndarray, spans: list[tuple[int, int]], models: Models, settings: Refinement,
         progress: Progress = None) -> np.ndarray:
    """The voice's audio for frames [0, spans[-1][1]) of the stem, a window per span: `padded` (16 kHz) and `f0`
    carry CONTEXT_FRAMES more frames at each end, which each window reads and then cuts off its output."""
    hop, pieces = models.voice.hop, []
    for i, (start, end) in enumerate(spans):
        if progress:
            progress(i / len(spans), f"voice: window {i + 1} of {len(spans)}")
        width = end - start + 2 * CONTEXT_FRAMES  # the window's frames in padded terms: [start, start + width)
        phase = float(f0[:start].sum()) * hop / models.voice.sample_rate % 1.0  # the whole file's sine there
        out = synthesize(padded[start * HOP:(start + width) * HOP], f0[start:start + width], models, settings, i,
                         phase)
        pieces.append(out[CONTEXT_FRAMES * hop:-CONTEXT_FRAMES * hop])
    return join(pieces, spans, hop)


def analysis_signal(mono: np.ndarray, rate: int) -> tuple[int, np.ndarray]:
    """(frames, 16 kHz audio high-passed at 48 Hz, zero-padded to frames x 160 samples): the frames cover the stem."""
    analysis = resample(mono[:, None], rate, ANALYSIS_RATE)[:, 0].astype(np.float64)
    analysis = sosfiltfilt(butter(5, HIGHPASS_HZ, "highpass", fs=ANALYSIS_RATE, output="sos"), analysis)
    frames = -(-analysis.shape[0] // HOP)
    return frames, np.pad(analysis, (0, frames * HOP - analysis.shape[0])).astype(np.float32)


def synthesize(audio: np.ndarray, f0: np.ndarray, models: Models, settings: Refinement, seed: int = 0,
               phase: float = 0.0) -> np.ndarray:
    """One pass: 16 kHz audio of `len(f0)` frames and its F0 (Hz, shifted) -> the voice's audio, len(f0) x hop.
    seed: the pass's noise; phase: where the excitation's sine starts (cycles)."""
    frames = f0.shape[0]
    features = content_features(models.contentvec, audio)
    retrieved = retrieve(features, models.index, settings.index_rate) if models.index else features
    phone = fit_frames(np.repeat(retrieved, 2, axis=0), frames)  # 20 ms features onto the 10 ms grid
    if settings.protect < PROTECT_OFF:  # unvoiced frames keep (1 - protect) of the singer's own features
        own = fit_frames(np.repeat(features, 2, axis=0), frames)
        keep = np.where(f0 > 0, 1.0, settings.protect)[:, None]
        phone = phone * keep + own * (1.0 - keep)
    model = models.voice.model
    device, dtype = _device(models.voice), model.emb_g.weight.dtype
    generator = torch.Generator(device).manual_seed(SEED + seed)
    out = model.infer(torch.as_tensor(phone, dtype=dtype, device=device)[None],
                      torch.as_tensor(coarse(f0), device=device)[None],
                      torch.as_tensor(f0, dtype=dtype, device=device)[None], settings.speaker, generator, phase)
    return out[0].float().cpu().numpy()


def fit_frames(features: np.ndarray, frames: int) -> np.ndarray:
    """[n, D] -> [frames, D]: cut, or the last frame repeated (ContentVec gives a frame or two fewer than the grid)."""
    if features.shape[0] >= frames:
        return features[:frames]
    return np.concatenate([features, np.repeat(features[-1:], frames - features.shape[0], axis=0)])


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """(n,) -> (length,): cut, or zero-padded at the end."""
    return audio[:length] if audio.shape[0] >= length else np.pad(audio, (0, length - audio.shape[0]))


def match_envelope(source: np.ndarray, target: np.ndarray, rate: int, mix_rate: float) -> np.ndarray:
    """target x (rms_source / rms_target) ^ (1 - mix_rate): RVC's rms_mix_rate, on 1 s windows every 0.5 s,
    linearly interpolated per sample."""
    import librosa

    def envelope(audio: np.ndarray) -> np.ndarray:
        rms = librosa.feature.rms(y=audio, frame_length=rate // 2 * 2, hop_length=rate // 2)[0]
        return np.interp(np.arange(audio.shape[0]), np.arange(rms.shape[0]) * (rate // 2), rms)

    gain = (envelope(source) / np.maximum(envelope(target), 1e-6)) ** (1.0 - mix_rate)
    return (target * gain).astype(np.float32)


def _device(voice: Voice) -> torch.device:
    return voice.model.emb_g.weight.device
