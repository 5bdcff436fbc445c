"""MusicGen's take of any length: transformers' generate in windows of codes, then one EnCodec decode.

A song no longer than a window is one `generate` call, exactly as transformers' documentation calls it (a test
holds the two equal). A longer song continues: each next window is prompted with the codes of the last
`overlap_s` seconds made (MusicGen's audio prompt, as codes: nothing is decoded and re-encoded between windows)
and adds `window_s - overlap_s` seconds; a Melody model gets, for each window, the chroma of the melody over
the window's span. The codes of all windows are decoded at the end, in chunks, and cut to the exact length.

transformers' generate returns only decoded audio; its codes are read with a stopping criterion that records the
token ids after each step and stops nothing (a public argument of generate), then de-delayed as generate does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from .weights import Loaded

Progress = Callable[[float, str], None]
DECODE_CHUNK_S = 30.0  # frames decoded at once: a 10-minute song's whole decode would hold GBs of activations
DECODE_CONTEXT_S = 1.0  # frames decoded on each side of a chunk and dropped (the codec's receptive field)


@dataclass(frozen=True)
class Sampling:
    guidance_scale: float
    temperature: float
    top_k: int

    def kwargs(self) -> dict[str, Any]:
        """generate's arguments: sampling always (MusicGen's greedy decoding loops), top_k 0 = no top-k filter."""
        return {"do_sample": True, "guidance_scale": self.guidance_scale, "temperature": self.temperature,
                "top_k": self.top_k or None}


class _Recorder(StoppingCriteria):
    """Keeps the token ids generate has after each step; never stops generation."""

    ids: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        self.ids = input_ids
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def windows(total_frames: int, window_frames: int, overlap_frames: int) -> list[tuple[int, int]]:
    """(prompt frames, new frames) of each window: the first has no prompt; the new frames sum to total_frames."""
    made, spans = min(total_frames, window_frames), [(0, min(total_frames, window_frames))]
    while made < total_frames:
        new = min(window_frames - overlap_frames, total_frames - made)
        spans.append((overlap_frames, new))
        made += new
    return spans


def inputs(loaded: Loaded, prompt: str, melody: np.ndarray | None, device: torch.device) -> dict[str, torch.Tensor]:
    """The processor's tensors for one window: the text, and for a Melody model the melody's chroma (mono float32
    at the feature extractor's rate; None: text only)."""
    kwargs: dict[str, Any] = {"text": [prompt], "padding": True, "return_tensors": "pt"}
    if melody is not None:
        kwargs |= {"audio": melody, "sampling_rate": loaded.processor.feature_extractor.sampling_rate}
    return {name: value.to(device) for name, value in loaded.processor(**kwargs).items()}


def generate_codes(loaded: Loaded, window: dict[str, torch.Tensor], prompt_codes: torch.Tensor | None,
                   new_frames: int, sampling: Sampling) -> torch.Tensor:
    """(codebooks, prompt + new_frames) codes: one generate call continuing prompt_codes (codebooks, frames)."""
    model, recorder = loaded.model, _Recorder()
    codebooks = model.decoder.num_codebooks
    extra = {} if prompt_codes is None else {"decoder_input_ids": prompt_codes}
    # the delay pattern spends codebooks - 1 steps before the last codebook's first code and after the first's last
    model.generate(**window, **extra, **sampling.kwargs(), max_new_tokens=new_frames + codebooks - 1,
                   stopping_criteria=StoppingCriteriaList([recorder]))
    return _undelayed(model, recorder.ids, prompt_codes)


def _undelayed(model: Any, ids: torch.Tensor, prompt_codes: torch.Tensor | None) -> torch.Tensor:
    """generate's own steps from its ids to codes: the delay pattern mask applied, then its pad tokens dropped."""
    config = model.generation_config
    start = config.decoder_start_token_id if config.decoder_start_token_id is not None else config.bos_token_id
    first = torch.full((ids.shape[0], 1), start, dtype=torch.long, device=ids.device)
    begun = first if prompt_codes is None else torch.cat([first, prompt_codes], dim=-1)
    _, mask = model.decoder.build_delay_pattern_mask(begun, pad_token_id=start, max_length=ids.shape[-1])
    ids = model.decoder.apply_delay_pattern_mask(ids, mask)
    return ids[ids != config.pad_token_id].reshape(model.decoder.num_codebooks, -1)


def decode(loaded: Loaded, codes: torch.Tensor) -> np.ndarray:
    """(codebooks, frames) -> float32 (frames * hop, channels): EnCodec in chunks with context, stereo models'
    interleaved codebooks (left, right, left, ...) decoded per channel, as generate decodes them."""
    frame_rate, hop = loaded.frame_rate, loaded.sample_rate // loaded.frame_rate
    chunk, context = int(DECODE_CHUNK_S * frame_rate), int(DECODE_CONTEXT_S * frame_rate)
    streams = [codes] if loaded.model.decoder.config.audio_channels == 1 else [codes[::2], codes[1::2]]
    parts = []
    for start in range(0, codes.shape[-1], chunk):
        lo, hi = max(0, start - context), min(codes.shape[-1], start + chunk + context)
        channels = [loaded.model.audio_encoder.decode(stream[None, None, :, lo:hi], audio_scales=[None]).audio_values
                    for stream in streams]
        audio = torch.cat(channels, dim=1)[0]  # (channels, samples)
        keep = min(chunk, codes.shape[-1] - start)
        parts.append(audio[:, (start - lo) * hop:(start - lo + keep) * hop])
    return torch.cat(parts, dim=-1).T.float().cpu().numpy().astype(np.float32)


def render(loaded: Loaded, prompt: str, duration_s: float, sampling: Sampling, seed: int, window_s: float,
           overlap_s: float, melody: np.ndarray | None = None, progress: Progress | None = None) -> np.ndarray:
    """float32 (round(duration_s * rate), channels) at loaded.sample_rate: the text (and melody: mono float32 at the
    feature extractor's rate, at least duration_s long) rendered in windows, seeded once for the whole take."""
    report = progress or (lambda fraction, what: None)
    frame_rate = loaded.frame_rate
    total = math.ceil(duration_s * frame_rate)
    spans = windows(total, int(window_s * frame_rate), int(overlap_s * frame_rate))
    device = loaded.model.device
    melody_rate = loaded.processor.feature_extractor.sampling_rate if loaded.melody else 0
    codes: torch.Tensor | None = None
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.inference_mode():
        torch.manual_seed(seed)
        for n, (prompt_frames, new) in enumerate(spans):
            report(n / len(spans), f"window {n + 1} of {len(spans)}")
            made = 0 if codes is None else codes.shape[-1]
            first = made - prompt_frames  # the window's first frame (its prompt's)
            part = None
            if melody is not None and loaded.melody:
                part = melody[first * melody_rate // frame_rate:(made + new) * melody_rate // frame_rate]
            prompt_codes = None if codes is None else codes[:, first:]
            window = inputs(loaded, prompt, part, device)
            out = generate_codes(loaded, window, prompt_codes, new, sampling)
            codes = out if codes is None else torch.cat([codes, out[:, prompt_frames:]], dim=-1)
        report(0.95, "decoding")
        audio = decode(loaded, codes)
    return audio[:round(duration_s * loaded.sample_rate)]
