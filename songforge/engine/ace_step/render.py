"""One ACE-Step call: a song and the engine's params as AceStepPipeline's arguments, and its output as a float32
(samples, 2) mix. Pure of placement: the pipeline comes loaded (pipeline.loaded), the noise from a CPU generator
seeded with the take's seed, so a seed gives the same noise on any device."""

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


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's global generators seeded with the take's seed inside, restored after: diffusers' VAE samples the
    encoded source audio (cover, repaint) from them, not from the call's generator, so without this a source
    gives another take on every call."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def to_mix(audios: Any, samples: int | None = None) -> np.ndarray:
    """The pipeline's (1, 2, samples) output as float32 (samples, 2), cut to `samples` when given."""
    mix = audios[0].detach().float().cpu().numpy().T
    return np.ascontiguousarray(mix[:samples] if samples else mix, dtype=np.float32)


def cover_source(path: Path, rate: int, samples: int) -> Any:
    """The covered audio's tensor: its first `samples` at the pipeline's rate, silence after a shorter one (the
    cover's length is its source's: the song's duration_s)."""
    audio = read_audio(path, rate)[0][:samples]
    return audio_tensor(np.pad(audio, ((0, samples - len(audio)), (0, 0))))


def text2music(pipe: Any, song: Any, params: AceStepParams, seed: int, codes: str | None = None) -> np.ndarray:
    """The song's mix at pipe.sample_rate, exactly song.duration_s long: text2music; with `cover_of` ACE-Step's
    cover task (the covered audio as its source, `cover_strength` its blend); with `codes`, the planner's 5 Hz
    audio codes ("<|audio_code_N|>..."), the DiT conditioned on them (the pipeline runs its cover task on them).
    The params never give both (AceStepParams refuses a planner beside cover_of)."""
    kwargs = call_kwargs(song, params, seed)
    samples = int(round(song.duration_s * pipe.sample_rate))
    if params.cover_of is not None:
        kwargs.update(task_type="cover", src_audio=cover_source(params.cover_of, pipe.sample_rate, samples),
                      audio_cover_strength=params.cover_strength)
    if codes:
        kwargs["audio_codes"] = codes
    ref = reference(params.reference_audio, pipe.sample_rate)
    with seeded(seed):
        audios = pipe(**kwargs, reference_audio=ref).audios
    return to_mix(audios, samples)
