"""Stage-1 segment loop against infer.py's loop run on transformers' generate (tiny random model, CPU)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import LogitsProcessorList

from songforge.engine.yue.params import SamplingKnobs
from songforge.engine.yue.prompt import Stage1Plan, build_plan, full_output, max_context
from songforge.engine.yue.stage1 import common_prefix, run_stage1, stage1_codes
from songforge.engine.yue.stage2 import run_stage2
from songforge.engine.yue.tokenizer import EOA, SOA, XCODEC, MMTokenizer
from songforge.engine.yue.tokens import codebook_range, load_codes, save_codes

from test_yue_model import BlockTokenRange, tiny_pair

DATA = Path(__file__).parents[1].parent / "shared" / "yue" / "data"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("tiny")
    hf, ours = tiny_pair(folder)
    yield hf, ours
    torch.set_num_threads(threads)


def toy_plan(compat: str, segments: int = 3) -> Stage1Plan:
    """A plan shaped like a real one (header, '[start_of_segment] text <SOA><xcodec>' prompts), random text ids."""
    rng = np.random.default_rng(0)
    text = lambda n: tuple(int(t) for t in rng.integers(3, 32000, n))
    prompts = tuple(text(7) + text(12) + (SOA, XCODEC) for _ in range(segments))
    return Stage1Plan(header=text(60), prompts=prompts, separator=text(7), reference_spans=0, compat=compat)


def official_loop(hf, plan: Stage1Plan, max_new: int, min_new: int, context: int, seed: int) -> list[int]:
    """infer.py#L164-224 with our plan's ids: history, window slicing, CFG 1.5 then 1.2, <EOA> appended."""
    torch.manual_seed(seed)
    raw = None
    for i, prompt in enumerate(plan.prompts):
        prompt_ids = torch.tensor([(plan.header if i == 0 else plan.separator) + prompt])
        input_ids = prompt_ids if i == 0 else torch.cat([raw, prompt_ids], dim=1)
        input_ids = input_ids[:, -max_context(max_new, context):]
        out = hf.generate(input_ids, max_new_tokens=max_new, min_new_tokens=min_new, do_sample=True, top_p=0.93,
                          temperature=1.0, repetition_penalty=1.1, eos_token_id=EOA, pad_token_id=EOA,
                          logits_processor=LogitsProcessorList([BlockTokenRange(0, EOA),
                                                                BlockTokenRange(XCODEC, XCODEC)]),
                          guidance_scale=1.5 if i == 0 else 1.2)
        if out[0, -1] != EOA:
            out = torch.cat([out, torch.tensor([[EOA]])], dim=1)
        raw = out if i == 0 else torch.cat([raw, prompt_ids, out[:, input_ids.shape[1]:]], dim=1)
    return raw[0].tolist()


def test_official_mode_equals_infer_py_loop_with_window_slicing(models):
    hf, ours = models
    plan, max_new, context = toy_plan("official"), 25, 180  # the window (154 tokens) overflows at segment 3
    done = run_stage1(ours, plan, SamplingKnobs(max_new_tokens=max_new, min_new_tokens=10), seed=42, context=context)
    assert [len(d) - len(p) for d, p in zip(done, plan.prompts)] == [max_new + 1] * 3  # no <EOA> drawn: appended
    assert full_output(plan, done) == official_loop(hf, plan, max_new, 10, context, seed=42)


def test_fixed_mode_keeps_header_and_yields_tracks(models):
    ours = models[1]
    plan = toy_plan("fixed")
    done = run_stage1(ours, plan, SamplingKnobs(max_new_tokens=24, min_new_tokens=24), seed=1, context=180)
    lo, hi = codebook_range(0)
    generated = [t for d, p in zip(done, plan.prompts) for t in d[len(p):-1]]
    assert len(generated) == 3 * 24 and all(lo <= t < hi for t in generated)
    vocal, inst = stage1_codes(plan, done)
    assert vocal.shape == inst.shape == (1, 3 * 12) and vocal.max() < 1024
    again = run_stage1(ours, plan, SamplingKnobs(max_new_tokens=24, min_new_tokens=24), seed=1, context=180)
    assert again == done


def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2 and common_prefix([], [1]) == 0


def test_lyrics_to_stage2_codes_through_the_npy_files(models, tmp_path):
    """The example prompt through every piece (tiny random model: shapes and layouts, not music)."""
    if not DATA.is_dir():
        pytest.skip(f"needs the project's shared data at {DATA}")
    egs = DATA / "prompt_egs"
    plan = build_plan(MMTokenizer(DATA / "tokenizer.model"), (egs / "genre.txt").read_text(),
                      (egs / "lyrics.txt").read_text(), n_segments=2)
    done = run_stage1(models[1], plan, SamplingKnobs(max_new_tokens=20, min_new_tokens=20), context=1024)
    assert len(full_output(plan, done)) == 460 + 20 + 1 + 83 + 20 + 1
    paths = [save_codes(tmp_path / f"song_{name}.npy", codes) for name, codes in
             zip(("vtrack", "itrack"), stage1_codes(plan, done))]
    for path in paths:
        codes = load_codes(path)
        assert codes.shape == (1, 20)
        full = run_stage2(models[1], codes)
        assert full.shape == (8, 20) and np.array_equal(full[0], codes[0]) and full.max() < 1024
