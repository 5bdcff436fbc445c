"""Stage-1 sampling on a tiny random-weight model against transformers' own `generate` (CPU, float32).

The tiny model has YuE's vocabulary and nothing else of YuE: these tests check the decoding machinery,
never music.
"""

import pytest
import torch
from transformers import LogitsProcessorList

from songforge.engine.yue.generate import Sampling, allowed_mask, generate, logits_to_scores, stage1_sampling
from songforge.engine.yue.tokenizer import EOA, XCODEC
from songforge.engine.yue.tokens import codebook_range
from songforge.errors import ParamsError

from test_yue_model import BlockTokenRange, tiny_pair


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the box is shared; one thread is also the fastest for a model this small
    folder = tmp_path_factory.mktemp("tiny")
    hf, ours = tiny_pair(folder)
    ours.setup_caches(max_batch=2, max_seq_len=256)
    yield hf, ours
    torch.set_num_threads(threads)


def prompt_ids(seed: int = 5, length: int = 40) -> torch.Tensor:
    return torch.randint(0, 32000, (length,), generator=torch.Generator().manual_seed(seed))


def official_generate(hf, prompt, s: Sampling, seed: int) -> torch.Tensor:
    """infer.py's call of transformers' generate, parameterised like our Sampling."""
    torch.manual_seed(seed)
    out = hf.generate(prompt[None], max_new_tokens=s.max_new_tokens, min_new_tokens=s.min_new_tokens,
                      do_sample=s.do_sample, top_p=s.top_p, top_k=s.top_k, temperature=s.temperature,
                      repetition_penalty=s.repetition_penalty, guidance_scale=s.guidance_scale,
                      eos_token_id=s.eos_id, pad_token_id=s.eos_id,
                      logits_processor=LogitsProcessorList([BlockTokenRange(0, EOA), BlockTokenRange(XCODEC, XCODEC)]))
    return out[0, len(prompt):]


@pytest.mark.parametrize("s", [
    Sampling(max_new_tokens=40, min_new_tokens=20, do_sample=False),  # greedy, CFG 1.5
    Sampling(max_new_tokens=40, min_new_tokens=20, do_sample=True),  # top-k 50, top-p 0.93, CFG 1.5
    Sampling(max_new_tokens=30, min_new_tokens=5, do_sample=True, guidance_scale=1.0, temperature=0.7,
             repetition_penalty=1.3, top_k=0, top_p=0.8),
], ids=["greedy", "sampled", "no-cfg-warm"])
def test_tokens_equal_transformers_generate(models, s):
    hf, ours = models
    expected = official_generate(hf, prompt_ids(), s, seed=11)
    got = generate(ours, prompt_ids(), s, torch.Generator().manual_seed(11))
    assert len(got) == s.max_new_tokens and torch.equal(got, expected)


def test_stops_at_eos_after_min_new_tokens_like_transformers(models):
    hf, ours = models
    greedy = generate(ours, prompt_ids(), Sampling(max_new_tokens=40, min_new_tokens=0, do_sample=False))
    eos = int(greedy[5:].mode().values)  # a token the model does produce: use it as the stop token
    s = Sampling(max_new_tokens=40, min_new_tokens=3, do_sample=False, eos_id=eos)
    got = generate(ours, prompt_ids(), s)
    assert got[-1] == eos and eos not in got[:-1].tolist() and len(got) > 3
    assert torch.equal(got, official_generate(hf, prompt_ids(), s, seed=0))


def test_same_seed_same_tokens_other_seed_other_tokens(models):
    ours = models[1]
    s = stage1_sampling(max_new_tokens=30, min_new_tokens=30)
    run = lambda seed: generate(ours, prompt_ids(), s, torch.Generator().manual_seed(seed))
    first = run(3)
    assert torch.equal(first, run(3)) and not torch.equal(first, run(4))


def test_fixed_mode_draws_only_codebook0_ids_and_eoa(models):
    ours = models[1]
    got = generate(ours, prompt_ids(), stage1_sampling(max_new_tokens=30, min_new_tokens=0, top_k=0, top_p=1.0),
                   torch.Generator().manual_seed(1))
    lo, hi = codebook_range(0)
    assert all(lo <= t < hi or t == EOA for t in got.tolist())
    official = generate(ours, prompt_ids(), stage1_sampling("official", max_new_tokens=30, top_k=0, top_p=1.0),
                        torch.Generator().manual_seed(1))
    assert any(not lo <= t < hi for t in official.tolist()), "a random model leaves codebook 0 when allowed"


def test_cache_prefix_reuse_equals_a_fresh_prefill(models):
    ours = models[1]
    s = Sampling(max_new_tokens=20, min_new_tokens=20, do_sample=False)
    first = generate(ours, prompt_ids(), s)
    longer = torch.cat([prompt_ids(), first, prompt_ids(seed=6, length=9)])
    reused = generate(ours, longer, s, cached=len(prompt_ids()) + len(first) - 1)
    ours.setup_caches(max_batch=2, max_seq_len=250)  # a new, empty cache
    fresh = generate(ours, longer, s)
    ours.setup_caches(max_batch=2, max_seq_len=256)
    assert torch.equal(reused, fresh)


def test_logits_pipeline_pieces():
    s = Sampling(do_sample=False, guidance_scale=1.0, repetition_penalty=2.0)
    logits = torch.tensor([[2.0, -2.0, 1.0, 0.5, 3.0]])
    seen = torch.tensor([[True, True, False, False, False]])
    allowed = allowed_mask(Sampling(blocked=((4, None),)), 5, torch.device("cpu"))
    scores = logits_to_scores(logits, seen, ban_eos=False, s=s, allowed=allowed)
    assert scores.tolist() == [[1.0, -4.0, 1.0, 0.5, -float("inf")]]
    banned = logits_to_scores(logits, seen, True, Sampling(do_sample=False, guidance_scale=1.0, eos_id=2), allowed)
    assert banned[0, 2] == -float("inf")
    kept = logits_to_scores(logits, seen, False, Sampling(guidance_scale=1.0, repetition_penalty=1.0, top_k=2,
                                                          top_p=1.0, blocked=()), allowed)
    assert torch.isfinite(kept).tolist() == [[True, False, True, False, False]]  # top 2 of the allowed ids


@pytest.mark.parametrize("field, value", [("top_p", 0.0), ("temperature", 0.0), ("guidance_scale", 0.5),
                                          ("max_new_tokens", 0)])
def test_out_of_range_sampling_params_name_the_field(field, value):
    with pytest.raises(ParamsError, match=field):
        stage1_sampling(**{field: value})
