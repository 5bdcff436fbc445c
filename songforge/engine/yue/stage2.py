"""Stage 2: codebook-0 codes -> codebooks 0..7 by teacher-forced greedy decoding with a KV cache (SPEC §5)."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Callable, Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from ...errors import EngineError
from ..sampling import compiled, project
from .generate import uses_graphs
from .model import Transformer
from .tokens import (CODEBOOK_SIZE, FRAMES_PER_S, STAGE2_CODEBOOKS, XCODEC_OFFSET, codebook_range, describe_invalid,
                     offset_codes, stage2_prompt)

Compat = Literal["fixed", "official"]
CHUNK_FRAMES = 6 * FRAMES_PER_S  # each 6-s chunk is an independent sequence
OFFICIAL_UPPER = 83738  # official blocks [53526, mmtokenizer.vocab_size): model rows 83738.. stay allowed


def plan_chunks(frames: int, batch_size: int = 4, compat: Compat = "fixed") -> list[list[tuple[int, int]]]:
    """Calls of stage 2 as lists of (start, end) frame spans, as `stage2_inference` schedules them.

    Full 300-frame chunks go `batch_size` per call; a shorter tail (< 6 s) goes alone. Official crashes on a
    track shorter than 300 frames (zero chunks, SPEC errata); fixed mode runs the tail alone.
    """
    full = frames // CHUNK_FRAMES * CHUNK_FRAMES  # = T // 50 // 6 * 6 * 50 of stage2_inference
    if full == 0 and compat == "official":
        raise EngineError(f"a track of {frames} frames (< 6 s) has no full 6-s chunk: official stage 2 fails on it. "
                          "Fix: use compat='fixed' or generate a longer stage-1 output.")
    spans = [(start, start + CHUNK_FRAMES) for start in range(0, full, CHUNK_FRAMES)]
    calls = [spans[i: i + batch_size] for i in range(0, len(spans), batch_size)]
    return calls + ([[(full, frames)]] if full != frames else [])


def allowed_ranges(vocab_size: int, compat: Compat, codebook: int) -> tuple[tuple[int, int], ...]:
    """[start, end) id ranges that may be drawn for codebook 1..7 at its position of a frame, ascending.

    Official: any id of codebooks 1..7 at every position, plus the model's padding rows 83738..
    Fixed: only the codebook's own 1024 ids.
    """
    if compat == "official":
        return (codebook_range(1)[0], codebook_range(STAGE2_CODEBOOKS - 1)[1]), (OFFICIAL_UPPER, vocab_size)
    return (codebook_range(codebook),)


def codebook_heads(model: Transformer, compat: Compat) -> list[tuple[Tensor, Tensor]]:
    """(head rows (R, dim), their ids (R,)) for codebooks 1..7: the output head cut to the drawable ids.

    Greedy stage 2 only ever picks among these ids, so projecting onto them alone gives the same argmax
    while reading 1/11 (official) or 1/82 (fixed) of the 84k-row head per step.
    """
    weight = model.output.weight
    if weight.dtype == torch.int8:  # a quantised head (quantize.py): widen the rows we keep
        weight = weight.to(model.tok_embeddings.weight.dtype) * model.output.scales[:, None]
    heads: dict[tuple, tuple[Tensor, Tensor]] = {}
    for codebook in range(1, STAGE2_CODEBOOKS):
        ranges = allowed_ranges(model.args.vocab_size, compat, codebook)
        if ranges not in heads:  # official: one head shared by the 7 positions
            rows = [weight[start:end] for start, end in ranges]
            ids = torch.cat([torch.arange(start, end, device=weight.device) for start, end in ranges])
            heads[ranges] = (rows[0] if len(rows) == 1 else torch.cat(rows), ids)
    return [heads[allowed_ranges(model.args.vocab_size, compat, codebook)] for codebook in range(1, STAGE2_CODEBOOKS)]


def next_code(model: Transformer, feed: Tensor, positions: Tensor, head: Tensor, ids: Tensor,
              attend: int | None = None) -> Tensor:
    """Feed ids (B, w) at positions (B, w) -> the greedy next id (B,) among ids (R,), head (R, dim). No sync."""
    logits = project(model.hidden(feed, positions, attend)[:, -1], head).float()
    return ids[logits.argmax(dim=-1)]


@torch.inference_mode()
def teacher_force_rows(model: Transformer, chunks: Sequence[np.ndarray], compat: Compat = "fixed",
                       progress: Callable[[float, str], None] | None = None) -> list[np.ndarray]:
    """Codebook-0 chunks (T_r,), one batch row each -> frame-major ids (8 T_r,): [cb0 cb1 .. cb7] per frame.

    Per frame the known cb0 id is fed, then 7 greedy ids are drawn one by one; cb7 of frame f is fed with
    cb0 of frame f+1 in one 2-token step. Same tokens as the official per-frame `generate` re-prefill.
    Rows of different lengths share the batch: each keeps its own positions; a shorter row is padded at the
    end (its padding only fills cache slots the row overwrites before it reads them) and its extra frames
    are dropped, so every row gets the tokens it would get alone.
    """
    device, rows = model.output.weight.device, len(chunks)
    lengths = [len(chunk) for chunk in chunks]
    frames, width = max(lengths), max(lengths) + 3
    pad = lambda ids, size: np.pad(ids, (0, size - len(ids)), constant_values=XCODEC_OFFSET)
    prompt = torch.tensor(np.stack([pad(stage2_prompt(chunk), width) for chunk in chunks]), device=device)
    known = torch.tensor(np.stack([pad(offset_codes(np.asarray(c)[None])[0], frames) for c in chunks]), device=device)
    model.setup_caches(max_batch=rows, max_seq_len=width + STAGE2_CODEBOOKS * frames)
    heads = codebook_heads(model, compat)
    model.hidden(prompt, torch.arange(width, device=device).expand(rows, -1), attend=width)
    out = torch.empty(rows, frames, STAGE2_CODEBOOKS, dtype=torch.long, device=device)
    out[:, :, 0] = known
    graphs = uses_graphs(device)
    step = compiled(next_code) if graphs else next_code
    feed, pos, fed = known[:, :1], torch.tensor(lengths, device=device)[:, None] + 3, 0
    for f in range(frames):
        if progress and f % 50 == 0:
            progress(f / frames, f"stage 2: frame {f} of {frames} in {rows} chunks")
        for j in range(1, STAGE2_CODEBOOKS):
            fed += feed.shape[1]  # the longest row's last position is width - 1 + fed
            positions = pos + torch.arange(feed.shape[1], device=device)
            out[:, f, j] = step(model, feed, positions, *heads[j - 1], None if graphs else width + fed)
            pos = pos + feed.shape[1]
            feed = out[:, f, j: j + 1]
        feed = torch.cat([feed, known[:, f + 1: f + 2]], dim=1)
    ids = out.reshape(rows, -1).cpu().numpy()
    return [ids[row, : STAGE2_CODEBOOKS * length] for row, length in enumerate(lengths)]


def teacher_force(model: Transformer, cb0: np.ndarray, compat: Compat = "fixed") -> np.ndarray:
    """Codebook-0 codes (B, T), one chunk per row -> frame-major ids (B, 8T) (see `teacher_force_rows`)."""
    return np.stack(teacher_force_rows(model, list(cb0), compat))


def ids_to_codes(ids: np.ndarray, compat: Compat = "fixed") -> np.ndarray:
    """Frame-major ids (8T,) -> codes (8, T) int64, as `ids2npy` then the "fix invalid codes" pass.

    Official: ids outside 45334..57621 crash (its assert); a code outside 0..1023 (uint32 arithmetic: a lower
    codebook's id wraps to ~2**32) is replaced by the most frequent value of its row (first seen wins ties),
    which may itself be invalid: such codes are kept, as official writes them (`warn_unfixed` names them).
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
        return np.where(invalid, modes[:, None], codes)
    if invalid.any():
        raise EngineError(f"stage 2 (compat: fixed) produced codes outside 0..1023 ({describe_invalid(codes)}); "
                          "it never should. Fix: report this with the stage-1 .npy files.")
    return codes


class InvalidCodesWarning(UserWarning):
    """Official stage 2 wrote codes outside 0..1023 that its "fix invalid codes" step could not fix."""


def warn_unfixed(tracks: dict[str, np.ndarray]) -> None:
    """Warn, naming the track and its rows, for each track (name -> codes (8, T)) holding invalid codes."""
    for name, codes in tracks.items():
        if where := describe_invalid(codes):
            warnings.warn(InvalidCodesWarning(
                f"stage 2 (compat: official) left invalid codes in the {name} track, as the official procedure "
                f"does: {where}. Its fix step replaces an invalid code by its row's most frequent value, which "
                "is invalid too in these rows. Decoding this track will fail. "
                "Fix: re-run stage 2 with the default compat: fixed."), stacklevel=2)


def run_stage2(model: Transformer, codes: np.ndarray, batch_size: int = 4, compat: Compat = "fixed",
               progress: Callable[[float, str], None] | None = None) -> np.ndarray:
    """One track's codebook-0 codes (1, T) -> codes (8, T) (the official stage2/*.npy content)."""
    return run_stage2_tracks(model, [codes], batch_size, compat, progress)[0]


def run_stage2_tracks(model: Transformer, tracks: Sequence[np.ndarray], batch_size: int | None = None,
                      compat: Compat = "fixed", progress: Callable[[float, str], None] | None = None
                      ) -> list[np.ndarray]:
    """Codebook-0 codes (1, T_k) of each track -> codes (8, T_k) of each track.

    The 6-s chunks of all tracks (tail chunks included) run as one batch of at most `batch_size` rows
    (None: all of them), so every decode step reads the weights once for the whole song. The tokens are
    those of the official schedule (`plan_chunks`): each chunk is an independent sequence either way.
    """
    chunks = [(k, start, end) for k, codes in enumerate(tracks)
              for call in plan_chunks(codes.shape[-1], 1, compat) for start, end in call]
    size = batch_size or len(chunks)
    groups = [chunks[i: i + size] for i in range(0, len(chunks), size)]
    pieces: list[list[np.ndarray]] = [[] for _ in tracks]
    for n, group in enumerate(groups):
        sub = (lambda f, step, n=n: progress((n + f) / len(groups), step)) if progress else None
        outs = teacher_force_rows(model, [tracks[k][0, start:end] for k, start, end in group], compat, sub)
        for (k, _, _), ids in zip(group, outs):
            pieces[k].append(ids)
    return [ids_to_codes(np.concatenate(track_ids), compat) for track_ids in pieces]
