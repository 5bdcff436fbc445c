"""Stage-1 sampling over tensors (prefill, decode_one_token, decode_n_tokens); knows nothing of text or segments."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import EngineError, ParamsError
from .model import Transformer
from .tokenizer import EOA, XCODEC
from .tokens import codebook_range

Range = tuple[int, int | None]  # [start, end) of blocked ids; end None = to the end of the vocabulary


@dataclass(frozen=True)
class Sampling:
    """Every knob of one `generate` call. Defaults are the official stage-1 values (infer.py#L157-217)."""

    max_new_tokens: int = 3000
    min_new_tokens: int = 100
    guidance_scale: float = 1.5  # 1.5 for the first segment, 1.2 after; 1 disables the unconditional branch
    repetition_penalty: float = 1.1
    temperature: float = 1.0
    top_k: int = 50  # transformers' default, left active by YuE's generation_config.json
    top_p: float = 0.93
    do_sample: bool = True
    eos_id: int = EOA
    # Official blocks ids 0..32001 and the *empty* range (32016, 32016): <xcodec> stays sampleable.
    blocked: tuple[Range, ...] = ((0, EOA), (XCODEC, XCODEC))
    # Official takes the unconditional log-softmax in the model dtype (bf16 on GPU), the conditional in fp32.
    uncond_in_model_dtype: bool = True

    def __post_init__(self) -> None:
        checks = [("max_new_tokens", self.max_new_tokens >= 1, "at least 1"),
                  ("min_new_tokens", 0 <= self.min_new_tokens, "0 or more"),
                  ("guidance_scale", self.guidance_scale >= 1.0, "1.0 (off) or more"),
                  ("repetition_penalty", self.repetition_penalty > 0, "above 0 (1.0 = off)"),
                  ("temperature", self.temperature > 0, "above 0"), ("top_k", self.top_k >= 0, "0 (off) or more"),
                  ("top_p", 0 < self.top_p <= 1, "in (0, 1], 1.0 = off")]
        for name, ok, wanted in checks:
            if not ok:
                raise ParamsError(name, f"{getattr(self, name)} is out of range", f"use a value {wanted}")


def stage1_sampling(compat: Literal["fixed", "official"] = "fixed", **overrides) -> Sampling:
    """Official: exactly infer.py. Fixed: only <EOA> and codebook-0 ids can be drawn (anything else breaks the
    track split), and both CFG branches are normalised in float32."""
    if compat == "official":
        return Sampling(**overrides)
    lo, hi = codebook_range(0)
    fixed = Sampling(blocked=((0, EOA), (EOA + 1, lo), (hi, None)), uncond_in_model_dtype=False)
    return replace(fixed, **overrides)


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
    if s.top_k:
        kth = torch.topk(scores, min(s.top_k, scores.shape[-1]))[0][..., -1, None]
        scores = scores.masked_fill(scores < kth, -float("inf"))
    if s.top_p < 1.0:
        ascending, order = torch.sort(scores, descending=False)
        remove = ascending.softmax(dim=-1).cumsum(dim=-1) <= 1 - s.top_p
        remove[..., -1:] = False
        scores = scores.masked_fill(remove.scatter(1, order, remove), -float("inf"))
    return scores


def logits_to_scores(logits: Tensor, seen: Tensor, ban_eos: bool, s: Sampling, allowed: Tensor) -> Tensor:
    """Model logits (rows, V), row 0 conditional and row 1 unconditional when CFG is on -> scores (1, V) fp32.

    The order of transformers' `generate` for infer.py (SPEC §3.5): CFG on log-softmaxed scores ->
    repetition penalty over `seen` (1, V) (every input id and every id generated so far) -> <EOA> banned
    before min_new_tokens -> blocked ranges -> temperature -> top-k -> top-p.
    """
    scores = logits[:1].float()
    if s.guidance_scale != 1.0:
        uncond = logits[1:2] if s.uncond_in_model_dtype else logits[1:2].float()
        cond, uncond = F.log_softmax(scores, dim=-1), F.log_softmax(uncond, dim=-1)
        scores = s.guidance_scale * (cond - uncond) + uncond
    if s.repetition_penalty != 1.0:
        penalised = torch.where(scores < 0, scores * s.repetition_penalty, scores / s.repetition_penalty)
        scores = torch.where(seen, penalised, scores)
    if ban_eos:
        scores = scores.index_fill(1, torch.tensor([s.eos_id], device=scores.device), -float("inf"))
    scores = scores.masked_fill(~allowed, -float("inf"))
    return warp(scores, s) if s.do_sample else scores


def sample(scores: Tensor, do_sample: bool, generator: torch.Generator | None = None) -> Tensor:
    """One id (1,) from scores (1, V): argmax, or a draw without a host sync.

    argmax(p / E) with E ~ Exp(1) over the full vocabulary is exactly what `torch.multinomial(p, 1)` computes
    (same result, same generator state), so a seeded run reproduces transformers' sampled tokens.
    """
    if not do_sample:
        return scores.argmax(dim=-1)
    probs = scores.softmax(dim=-1)
    exp = torch.empty_like(probs).exponential_(1, generator=generator)
    return (probs / exp).argmax(dim=-1)


def prefill(model: Transformer, ids: Tensor, start: int = 0, chunk: int = 2048) -> None:
    """Write ids (T,) into cache row 0 at positions start.. start+T-1, `chunk` tokens at a time (bounds memory)."""
    for offset in range(0, len(ids), chunk):
        piece = ids[offset: offset + chunk][None]
        positions = torch.arange(start + offset, start + offset + piece.shape[1], device=ids.device)[None]
        model(piece, positions, last_only=True)


def decode_one_token(model: Transformer, token: Tensor, input_pos: Tensor, seen: Tensor, ban_eos: bool,
                     s: Sampling, allowed: Tensor, generator: torch.Generator | None) -> Tensor:
    """Feed token (1,) to every row at input_pos (rows, 1); return the next id (1,). No host sync."""
    logits = model(token.view(1, 1).expand(input_pos.shape[0], 1), input_pos)[:, -1]
    return sample(logits_to_scores(logits, seen, ban_eos, s, allowed), s.do_sample, generator)


def decode_n_tokens(model: Transformer, token: Tensor, input_pos: Tensor, seen: Tensor, s: Sampling,
                    allowed: Tensor, generator: torch.Generator | None) -> list[Tensor]:
    """Up to s.max_new_tokens ids, stopping after eos; `seen` is updated in place."""
    out: list[Tensor] = []
    for step in range(s.max_new_tokens):
        token = decode_one_token(model, token, input_pos, seen, step < s.min_new_tokens, s, allowed, generator)
        out.append(token)
        seen[:, token] = True
        if token.item() == s.eos_id:  # one sync per token: small against a 7B step
            break
        input_pos = input_pos + 1
    return out


@torch.inference_mode()
def generate(model: Transformer, prompt: Tensor, s: Sampling, generator: torch.Generator | None = None,
             cached: int = 0) -> Tensor:
    """Continue prompt (T,) -> new ids (n,), n <= s.max_new_tokens, ending at the first eos if any.

    Cache row 0 must already hold prompt[:cached]; on return it holds prompt + new[:-1]. With CFG, row 1
    restarts at position 0 from the last prompt token alone, as transformers' unbatched CFG does.
    """
    rows, length = (2 if s.guidance_scale != 1.0 else 1), len(prompt)
    if rows > model.max_batch or length + s.max_new_tokens > model.max_seq_len:
        raise EngineError(f"{length} prompt + {s.max_new_tokens} new tokens in {rows} rows do not fit the cache "
                          f"({model.max_batch} x {model.max_seq_len}). Fix: call setup_caches with a larger size.")
    assert 0 <= cached < length, (cached, length)
    device = model.output.weight.device
    prompt = prompt.to(device)
    seen = torch.zeros(1, model.args.vocab_size, dtype=torch.bool, device=device)
    seen[:, prompt] = True
    prefill(model, prompt[cached:-1], start=cached)
    input_pos = torch.tensor([[length - 1], [0]], device=device)[:rows]
    allowed = allowed_mask(s, model.args.vocab_size, device)
    return torch.cat(decode_n_tokens(model, prompt[-1:], input_pos, seen, s, allowed, generator))
