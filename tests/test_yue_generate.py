"""Stage-1 sampling on a tiny random-weight model against transformers' own `generate` (CPU, float32).

The tiny model has YuE's vocabulary and nothing else of YuE: these tests check the decoding machinery,
never music.
"""

import pytest
import torch
from transformers import LogitsProcessorList

from songforge.engine.yue.generate import Sampling, allowed_mask, generate, logits_to_scores, stage1_sampling
from songforge.engine.yue.params import SamplingKnobs
from songforge.engine.yue.tokenizer import EOA, XCODEC
from songforge.engine.yue.tokens import codebook_range

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


def sampling(guidance_scale: float | None = None, **values) -> Sampling:
    """infer.py's Sampling with some knobs (checked by SamplingKnobs) and loop settings (do_sample, eos_id) set."""
    knobs = {name: values.pop(name) for name in list(values) if name in SamplingKnobs.model_fields}
    return Sampling.from_knobs(SamplingKnobs(**knobs), guidance_scale, **values)


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
    sampling(max_new_tokens=40, min_new_tokens=20, do_sample=False),  # greedy, CFG 1.5
    sampling(max_new_tokens=40, min_new_tokens=20, do_sample=True),  # top-k 50, top-p 0.93, CFG 1.5
    sampling(max_new_tokens=30, min_new_tokens=5, do_sample=True, guidance_scale=1.0, temperature=0.7,
             repetition_penalty=1.3, top_k=0, top_p=0.8),
], ids=["greedy", "sampled", "no-cfg-warm"])
def test_tokens_equal_transformers_generate(models, s):
    hf, ours = models
    expected = official_generate(hf, prompt_ids(), s, seed=11)
    got = generate(ours, prompt_ids(), s, torch.Generator().manual_seed(11))
    assert len(got) == s.max_new_tokens and torch.equal(got, expected)


def test_stops_at_eos_after_min_new_tokens_like_transformers(models):
    hf, ours = models
    greedy = generate(ours, prompt_ids(), sampling(max_new_tokens=40, min_new_tokens=0, do_sample=False))
    eos = int(greedy[5:].mode().values)  # a token the model does produce: use it as the stop token
    s = sampling(max_new_tokens=40, min_new_tokens=3, do_sample=False, eos_id=eos)
    got = generate(ours, prompt_ids(), s)
    assert got[-1] == eos and eos not in got[:-1].tolist() and len(got) > 3
    assert torch.equal(got, official_generate(hf, prompt_ids(), s, seed=0))


def test_same_seed_same_tokens_other_seed_other_tokens(models):
    ours = models[1]
    s = stage1_sampling(knobs=SamplingKnobs(max_new_tokens=30, min_new_tokens=30))
    run = lambda seed: generate(ours, prompt_ids(), s, torch.Generator().manual_seed(seed))
    first = run(3)
    assert torch.equal(first, run(3)) and not torch.equal(first, run(4))


def test_fixed_mode_draws_only_codebook0_ids_and_eoa(models):
    ours = models[1]
    knobs = SamplingKnobs(max_new_tokens=30, min_new_tokens=0, top_k=0, top_p=1.0)
    got = generate(ours, prompt_ids(), stage1_sampling("fixed", knobs), torch.Generator().manual_seed(1))
    lo, hi = codebook_range(0)
    assert all(lo <= t < hi or t == EOA for t in got.tolist())
    knobs = SamplingKnobs(max_new_tokens=30, top_k=0, top_p=1.0)
    official = generate(ours, prompt_ids(), stage1_sampling("official", knobs), torch.Generator().manual_seed(1))
    assert any(not lo <= t < hi for t in official.tolist()), "a random model leaves codebook 0 when allowed"


def test_cache_prefix_reuse_equals_a_fresh_prefill(models):
    ours = models[1]
    s = sampling(max_new_tokens=20, min_new_tokens=20, do_sample=False)
    first = generate(ours, prompt_ids(), s)
    longer = torch.cat([prompt_ids(), first, prompt_ids(seed=6, length=9)])
    reused = generate(ours, longer, s, cached=len(prompt_ids()) + len(first) - 1)
    ours.setup_caches(max_batch=2, max_seq_len=250)  # a new, empty cache
    fresh = generate(ours, longer, s)
    ours.setup_caches(max_batch=2, max_seq_len=256)
    assert torch.equal(reused, fresh)


def test_logits_pipeline_pieces():
    s = sampling(do_sample=False, guidance_scale=1.0, repetition_penalty=2.0)
    logits = torch.tensor([[2.0, -2.0, 1.0, 0.5, 3.0]])
    seen = torch.tensor([[True, True, False, False, False]])
    allowed = allowed_mask(sampling(blocked=((4, None),)), 5, torch.device("cpu"))
    scores = logits_to_scores(logits, seen, ban_eos=False, s=s, allowed=allowed)
    assert scores.tolist() == [[1.0, -4.0, 1.0, 0.5, -float("inf")]]
    banned = logits_to_scores(logits, seen, True, sampling(do_sample=False, guidance_scale=1.0, eos_id=2), allowed)
    assert banned[0, 2] == -float("inf")
    kept = logits_to_scores(logits, seen, False, sampling(guidance_scale=1.0, repetition_penalty=1.0, top_k=2,
                                                          top_p=1.0, blocked=()), allowed)
    assert torch.isfinite(kept).tolist() == [[True, False, True, False, False]]  # top 2 of the allowed ids


def test_the_sampler_takes_the_knob_values_and_the_segment_scale():
    """Every knob of SamplingKnobs reaches the sampler unchanged; the guidance scale is the segment's."""
    knobs = SamplingKnobs(max_new_tokens=77, min_new_tokens=7, temperature=0.8, top_p=0.5, top_k=9,
                          repetition_penalty=1.4, guidance_scale_first=2.5, guidance_scale_later=1.7)
    s = stage1_sampling("fixed", knobs, 1.7, eos_id=3)
    assert (s.max_new_tokens, s.min_new_tokens, s.temperature, s.top_p, s.top_k, s.repetition_penalty,
            s.guidance_scale, s.eos_id) == (77, 7, 0.8, 0.5, 9, 1.4, 1.7, 3)
    assert stage1_sampling("official", knobs).guidance_scale == 2.5  # no segment scale given: the first one's
    with pytest.raises(TypeError):
        Sampling.from_knobs(knobs, temperature=2.0)  # a knob's value comes from the knobs only
