"""Stage 2: codebook-0 codes -> codebooks 0..7 by teacher-forced greedy decoding with a KV cache (SPEC §5)."""

from __future__ import annotations

from collections import Counter
from typing import Callable, Literal

import numpy as np
import torch
from torch import Tensor

from ...errors import EngineError
from .model import Transformer
from .tokens import CODEBOOK_SIZE, FRAMES_PER_S, STAGE2_CODEBOOKS, XCODEC_OFFSET, codebook_range, stage2_prompt

Compat = Literal["fixed", "official"]
CHUNK_FRAMES = 6 * FRAMES_PER_S  # each 6-s chunk is an independent sequence
OFFICIAL_UPPER = 83738  # official blocks [53526, mmtokenizer.vocab_size): model rows 83738.. stay allowed


def plan_chunks(frames: int, batch_size: int = 4, compat: Compat = "fixed") -> list[list[tuple[int, int]]]:
    """Calls of stage 2 as lists of (start, end) frame spans, as `stage2_inference` schedules them.

    Full 300-frame chunks go `batch_size` per call; a shorter tail (< 6 s) goes alone. Official crashes on a
    track shorter than 300 frames (zero chunks, SPEC errata); fixed mode runs the tail alone.
    """
    full = frames // FRAMES_PER_S // 6 * 6 * FRAMES_PER_S
    if full == 0 and compat == "official":
        raise EngineError(f"a track of {frames} frames (< 6 s) has no full 6-s chunk: official stage 2 fails on it. "
                          "Fix: use compat='fixed' or generate a longer stage-1 output.")
    spans = [(start, start + CHUNK_FRAMES) for start in range(0, full, CHUNK_FRAMES)]
    calls = [spans[i: i + batch_size] for i in range(0, len(spans), batch_size)]
    return calls + ([[(full, frames)]] if full != frames else [])


def allowed_masks(vocab_size: int, compat: Compat, device: torch.device) -> Tensor:
    """(7, vocab) bool, row j-1 = ids allowed at the j-th generated position of a frame (codebook j).

    Official: any id of codebooks 1..7 at every position, plus the model's padding rows 83738..
    Fixed: only codebook j's own 1024 ids.
    """
    masks = torch.zeros(STAGE2_CODEBOOKS - 1, vocab_size, dtype=torch.bool, device=device)
    for j in range(1, STAGE2_CODEBOOKS):
        if compat == "official":
            masks[j - 1, codebook_range(1)[0]: codebook_range(STAGE2_CODEBOOKS - 1)[1]] = True
            masks[j - 1, OFFICIAL_UPPER:] = True
        else:
            masks[j - 1, slice(*codebook_range(j))] = True
    return masks


@torch.inference_mode()
def teacher_force(model: Transformer, cb0: np.ndarray, compat: Compat = "fixed") -> np.ndarray:
    """Codebook-0 codes (B, T), one chunk per row -> frame-major ids (B, 8T): [cb0 cb1 .. cb7] per frame.

    Per frame the known cb0 id is fed, then 7 greedy ids are drawn one by one; cb7 of frame f is fed with
    cb0 of frame f+1 in one 2-token step. Same tokens as the official per-frame `generate` re-prefill.
    """
    device = model.output.weight.device
    rows, frames = cb0.shape
    prompt = torch.tensor(np.stack([stage2_prompt(row) for row in cb0]), device=device)
    known = prompt[:, 2:-1]  # cb0 ids (B, T)
    model.setup_caches(max_batch=rows, max_seq_len=prompt.shape[1] + STAGE2_CODEBOOKS * frames)
    masks = allowed_masks(model.args.vocab_size, compat, device)
    model(prompt, torch.arange(prompt.shape[1], device=device).expand(rows, -1), last_only=True)
    out = torch.empty(rows, frames, STAGE2_CODEBOOKS, dtype=torch.long, device=device)
    out[:, :, 0] = known
    feed, pos = known[:, :1], prompt.shape[1]
    for f in range(frames):
        for j in range(1, STAGE2_CODEBOOKS):
            positions = torch.arange(pos, pos + feed.shape[1], device=device).expand(rows, -1)
            logits = model(feed, positions)[:, -1].float()
            out[:, f, j] = logits.masked_fill(~masks[j - 1], -float("inf")).argmax(dim=-1)
            pos += feed.shape[1]
            feed = out[:, f, j: j + 1]
        feed = torch.cat([feed, known[:, f + 1: f + 2]], dim=1)
    return out.reshape(rows, -1).cpu().numpy()


def ids_to_codes(ids: np.ndarray, compat: Compat = "fixed") -> np.ndarray:
    """Frame-major ids (8T,) -> codes (8, T) int64, as `ids2npy` then the "fix invalid codes" pass.

    Official: ids outside 45334..57621 crash (its assert); a code outside 0..1023 is replaced by the most
    frequent value of its row (first seen wins ties), which may itself be invalid: then we raise.
    Fixed mode never produces invalid codes; any found raises.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1, STAGE2_CODEBOOKS).T
    if ids.min() < XCODEC_OFFSET or ids.max() >= XCODEC_OFFSET + 12 * CODEBOOK_SIZE:
        raise EngineError(f"stage 2 produced id {ids.max()} outside the X-Codec range: the official pipeline "
                          "stops here too. Fix: use compat='fixed'.")
    codes = ids - (XCODEC_OFFSET + CODEBOOK_SIZE * np.arange(STAGE2_CODEBOOKS))[:, None]
    codes = np.where(codes < 0, codes + 2**32, codes)  # official subtracts in uint32
    invalid = codes >= CODEBOOK_SIZE
    if invalid.any() and compat == "official":
        modes = np.array([Counter(row.tolist()).most_common(1)[0][0] for row in codes])
        codes = np.where(invalid, modes[:, None], codes)
    if (codes >= CODEBOOK_SIZE).any():
        raise EngineError("stage 2 left codes outside 0..1023 (its rows' most frequent value is invalid too). "
                          "Fix: use compat='fixed'.")
    return codes


def run_stage2(model: Transformer, codes: np.ndarray, batch_size: int = 4, compat: Compat = "fixed",
               progress: Callable[[float, str], None] | None = None) -> np.ndarray:
    """One track's codebook-0 codes (1, T) -> codes (8, T) (the official stage2/*.npy content)."""
    frames = codes.shape[-1]
    pieces = []
    calls = plan_chunks(frames, batch_size, compat)
    for n, spans in enumerate(calls):
        if progress:
            progress(n / len(calls), f"stage 2: chunk group {n + 1} of {len(calls)}")
        cb0 = np.stack([codes[0, start:end] for start, end in spans])
        pieces.append(teacher_force(model, cb0, compat).reshape(-1))
    return ids_to_codes(np.concatenate(pieces), compat)
