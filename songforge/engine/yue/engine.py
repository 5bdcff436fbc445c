"""YuE's work over arrays: lyrics -> stage 1 -> stage 2 -> X-Codec decode -> Vocos 44.1 kHz.

Pure of files and orchestration: songforge.engine.yue.steps makes these the engine's three steps
(each cached on its own params slice), and the `songforge yue` commands call them on .npy codes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, ClassVar, NamedTuple, Sequence

import numpy as np
import torch

from ...device_memory import free_memory
from ..base import EngineParams, ModelNeed, Progress, Stems
from .params import DecodeParams, Stage1Params, Stage2Params, YuEParams
from .weights import default_device_dtype, folder_identity, load_model, model_folder, model_need, verified_folder

VERSION = "yue-v1"
OUTPUT_RATE = 44_100
CODEC_RATE = 16_000
_ALL_SEGMENTS = 10_000
# Where models live and how stage 2 is batched change no output: they stay out of identities and keys.
# (memory: int8 does change outputs; it reaches stage 1's key as Stage1Params.int8.)
PLACEMENT = {"memory", "stage1_batch_size", "stage2_batch_size"}
_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def model_identities(params: YuEParams) -> dict[str, str]:
    """folder_identity of each model a YuE take uses, by role (each folder is listed once per call)."""
    return {"stage1": folder_identity(params.stage1_model), "stage2": folder_identity(params.stage2_model),
            "codec": folder_identity(params.codec_model)}


def _device_dtype(dtype: str) -> tuple[torch.device, torch.dtype]:
    device, default = default_device_dtype(None)
    return device, _DTYPES.get(dtype, default)


_RESIDENT: dict[tuple[str, str], torch.nn.Module] = {}  # models kept loaded across steps and songs


def resolve_memory(params: YuEParams) -> YuEParams:
    """`memory: auto` made concrete: the fastest mode the GPU holds (memory.py); offload on the CPU."""
    if params.memory != "auto":
        return params
    from .memory import choose_mode, device_memory

    device = _device_dtype(params.dtype)[0]
    return params.model_copy(update={"memory": choose_mode(device_memory(device)) if device.type == "cuda"
                                     else "offload"})


def _model(name: str, dtype: str, keep: bool, int8: bool = False):
    """The LLM of a step: from _RESIDENT if kept there, else loaded from its folder (and kept if asked)."""
    key = (str(model_folder(name)), dtype, int8)
    if key in _RESIDENT:
        return _RESIDENT[key]
    device, torch_dtype = _device_dtype(dtype)
    model = load_model(verified_folder(name), device, torch_dtype, model_name=name)
    if int8:
        from .quantize import quantize_int8

        model = quantize_int8(model)
    if keep:
        _RESIDENT[key] = model
    return model


def release_models() -> None:
    """Drop every kept model and give its memory back."""
    _RESIDENT.clear()
    free_memory()


def part_of(progress: Progress | None, start: float, end: float) -> Callable[[float, str], None] | None:
    if progress is None:
        return None
    return lambda fraction, step: progress(start + (end - start) * fraction, step)


def reference_ids(p: Stage1Params) -> list[int] | None:
    """The ICL audio prompt as stage-1 ids, encoded with the codec (SPEC §4); None for CoT."""
    if p.prompt_audio is None and p.prompt_vocals is None:
        return None
    from ...audio.io import read_audio
    from .codec import encode, load_codec
    from .prompt import reference_dual, reference_single

    codec = load_codec(verified_folder(p.codec_model))

    def codes(path: Path) -> np.ndarray:
        audio, rate = read_audio(path)
        return encode(codec, audio.mean(axis=1), rate, n_codebooks=1)

    if p.prompt_audio is not None:
        return reference_single(codes(p.prompt_audio), p.prompt_start_s, p.prompt_end_s)
    return reference_dual(codes(p.prompt_vocals), codes(p.prompt_instrumental), p.prompt_start_s, p.prompt_end_s,
                          compat=p.compat)


class Take(NamedTuple):
    """One stage-1 take: a song's genre line and YuE-format lyrics, and the seed it is sampled with."""

    style: str
    lyrics: str
    seed: int


def stage1(genres: str, lyrics: str, p: Stage1Params, seed: int,
           progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Genre line + YuE-format lyrics -> (vocal, instrumental) codebook-0 codes, each (1, T)."""
    return stage1_takes([Take(genres, lyrics, seed)], p, progress)[0]


def stage1_takes(takes: Sequence[Take], p: Stage1Params, progress: Progress | None = None,
                 on_take: Callable[[int, tuple[np.ndarray, np.ndarray]], None] | None = None,
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Several takes (songs, or one song with several seeds) decoded as batches: each gets the codes `stage1`
    gives it alone, for less than the sum of their times (every step reads the weights once for the batch).

    A batch holds p.batch_size takes, or as many as the GPU's free memory holds caches for. on_take(i, codes)
    hears of take i as soon as its batch ends, so a failure in a later batch loses none of it.
    """
    from .prompt import MODEL_CONTEXT, build_plan
    from .stage1 import run_stage1_takes, stage1_codes
    from .tokenizer import MMTokenizer

    folder = model_folder(p.model)
    tokenizer = MMTokenizer(folder / "tokenizer.model")
    reference = reference_ids(p)
    plans = [build_plan(tokenizer, take.style, take.lyrics, p.run_n_segments or _ALL_SEGMENTS, p.compat, reference)
             for take in takes]
    model = _model(p.model, p.dtype, p.keep_loaded, p.int8)
    rows = _rows_free(model, MODEL_CONTEXT)  # two rows a take: both guidance branches
    per_batch = p.batch_size or max(1, min(len(takes), rows // 2 if rows else len(takes)))
    codes: list[tuple[np.ndarray, np.ndarray]] = []
    try:
        for start in range(0, len(takes), per_batch):
            end = min(start + per_batch, len(takes))
            done = run_stage1_takes(model, plans[start:end], [take.seed for take in takes[start:end]], p.knobs(),
                                    progress=part_of(progress, start / len(takes), end / len(takes)))
            for i, segments in enumerate(done, start=start):
                codes.append(stage1_codes(plans[i], segments))
                if on_take:
                    on_take(i, codes[i])
    finally:
        del model
        free_memory()
    return codes


def stage2(vocal: np.ndarray, instrumental: np.ndarray, p: Stage2Params,
           progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Codebook-0 codes (1, T) of each track -> all 8 codebooks (8, T) of each track, both tracks in one batch.

    compat: official returns what infer.py writes, codes its fix step left invalid included (with an
    InvalidCodesWarning naming the track and rows); `decode` refuses them.
    """
    from .stage2 import CHUNK_FRAMES, run_stage2_tracks, warn_unfixed
    from .tokens import STAGE2_CODEBOOKS

    model = _model(p.model, p.dtype, p.keep_loaded)
    try:
        rows = p.batch_size or _rows_free(model, (CHUNK_FRAMES + 4) * STAGE2_CODEBOOKS)  # None: every chunk at once
        vocal8, instrumental8 = run_stage2_tracks(model, [vocal, instrumental], rows, p.compat, progress=progress)
        warn_unfixed({"vocal": vocal8, "instrumental": instrumental8})
        return vocal8, instrumental8
    finally:
        del model
        free_memory()


def decode(vocal: np.ndarray, instrumental: np.ndarray, p: DecodeParams) -> Stems:
    """8-codebook codes of each track -> 44.1 kHz stems with the codec's low band fused in (SPEC §6).

    Official fuses once, on the mix; we fuse each stem, so the stems add up to a song and the mix
    stage can balance them. The official-style fused mix is kept as `Stems.mix`. Codes outside 0..1023
    (official stage 2 may leave them) raise before the codec is loaded.
    """
    from .codec import decode as codec_decode
    from .codec import embed, load_codec
    from .tokens import check_decodable
    from .upsampler import fuse_low_band, load_upsampler, upsample

    check_decodable({"vocal track": vocal, "instrumental track": instrumental})
    folder = verified_folder(p.codec_model)
    codec, upsamplers = load_codec(folder), load_upsampler(folder)
    low = {name: _saved(codec_decode(codec, codes), p.rescale) for name, codes in
           (("vocals", vocal), ("instrumental", instrumental))}
    with torch.inference_mode():
        high = {"vocals": upsample(upsamplers.vocal, embed(codec, vocal)),
                "instrumental": upsample(upsamplers.instrumental, embed(codec, instrumental))}
    fused = {name: fuse_low_band(low[name], CODEC_RATE, high[name], OUTPUT_RATE, p.low_band_hz) for name in low}
    mix = fuse_low_band(low["vocals"] + low["instrumental"], CODEC_RATE,
                        _saved(high["vocals"] + high["instrumental"], p.rescale), OUTPUT_RATE, p.low_band_hz)
    n = min(len(fused["vocals"]), len(fused["instrumental"]), len(mix))
    stereo = lambda x: np.repeat(np.asarray(x[:n], dtype=np.float32)[:, None], 2, axis=1)
    return Stems(stereo(fused["vocals"]), stereo(fused["instrumental"]), OUTPUT_RATE, mix=stereo(mix))


def _rows_free(model, positions: int) -> int | None:
    """Cache rows of `positions` slots that fit the GPU's free memory now (None on the CPU: no limit)."""
    device = model.output.weight.device
    if device.type != "cuda":
        return None
    from .memory import rows_that_fit

    free, _ = torch.cuda.mem_get_info(device)
    return rows_that_fit(model.args, positions, model.output.weight.dtype, free)


def _saved(audio: np.ndarray, rescale: bool) -> np.ndarray:
    """What official `save_audio` keeps: clamped to ±0.99, or scaled down to fit with --rescale."""
    peak = float(np.abs(audio).max(initial=0.0))
    if rescale:
        return audio * min(0.99 / peak, 1.0) if peak > 0 else audio
    return np.clip(audio, -0.99, 0.99)


def take_metadata(params: YuEParams, seed: int, models: dict[str, str] | None = None) -> dict:
    """JSON-able facts about a YuE take, for take.json."""
    return {"engine": "yue", "seed": seed, "compat": params.compat, "models": models or model_identities(params),
            "params": params.model_dump(mode="json", exclude=PLACEMENT)}
