"""Stage 1 over ids: infer.py's segment loop (history, window, CFG scales, <EOA> closing) on our model."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .generate import generate, stage1_sampling
from .model import Transformer
from .prompt import MODEL_CONTEXT, Stage1Plan, full_output, model_input
from .tokenizer import EOA
from .tokens import split_stage1


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of a and b."""
    n = min(len(a), len(b))
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if len(diff) else n


def run_stage1(model: Transformer, plan: Stage1Plan, max_new_tokens: int = 3000, seed: int = 42,
               guidance_scales: tuple[float, float] = (1.5, 1.2), context: int = MODEL_CONTEXT,
               progress: Callable[[float, str], None] | None = None, **sampling) -> list[tuple[int, ...]]:
    """Generate every segment of the plan -> done[i] = plan.prompts[i] + new tokens of segment i (ending <EOA>).

    One generator seeded once serves all segments, as the official global seed does. Row 0 of the KV cache
    is kept between segments: only the part of each input that differs from what was fed before is
    prefilled (the official re-prefills everything; same maths, less work). `sampling` overrides
    `stage1_sampling` fields (repetition_penalty, top_p, ...); guidance_scales are (first segment, later ones).
    """
    device = model.output.weight.device
    generator = torch.Generator(device=device).manual_seed(seed)
    model.setup_caches(max_batch=2, max_seq_len=context)
    done: list[tuple[int, ...]] = []
    fed: list[int] = []  # what cache row 0 holds, position by position
    for i in range(len(plan.prompts)):
        if progress:
            progress(i / len(plan.prompts), f"stage 1: segment {i + 1} of {len(plan.prompts)}")
        ids = model_input(plan, done, max_new_tokens, context)
        s = stage1_sampling(plan.compat, max_new_tokens=max_new_tokens,
                            guidance_scale=plan.guidance_scale(i, *guidance_scales), **sampling)
        cached = min(common_prefix(fed, ids), len(ids) - 1)
        new = generate(model, torch.tensor(ids), s, generator, cached).tolist()
        fed = ids + new[:-1]
        done.append(plan.prompts[i] + tuple(new if new[-1] == EOA else new + [EOA]))
    return done


def stage1_codes(plan: Stage1Plan, done: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """(vocal, instrumental) codebook-0 codes, each (1, T): the arrays infer.py saves as *_vtrack/_itrack.npy."""
    return split_stage1(np.asarray(full_output(plan, done)), skip_spans=plan.reference_spans)
