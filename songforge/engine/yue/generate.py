"""Stage-1 sampling over tensors (prefill, decode_one_token, decode_n_tokens); knows nothing of text or segments."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import EngineError
from ..sampling import compiled, sample, top_k_filter, top_p_filter
from .model import Transformer
from .params import Compat, SamplingKnobs
from .tokenizer import EOA, XCODEC
from .tokens import codebook_range

Range = tuple[int, int | None]  # [start, end) of blocked ids; end None = to the end of the vocabulary


@dataclass(frozen=True)
class Sampling:
    """What one `generate` call samples with: the knob values of one segment, and the loop's own settings.

    The knob values come from params.SamplingKnobs (`from_knobs`), which owns their ranges and defaults and
    checks them where params load; the loop's settings (which ids may be drawn, the stop id, dtype quirks,
    greedy decoding for tests) are this file's, defaults the official infer.py ones (infer.py#L157-217).
    """

    max_new_tokens: int
    min_new_tokens: int
    guidance_scale: float  # this segment's CFG scale; 1 disables the unconditional branch
    repetition_penalty: float
    temperature: float
    top_k: int  # 0: off (YuE's generation_config.json leaves transformers' 50 active)
    top_p: float
    do_sample: bool = True
    eos_id: int = EOA
    # Official blocks ids 0..32001 and the *empty* range (32016, 32016): <xcodec> stays sampleable.
    blocked: tuple[Range, ...] = ((0, EOA), (XCODEC, XCODEC))
    # Official takes the unconditional log-softmax in the model dtype (bf16 on GPU), the conditional in fp32.
    uncond_in_model_dtype: bool = True

    @classmethod
    def from_knobs(cls, knobs: SamplingKnobs, guidance_scale: float | None = None, **loop: Any) -> Sampling:
        """The knobs' values, with `guidance_scale` (this segment's; default the first segment's) and the loop's
        own settings (`loop`: do_sample, eos_id, blocked, uncond_in_model_dtype; a knob there is a TypeError)."""
        return cls(max_new_tokens=knobs.max_new_tokens, min_new_tokens=knobs.min_new_tokens,
                   guidance_scale=knobs.guidance_scale_first if guidance_scale is None else guidance_scale,
                   repetition_penalty=knobs.repetition_penalty, temperature=knobs.temperature, top_k=knobs.top_k,
                   top_p=knobs.top_p, **loop)


def stage1_sampling(compat: Compat = "fixed", knobs: SamplingKnobs = SamplingKnobs(),
                    guidance_scale: float | None = None, **loop: Any) -> Sampling:
    """Official: exactly infer.py. Fixed: only <EOA> and codebook-0 ids can be drawn (anything else breaks the
    track split), and both CFG branches are normalised in float32. `loop` overrides the loop's own settings."""
    if compat == "official":
        return Sampling.from_knobs(knobs, guidance_scale, **loop)
    lo, hi = codebook_range(0)
    fixed = {"blocked": ((0, EOA), (EOA + 1, lo), (hi, None)), "uncond_in_model_dtype": False}
    return Sampling.from_knobs(knobs, guidance_scale, **{**fixed, **loop})


def allowed_mask(sampling: Sampling, vocab_size: int, device: torch.device) -> Tensor:
    """(1, vocab) bool: True where an id may be drawn."""
    allowed = torch.ones(1, vocab_size, dtype=torch.bool, device=device)
    for start, end in sampling.blocked:
        allowed[:, start:end] = False
    return allowed


def warp(scores: Tensor, s: Sampling) -> Tensor:
    """Temperature, top-k (ties at the k-th score kept), top-p (smallest set above p, at least one id): (1, V)."""
    if s.temperature != 1.0:
        scores = scores / s.temperature
    return top_p_filter(top_k_filter(scores, s.top_k), s.top_p)


def logits_to_scores(logits: Tensor, seen: Tensor, ban_eos: bool, s: Sampling, allowed: Tensor) -> Tensor:
    """Model logits (rows, V) -> scores (n, V) fp32 for n = len(seen) takes.

    Rows [0, n) are the takes' conditional branches, rows [n, 2n) their unconditional ones when CFG is on.
    The order of transformers' `generate` for infer.py (SPEC §3.5): CFG on log-softmaxed scores ->
    repetition penalty over `seen` (n, V) (every input id and every id generated so far) -> <EOA> banned
    before min_new_tokens -> blocked ranges -> temperature -> top-k -> top-p.
    """
    n = seen.shape[0]
    scores = logits[:n].float()
    if s.guidance_scale != 1.0:
        uncond = logits[n: 2 * n] if s.uncond_in_model_dtype else logits[n: 2 * n].float()
        cond, uncond = F.log_softmax(scores, dim=-1), F.log_softmax(uncond, dim=-1)
        scores = s.guidance_scale * (cond - uncond) + uncond
    if s.repetition_penalty != 1.0:
        penalised = torch.where(scores < 0, scores * s.repetition_penalty, scores / s.repetition_penalty)
        scores = torch.where(seen, penalised, scores)
    if ban_eos:
        scores = scores.index_fill(1, torch.tensor([s.eos_id], device=scores.device), -float("inf"))
    scores = scores.masked_fill(~allowed, -float("inf"))
    return warp(scores, s) if s.do_sample else scores


def prefill(model: Transformer, pieces: Sequence[Tensor], starts: Sequence[int], chunk: int = 2048) -> None:
    """Write pieces[r] (T_r,) into cache row r at positions starts[r].., `chunk` tokens at a time (bounds memory).

    Shorter rows are padded at the end; padding is written to slot starts[r] + T_r, the first slot the next
    decode step of that row overwrites, so it is never attended to.
    """
    longest, device = max(len(p) for p in pieces), pieces[0].device
    for offset in range(0, longest, chunk):
        width = min(chunk, longest - offset)
        ids = torch.zeros(len(pieces), width, dtype=torch.long, device=device)
        positions = torch.empty_like(ids)
        for row, (piece, start) in enumerate(zip(pieces, starts, strict=True)):
            part = piece[offset: offset + width]
            ids[row, : len(part)] = part
            positions[row] = start + min(offset, len(piece)) + torch.arange(width, device=device).clamp(max=len(part))
        last = [start + len(p) if len(p) < offset + width else start + offset + width - 1 for p, start in
                zip(pieces, starts)]  # each row's highest position in this chunk, known without a sync
        model.hidden(ids, positions, attend=max(last) + 1)


def next_scores(model: Transformer, tokens: Tensor, input_pos: Tensor, seen: Tensor, ban_eos: bool, s: Sampling,
                allowed: Tensor, attend: int | None = None) -> Tensor:
    """Feed tokens (rows, 1) at input_pos (rows, 1) -> scores (n, V) of the next id of each take. No host sync."""
    return logits_to_scores(model(tokens, input_pos, attend=attend)[:, -1], seen, ban_eos, s, allowed)


def uses_graphs(device: torch.device) -> bool:
    """Decode steps run compiled into CUDA graphs on a GPU, unless SONGFORGE_YUE_COMPILE=0 (eager, for debugging).

    A graph has one shape, so compiled steps attend to the whole cache; eager steps attend to the live part.
    """
    return device.type == "cuda" and os.environ.get("SONGFORGE_YUE_COMPILE", "1") != "0"


def decode_one_token(model: Transformer, token: Tensor, input_pos: Tensor, seen: Tensor, ban_eos: bool,
                     s: Sampling, allowed: Tensor, generators: Sequence[torch.Generator | None],
                     attend: int | None = None) -> Tensor:
    """Feed token (n,) of each take to its rows at input_pos (rows, 1); return the next ids (n,). No host sync.

    Sampling stays outside the compiled graph: it draws from per-take generators, which a graph cannot hold.
    """
    tokens = token.repeat(input_pos.shape[0] // token.shape[0])[:, None]
    if uses_graphs(token.device):
        scores = compiled(next_scores)(model, tokens, input_pos, seen, ban_eos, s, allowed)
    else:
        scores = next_scores(model, tokens, input_pos, seen, ban_eos, s, allowed, attend)
    return sample(scores, s.do_sample, generators)


def default_generator(device: torch.device) -> torch.Generator:
    """The global generator that `exponential_(generator=None)` would use on device."""
    if device.type == "cuda":
        return torch.cuda.default_generators[device.index if device.index is not None else torch.cuda.current_device()]
    return torch.default_generator


def decode_n_tokens(model: Transformer, token: Tensor, input_pos: Tensor, seen: Tensor, s: Sampling,
                    allowed: Tensor, generators: Sequence[torch.Generator | None], sync_every: int = 16,
                    first_pos: int | None = None) -> list[Tensor]:
    """Up to s.max_new_tokens ids for each of the n takes, each list item ending at its take's first eos.

    The host looks for eos once every `sync_every` tokens, not once per token. A take whose eos came early
    keeps decoding (its extra ids are dropped) until every take has one; its generator is then rewound to
    just after the eos draw, so the next call draws as if this one had stopped there. `seen` is updated.
    first_pos: the largest of input_pos, if the host knows it (eager steps then attend to the live slots only).
    """
    n, device = token.shape[0], token.device
    out = torch.empty(n, s.max_new_tokens, dtype=torch.long, device=device)
    ends: list[int | None] = [None] * n
    live = [g if g is not None else default_generator(device) for g in generators]
    rows = torch.arange(n, device=device)
    for block in range(0, s.max_new_tokens, sync_every):
        steps = range(block, min(block + sync_every, s.max_new_tokens))
        states: list[list[Tensor]] = []  # states[i][take]: the take's generator before step steps[i]
        for step in steps:
            if s.do_sample:
                states.append([g.get_state() for g in live])
            attend = None if first_pos is None else first_pos + step + 1
            token = decode_one_token(model, token, input_pos, seen, step < s.min_new_tokens, s, allowed, live,
                                     attend)
            out[:, step] = token
            seen[rows, token] = True
            input_pos = input_pos + 1
        hits = (out[:, steps.start: steps.stop] == s.eos_id).cpu()  # the one host sync of the block
        _close_finished(hits, steps.start, states, ends, live)
        if all(end is not None for end in ends):
            break
    return [out[take, : ends[take] or s.max_new_tokens] for take in range(n)]


def _close_finished(hits: Tensor, first_step: int, states: list[list[Tensor]], ends: list[int | None],
                    live: list[torch.Generator]) -> None:
    """For each take whose first eos is in this block (hits (n, steps) bool): record its length, rewind its
    generator to just after the eos draw, and let it draw from a scratch generator for the rest of the batch."""
    for take, row in enumerate(hits):
        found = row.nonzero()
        if ends[take] is not None or not len(found):
            continue
        at = int(found[0])
        ends[take] = first_step + at + 1
        if at + 1 < len(states):  # states is empty when greedy: nothing was drawn
            live[take].set_state(states[at + 1][take])
        live[take] = torch.Generator(device=live[take].device)


@torch.inference_mode()
def generate(model: Transformer, prompt: Tensor, s: Sampling, generator: torch.Generator | None = None,
             cached: int = 0) -> Tensor:
    """Continue prompt (T,) -> new ids (n,), n <= s.max_new_tokens, ending at the first eos if any.

    Cache row 0 must already hold prompt[:cached]; on return it holds prompt + new[:-1]. With CFG, row 1
    restarts at position 0 from the last prompt token alone, as transformers' unbatched CFG does.
    """
    return generate_takes(model, [prompt], s, [generator], [cached])[0]


@torch.inference_mode()
def generate_takes(model: Transformer, prompts: Sequence[Tensor], s: Sampling,
                   generators: Sequence[torch.Generator | None], cached: Sequence[int],
                   sync_every: int = 16) -> list[Tensor]:
    """Continue n prompts (T_r,) in one batch -> n new-id tensors, each as `generate` would return it alone.

    Take r owns cache row r (conditional) and row n + r (unconditional, with CFG); row r must already hold
    prompts[r][:cached[r]]. Each take draws only from generators[r].
    """
    n = len(prompts)
    rows, lengths = (2 * n if s.guidance_scale != 1.0 else n), [len(p) for p in prompts]
    if rows > model.max_batch or max(lengths) + s.max_new_tokens > model.max_seq_len:
        raise EngineError(f"{max(lengths)} prompt + {s.max_new_tokens} new tokens in {rows} rows do not fit the "
                          f"cache ({model.max_batch} x {model.max_seq_len}). "
                          "Fix: call setup_caches with a larger size.")
    assert all(0 <= c < length for c, length in zip(cached, lengths)), (cached, lengths)
    device = model.output.weight.device
    prompts = [p.to(device) for p in prompts]
    seen = torch.zeros(n, model.args.vocab_size, dtype=torch.bool, device=device)
    for take, prompt in enumerate(prompts):
        seen[take, prompt] = True
    if any(length - 1 > c for c, length in zip(cached, lengths)):
        prefill(model, [p[c:-1] for p, c in zip(prompts, cached)], cached)
    input_pos = torch.tensor([length - 1 for length in lengths] + [0] * (rows - n), device=device)[:, None]
    last = torch.stack([p[-1] for p in prompts])
    allowed = allowed_mask(s, model.args.vocab_size, device)
    return decode_n_tokens(model, last, input_pos, seen, s, allowed, generators, sync_every, max(lengths) - 1)
