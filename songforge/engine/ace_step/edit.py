"""Editing a finished ACE-Step take: repaint a time range, or extend the song past its end (a repaint of the range
after it), as ACE-Step's repaint task makes them, spliced into the original so that only the range changes.

AceStepPipeline's repaint regenerates the whole latent sequence, conditioned on the original outside the range,
and decodes all of it: the audio outside the range comes back close to, not equal to, the original (and at the
pipeline's own -1 dBFS peak level). A producer wants the rest of the song untouched, so the new audio is scaled to
the original's level (RMS over the context the model was given) and spliced in: inside [start, end] the new audio,
over CROSSFADE_S on each side outside the range a raised-cosine crossfade, beyond that the original's own samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ParamsError
from .params import AceStepParams
from .render import audio_tensor, call_kwargs, hop, padded, reference, to_mix, vae_seeded

CROSSFADE_S = 0.5  # the margin outside an edited range over which new and original audio are crossfaded


@dataclass(frozen=True)
class Edit:
    """An edited take: the audio, and what was done (the range, the margin, the gain given to the new audio)."""

    audio: np.ndarray
    start_s: float
    end_s: float
    crossfade_s: float
    gain: float

    def facts(self) -> dict[str, float]:
        return {"start_s": self.start_s, "end_s": self.end_s, "crossfade_s": self.crossfade_s, "gain": self.gain}


def check_range(start_s: float, end_s: float, duration_s: float) -> None:
    """ParamsError naming the bad bound: 0 <= start < end, start inside the take or at its end (the end may pass
    the take's: extend)."""
    if not 0 <= start_s <= duration_s:
        raise ParamsError("--from", f"is {start_s} s, outside the take (0 to {duration_s:.2f} s)",
                          "start the edited range inside the take")
    if end_s <= start_s:
        raise ParamsError("--to", f"is {end_s} s, not after the range's start ({start_s} s)",
                          "give an end later than the start")


def crossfade_weights(samples: int, rate: int, start_s: float, end_s: float, crossfade_s: float) -> np.ndarray:
    """Per-sample weight of the new audio: 1 inside [start, end], raised-cosine ramps over crossfade_s outside it,
    0 beyond."""
    t = np.arange(samples) / rate
    before = np.clip((t - (start_s - crossfade_s)) / crossfade_s, 0, 1) if crossfade_s > 0 else (t >= start_s) * 1.0
    after = np.clip(((end_s + crossfade_s) - t) / crossfade_s, 0, 1) if crossfade_s > 0 else (t < end_s) * 1.0
    ramp = np.minimum(before, after)
    return (0.5 - 0.5 * np.cos(np.pi * ramp)).astype(np.float32)


def splice(original: np.ndarray, new: np.ndarray, rate: int, start_s: float, end_s: float,
           crossfade_s: float = CROSSFADE_S) -> tuple[np.ndarray, float]:
    """The new audio in the range, levelled to the original's context and crossfaded in; (audio, gain)."""
    weights = crossfade_weights(len(original), rate, start_s, end_s, crossfade_s)[:, None]
    context = weights[:, 0] == 0
    level = lambda audio: float(np.sqrt(np.mean(np.square(audio[context])))) if context.any() else 0.0
    gain = level(original) / level(new) if level(new) > 1e-9 and level(original) > 1e-9 else 1.0
    return (original * (1 - weights) + new * gain * weights).astype(np.float32), gain


def repaint(pipe: Any, song: Any, params: AceStepParams, original: np.ndarray, start_s: float, end_s: float,
            seed: int, crossfade_s: float = CROSSFADE_S) -> Edit:
    """The take `original` ((samples, 2) at pipe.sample_rate) with [start_s, end_s] made anew for the song (its
    caption and lyrics); an end past the take's end extends it (silence stands for the audio to come)."""
    rate = pipe.sample_rate
    check_range(start_s, end_s, len(original) / rate)
    samples = max(len(original), int(round(end_s * rate)))
    source = np.zeros((samples, 2), np.float32)
    source[:len(original)] = original
    whole = padded(source, hop(pipe))  # the VAE encodes whole latent frames: cut back to `samples` after
    kwargs = {**call_kwargs(song, params, seed), "audio_duration": len(whole) / rate}
    with vae_seeded(pipe, seed):
        new = to_mix(pipe(**kwargs, task_type="repaint", src_audio=audio_tensor(whole), repainting_start=start_s,
                          repainting_end=end_s, reference_audio=reference(params.reference_audio, rate)).audios,
                     samples)
    audio, gain = splice(source, new, rate, start_s, end_s, crossfade_s)
    return Edit(audio, start_s, end_s, crossfade_s, gain)


def extend(pipe: Any, song: Any, params: AceStepParams, original: np.ndarray, seconds: float, seed: int,
           crossfade_s: float = CROSSFADE_S) -> Edit:
    """The take continued by `seconds` past its end (a repaint of the range after it)."""
    if seconds <= 0:
        raise ParamsError("seconds", f"is {seconds}", "extend by a positive number of seconds")
    end = len(original) / pipe.sample_rate
    return repaint(pipe, song, params, original, end, end + seconds, seed, crossfade_s)
