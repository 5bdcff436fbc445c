"""One ACE-Step call: a song and the engine's params as AceStepPipeline's arguments, and its output as a float32
(samples, 2) mix. Pure of placement: the pipeline comes loaded (pipeline.loaded), the noise from CPU generators
seeded with the take's seed (the DiT's, and the VAE's sampling of encoded audio: vae_seeded), so a seed gives the
same noise on any device, and no global generator is touched (two calls in one process do not reseed each other).

Oobleck's strided convolutions round a length down to a whole latent frame (hop = sample_rate / latents_per_second
samples: 1920 for the real VAE), so the audio the pipeline encodes is padded up to a whole number of frames
(padded) and its output cut back to the asked length."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ...audio.io import read_audio
from .params import AceStepParams


def caption(song: Any, params: AceStepParams) -> str:
    """ACE-Step's caption: the params' free text, else the song's tags joined."""
    return params.tags or ", ".join([*song.genre, *song.mood, *song.instrument, *song.voice])


def call_kwargs(song: Any, params: AceStepParams, seed: int) -> dict[str, Any]:
    """AceStepPipeline's text2music arguments for the song (no audio inputs: see audio_tensor)."""
    import torch

    kwargs = {"prompt": caption(song, params), "lyrics": song.lyrics, "audio_duration": float(song.duration_s),
              "vocal_language": song.language, "num_inference_steps": params.inference_steps,
              "guidance_scale": params.guidance_scale, "shift": params.shift,
              "bpm": int(round(song.bpm)), "keyscale": song.key, "timesignature": params.time_signature,
              "generator": torch.Generator("cpu").manual_seed(seed)}
    if params.lora_path is not None:
        kwargs["attention_kwargs"] = {"scale": params.lora_scale}
    return kwargs


def audio_tensor(audio: np.ndarray) -> Any:
    """(samples, channels) float32 -> the pipeline's (2, samples) tensor (mono doubled, extra channels dropped)."""
    import torch

    stereo = np.repeat(audio[:, :1], 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]
    return torch.from_numpy(np.ascontiguousarray(stereo.T, dtype=np.float32))


def reference(path: Path | None, rate: int) -> Any:
    """The reference audio's tensor at the pipeline's rate, or None."""
    return None if path is None else audio_tensor(read_audio(path, rate)[0])


def hop(pipe: Any) -> int:
    """Audio samples per latent frame of the pipeline's VAE."""
    return int(round(pipe.sample_rate / pipe.latents_per_second))


def padded(audio: np.ndarray, frame: int) -> np.ndarray:
    """(samples, channels) audio with silence after it up to a whole number of `frame`-sample frames."""
    return np.pad(audio, ((0, -len(audio) % frame), (0, 0)))


@contextmanager
def vae_seeded(pipe: Any, seed: int) -> Iterator[None]:
    """Inside, this pipe's VAE samples what it encodes (a cover's or repaint's source, a reference) from a CPU
    generator seeded with the take's seed: diffusers' AceStepPipeline calls `vae.encode(x).latent_dist.sample()`
    without the call's generator (torch's global one). Only this pipe's VAE is changed, and restored after."""
    import torch

    vae, noise = pipe.vae, torch.Generator("cpu").manual_seed(seed)
    encode = vae.encode  # the bound method (or an outer wrapper's)

    def seeded_encode(*args: Any, **kwargs: Any) -> Any:
        out = encode(*args, **kwargs)
        dist = out.latent_dist if hasattr(out, "latent_dist") else out[0]
        draw = dist.sample
        dist.sample = lambda generator=None: draw(generator=generator or noise)  # type: ignore[method-assign]
        return out

    had = "encode" in vars(vae)
    vae.encode = seeded_encode
    try:
        yield
    finally:
        if had:
            vae.encode = encode
        else:
            del vae.encode


def to_mix(audios: Any, samples: int | None = None) -> np.ndarray:
    """The pipeline's (1, 2, samples) output as float32 (samples, 2), cut to `samples` when given."""
    mix = audios[0].detach().float().cpu().numpy().T
    return np.ascontiguousarray(mix[:samples] if samples else mix, dtype=np.float32)


def cover_source(path: Path, rate: int, samples: int, frame: int = 1) -> Any:
    """The covered audio's tensor: its first `samples` at the pipeline's rate, silence after a shorter one (the
    cover's length is its source's: the song's duration_s), padded up to a whole number of `frame`-sample frames."""
    audio = read_audio(path, rate)[0][:samples]
    return audio_tensor(padded(np.pad(audio, ((0, samples - len(audio)), (0, 0))), frame))


def text2music(pipe: Any, song: Any, params: AceStepParams, seed: int, codes: str | None = None) -> np.ndarray:
    """The song's mix at pipe.sample_rate, exactly song.duration_s long: text2music; with `cover_of` ACE-Step's
    cover task (the covered audio as its source, `cover_strength` its blend); with `codes`, the planner's 5 Hz
    audio codes ("<|audio_code_N|>..."), the DiT conditioned on them (the pipeline runs its cover task on them).
    The params never give both (AceStepParams refuses a planner beside cover_of)."""
    kwargs = call_kwargs(song, params, seed)
    samples = int(round(song.duration_s * pipe.sample_rate))
    if params.cover_of is not None:
        kwargs.update(task_type="cover", src_audio=cover_source(params.cover_of, pipe.sample_rate, samples, hop(pipe)),
                      audio_cover_strength=params.cover_strength)
    if codes:
        kwargs["audio_codes"] = codes
    ref = reference(params.reference_audio, pipe.sample_rate)
    with vae_seeded(pipe, seed):
        audios = pipe(**kwargs, reference_audio=ref).audios
    return to_mix(audios, samples)
