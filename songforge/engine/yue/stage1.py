"""Stage 1 over ids: infer.py's segment loop (history, window, CFG scales, <EOA> closing) on our model."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from ...errors import ParamsError
from .generate import generate_takes, stage1_sampling
from .model import Transformer
from .params import SamplingKnobs
from .prompt import MODEL_CONTEXT, Stage1Plan, full_output, model_input
from .tokenizer import EOA
from .tokens import split_stage1


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of a and b."""
    n = min(len(a), len(b))
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if len(diff) else n


def run_stage1(model: Transformer, plan: Stage1Plan, knobs: SamplingKnobs = SamplingKnobs(), seed: int = 42,
               context: int = MODEL_CONTEXT, progress: Callable[[float, str], None] | None = None,
               **loop: Any) -> list[tuple[int, ...]]:
    """Generate every segment of the plan -> done[i] = plan.prompts[i] + new tokens of segment i (ending <EOA>).

    One generator seeded once serves all segments, as the official global seed does. Row 0 of the KV cache
    is kept between segments: only the part of each input that differs from what was fed before is
    prefilled (the official re-prefills everything; same maths, less work). `knobs`: the sampling knobs
    (guidance_scale_first for the first segment, _later after); `loop`: the sampler's own settings
    (do_sample, eos_id: tests' handles), as `stage1_sampling` takes them.
    """
    return run_stage1_takes(model, [plan], [seed], knobs, context, progress, **loop)[0]


def run_stage1_takes(model: Transformer, plans: Sequence[Stage1Plan], seeds: Sequence[int],
                     knobs: SamplingKnobs = SamplingKnobs(), context: int = MODEL_CONTEXT,
                     progress: Callable[[float, str], None] | None = None,
                     **loop: Any) -> list[list[tuple[int, ...]]]:
    """Several songs or takes in one batch: result[r] is what run_stage1(model, plans[r], seed=seeds[r]) returns.

    Every step decodes all takes at once (one pass over the weights for all of them); each take keeps its
    own generator and its own cache rows. Takes with more segments go first in the cache, so the takes
    still running always hold rows [0, m) and a finished song simply drops out of the batch.
    """
    if len({plan.compat for plan in plans}) > 1:
        raise ParamsError("compat", "the takes of one batch mix 'fixed' and 'official'", "batch one mode at a time")
    if not plans or len(seeds) != len(plans):
        raise ParamsError("seeds", f"{len(seeds)} seeds for {len(plans)} plans", "give one seed per take")
    order = sorted(range(len(plans)), key=lambda r: -len(plans[r].prompts))
    plans, seeds = [plans[r] for r in order], [seeds[r] for r in order]
    device = model.output.weight.device
    generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
    model.setup_caches(max_batch=2 * len(plans), max_seq_len=context)
    done: list[list[tuple[int, ...]]] = [[] for _ in plans]
    fed: list[list[int]] = [[] for _ in plans]  # what each take's cache row holds, position by position
    segments = len(plans[0].prompts)
    for i in range(segments):
        if progress:
            progress(i / segments, f"stage 1: segment {i + 1} of {segments}")
        takes = [r for r, plan in enumerate(plans) if i < len(plan.prompts)]
        ids = [model_input(plans[r], done[r], knobs.max_new_tokens, context) for r in takes]
        scale = plans[0].guidance_scale(i, knobs.guidance_scale_first, knobs.guidance_scale_later)
        s = stage1_sampling(plans[0].compat, knobs, scale, **loop)
        cached = [min(common_prefix(fed[r], x), len(x) - 1) for r, x in zip(takes, ids)]
        news = generate_takes(model, [torch.tensor(x) for x in ids], s, generators[: len(takes)], cached)
        for r, x, new in zip(takes, ids, (n.tolist() for n in news)):
            fed[r] = x + new[:-1]
            done[r].append(plans[r].prompts[i] + tuple(new if new[-1] == EOA else new + [EOA]))
    return [done[order.index(r)] for r in range(len(plans))]


def stage1_codes(plan: Stage1Plan, done: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """(vocal, instrumental) codebook-0 codes, each (1, T): the arrays infer.py saves as *_vtrack/_itrack.npy."""
    return split_stage1(np.asarray(full_output(plan, done)), skip_spans=plan.reference_spans)
