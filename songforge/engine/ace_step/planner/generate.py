"""The planner's two phases over token ids: the metadata block (free text up to </think>, audio codes barred) and
the code phase (audio-code tokens only, exactly the planned number), with ACE-Step's guidance and sampling.

Per token, as ACE-Step's own PyTorch loop does it (acestep/llm_inference.py `_generate_with_cfg_custom`): CFG on
the raw logits, uncond + scale * (cond - uncond), in float32; the phase's token mask; top-k; top-p (on the guided
logits, before the temperature: ACE-Step's order, not transformers'); temperature; one draw. The sampled token is
fed to both branches. The end token: ACE-Step blocks it until duration x 5 codes are written and then forces it
(constrained_logits_processor.py, CODES_GENERATION), so the code phase here simply decodes that many code tokens
and never asks the model for the end: no host sync inside the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from ...sampling import sample, top_k_filter, top_p_filter
from .model import Decoder, Planner, decoder as decoder_for

META_TOKENS = 512  # the metadata block's budget (ACE-Step's: a few fields and a caption of a few sentences)


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.85  # 0: greedy
    top_p: float = 0.9  # 1: off
    top_k: int = 0  # 0: off
    cfg_scale: float = 2.0  # 1: no unconditional branch

    @property
    def guided(self) -> bool:
        return self.cfg_scale > 1.0


def guide(logits: Tensor, takes: int, s: Sampling) -> Tensor:
    """Rows [0, takes) conditional, [takes, 2 takes) unconditional when guided -> (takes, vocab) fp32 scores."""
    cond = logits[:takes].float()
    if not s.guided:
        return cond
    uncond = logits[takes: 2 * takes].float()
    return uncond + s.cfg_scale * (cond - uncond)


def warp(scores: Tensor, s: Sampling) -> Tensor:
    """Top-k, then top-p (the smallest set whose probability passes p, at least one id), then the temperature:
    ACE-Step's order (the shared filters of songforge.engine.sampling)."""
    scores = top_p_filter(top_k_filter(scores, s.top_k), s.top_p)
    return scores / s.temperature if s.temperature > 0 else scores


def draw(scores: Tensor, s: Sampling, generators: Sequence[torch.Generator]) -> Tensor:
    """One id per take (takes,): argmax when greedy, else a draw from take r's own generator."""
    return sample(warp(scores, s), s.temperature > 0, generators)


def rows_of(cond: Sequence[int], uncond: Sequence[int], takes: int, s: Sampling) -> list[Sequence[int]]:
    return [cond] * takes + ([uncond] * takes if s.guided else [])


@torch.inference_mode()
def code_phase(planner: Planner, cond: Sequence[int], uncond: Sequence[int], codes: int, s: Sampling,
               generators: Sequence[torch.Generator], compile: bool = False) -> Tensor:
    """`codes` audio codes for each take (takes, codes), continuing the prompt `cond` (with `uncond`, the same
    prompt under an empty metadata block, as the unconditional branch when guided).

    Only the head's audio-code rows are scored: the mask would leave nothing else, so the draw is the same
    distribution as over the masked vocabulary. They are 64000 of the 1.7B LM's 217204 head rows (29 %): each
    step skips the other ~0.63 GB of its bf16 head, ~17 % of the bytes a step would read."""
    takes = len(generators)
    rows = rows_of(cond, uncond, takes, s)
    decoder = decoder_for(planner.model, len(rows), max(map(len, rows)) + codes, compile)
    head = planner.vocab.code_head(planner.model.lm_head.weight)
    code_ids = planner.vocab.code_ids.to(planner.device)
    out = torch.empty(takes, codes, dtype=torch.long, device=planner.device)
    scores = decoder.prefill(rows, head)
    for i in range(codes):
        out[:, i] = draw(guide(scores, takes, s), s, generators)
        if i + 1 < codes:
            scores = decoder.step(code_ids[out[:, i]].repeat(len(rows) // takes), head)
    return out


@torch.inference_mode()
def metadata_phase(planner: Planner, cond: Sequence[int], uncond: Sequence[int], s: Sampling,
                   generators: Sequence[torch.Generator], budget: int = META_TOKENS) -> list[list[int]]:
    """Each take's metadata block (takes = len(generators)), continuing `cond` up to and with </think> (or the
    end token, or `budget` tokens); audio codes barred. The takes decode as one batch, each drawing from its own
    generator only while its block is open: a take's block and its generator's state afterwards are the ones it
    gets alone."""
    vocab, takes = planner.vocab, len(generators)
    rows = rows_of(cond, uncond, takes, s)
    decoder = Decoder(planner.model, len(rows), max(map(len, rows)) + budget)
    barred = vocab.code_mask(planner.device)
    stops = {vocab.eos_id, vocab.think_end_id}
    written: list[list[int]] = [[] for _ in range(takes)]
    open_ = list(range(takes))  # the takes still writing
    head = planner.model.lm_head.weight
    logits = decoder.prefill(rows, head)
    token = torch.full((takes,), vocab.eos_id, dtype=torch.long, device=planner.device)
    for _ in range(budget):
        scores = guide(logits, takes, s).masked_fill(barred, -float("inf"))
        live = torch.tensor(open_, device=planner.device)
        # A closed take draws nothing more and feeds its last token again (its rows are read no more).
        token[live] = draw(scores[live], s, [generators[t] for t in open_])
        for t, drawn in zip(open_, token[live].tolist()):  # the block is short: one host sync a token is cheap
            written[t].append(drawn)
        open_ = [t for t in open_ if written[t][-1] not in stops and len(written[t]) < budget]
        if not open_:
            break
        logits = decoder.step(token.repeat(len(rows) // takes), head)
    return written
