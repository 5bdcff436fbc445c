"""The speed work changes no output: batched stage 2, batched takes, rare host syncs, int8, compiled steps.

Tiny random-weight models on CPU (YuE's vocabulary, nothing else of YuE). The CUDA-graph path cannot run
here; `test_step_functions_trace_as_whole_graphs` checks what it relies on (no graph breaks).
"""

import copy

import numpy as np
import pytest
import torch

from songforge.engine.yue.generate import (Sampling, generate, generate_takes, next_scores, stage1_sampling,
                                           allowed_mask)
from songforge.engine.yue.memory import choose_mode, kv_cache_bytes, release, rows_that_fit
from songforge.engine.yue.model import CONFIGS
from songforge.engine.yue.params import SamplingKnobs
from songforge.engine.yue.quantize import Int8Linear, quantize_int8, weight_bytes
from songforge.engine.yue.stage1 import run_stage1, run_stage1_takes
from songforge.engine.yue.stage2 import (codebook_heads, ids_to_codes, next_code, plan_chunks, run_stage2_tracks,
                                         teacher_force, teacher_force_rows)
from songforge.engine.yue.tokens import XCODEC_OFFSET
from songforge.errors import EngineError, ParamsError

from test_yue_model import tiny_pair
from test_yue_stage1 import toy_plan
from test_yue_stage2 import official_stage2_generate


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    hf, ours = tiny_pair(tmp_path_factory.mktemp("tiny-speed"))
    yield hf, ours
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mha(tmp_path_factory):
    """Stage 2 is multi-head attention (no GQA)."""
    return tiny_pair(tmp_path_factory.mktemp("tiny-speed-s2"), n_kv_heads=4)


def prompt_ids(seed: int, length: int) -> torch.Tensor:
    return torch.randint(0, 32000, (length,), generator=torch.Generator().manual_seed(seed))


def test_all_chunks_of_both_tracks_in_one_batch_equal_the_official_schedule(mha):
    """Two tracks, each one full 6-s chunk plus a shorter tail: one batch of 4 rows == the per-call groups."""
    model = mha[1]
    tracks = [np.random.default_rng(k).integers(0, 1024, (1, frames)) for k, frames in enumerate((310, 305))]
    together = run_stage2_tracks(model, tracks)
    for track, got in zip(tracks, together):
        calls = plan_chunks(track.shape[1], batch_size=4)
        assert [len(call) for call in calls] == [1, 1]  # a full chunk, then the tail alone, as infer.py runs them
        alone = [teacher_force(model, np.stack([track[0, a:b] for a, b in call])).reshape(-1) for call in calls]
        assert got.shape == (8, track.shape[1]) and np.array_equal(got, ids_to_codes(np.concatenate(alone)))


def test_rows_of_different_lengths_get_the_official_tokens(mha):
    """Padded rows in one batch == infer.py's per-frame `generate`, each row run alone (official id ranges)."""
    hf, ours = mha
    rows = [np.random.default_rng(k).integers(0, 1024, n) for k, n in enumerate((9, 4, 6))]
    got = teacher_force_rows(ours, rows, "official")
    for row, ids in zip(rows, got):
        assert ids.shape == (8 * len(row),) and np.array_equal(ids[0::8], row + XCODEC_OFFSET)
        assert np.array_equal(ids, official_stage2_generate(hf, row[None])[0])


def test_stage2_batch_size_splits_rows_without_changing_codes(mha):
    tracks = [np.random.default_rng(7 + k).integers(0, 1024, (1, n)) for k, n in enumerate((11, 6, 9))]
    one_batch = run_stage2_tracks(mha[1], tracks)
    in_pairs = run_stage2_tracks(mha[1], tracks, batch_size=2)
    assert all(np.array_equal(a, b) for a, b in zip(one_batch, in_pairs))


@pytest.mark.parametrize("do_sample", [True, False], ids=["sampled", "greedy"])
def test_batched_songs_and_seeds_equal_each_run_alone(models, do_sample):
    """Three takes (two songs, one of them twice with other seeds; 3 and 2 segments) in one batch."""
    ours = models[1]
    plans, seeds = [toy_plan("fixed", 2), toy_plan("fixed", 3), toy_plan("fixed", 2)], [5, 6, 7]
    knobs, loop = SamplingKnobs(max_new_tokens=20, min_new_tokens=0, top_k=3), dict(context=180, do_sample=do_sample)
    # A stop id the takes draw at different steps, so some finish early while others decode on.
    probe = run_stage1(ours, plans[0], knobs, seed=5, **loop)[0][len(plans[0].prompts[0]):]
    loop["eos_id"] = probe[4]
    together = run_stage1_takes(ours, plans, seeds, knobs, **loop)
    for plan, seed, got in zip(plans, seeds, together):
        assert got == run_stage1(ours, plan, knobs, seed=seed, **loop)
    lengths = {len(d) - len(p) for take, plan in zip(together, plans) for d, p in zip(take, plan.prompts)}
    assert min(lengths) <= 5 + 1 and max(lengths) == 20 + 1  # one take stopped while others decoded on


def test_takes_must_share_a_mode_and_have_one_seed_each(models):
    with pytest.raises(ParamsError, match="compat"):
        run_stage1_takes(models[1], [toy_plan("fixed"), toy_plan("official")], [1, 2])
    with pytest.raises(ParamsError, match="seeds"):
        run_stage1_takes(models[1], [toy_plan("fixed")], [1, 2])


def test_eos_checked_once_per_block_still_stops_where_every_token_would(models, monkeypatch):
    """Takes stop mid-block at their first eos; each generator ends where a run alone leaves it."""
    ours = models[1]
    ours.setup_caches(max_batch=6, max_seq_len=256)
    prompts = [prompt_ids(seed, n) for seed, n in ((1, 30), (2, 41), (3, 25))]
    knobs = SamplingKnobs(max_new_tokens=30, min_new_tokens=0, top_k=3)
    probe = generate(ours, prompts[0], Sampling.from_knobs(knobs), torch.Generator().manual_seed(0))
    s = Sampling.from_knobs(knobs, eos_id=int(probe[5]))
    alone, states = [], []
    for seed, prompt in enumerate(prompts):
        generator = torch.Generator().manual_seed(seed)
        alone.append(generate(ours, prompt, s, generator))
        states.append(generator.get_state())
    syncs = []
    real_cpu = torch.Tensor.cpu
    monkeypatch.setattr(torch.Tensor, "cpu", lambda self, *a, **k: syncs.append(1) or real_cpu(self, *a, **k))
    generators = [torch.Generator().manual_seed(seed) for seed in range(3)]
    together = generate_takes(ours, prompts, s, generators, [0, 0, 0], sync_every=8)
    monkeypatch.undo()
    assert [t.tolist() for t in together] == [a.tolist() for a in alone]
    assert all(torch.equal(g.get_state(), state) for g, state in zip(generators, states))
    assert alone[0][-1] == s.eos_id and len(alone[0]) % 8 and len({len(a) for a in alone}) > 1
    assert len(syncs) == -(-max(len(a) for a in alone) // 8)  # one host sync per block of 8 tokens


def test_int8_weights_keep_logits_close(models):
    ours = models[1]
    int8 = quantize_int8(copy.deepcopy(ours))
    assert isinstance(int8.output, Int8Linear) and int8.output.weight.dtype == torch.int8
    assert weight_bytes(int8) < 0.7 * weight_bytes(ours)
    ids = prompt_ids(4, 200)[None]
    logits = []
    for model in (ours, int8):
        model.setup_caches(max_batch=1, max_seq_len=200)
        with torch.inference_mode():
            logits.append(model(ids, torch.arange(200)[None]))
    error = (logits[1] - logits[0]).norm() / logits[0].norm()
    agreement = (logits[1].argmax(-1) == logits[0].argmax(-1)).float().mean()
    assert error < 0.02 and agreement > 0.9, (error, agreement)  # measured: 0.6 %, 98.5 %
    s = Sampling.from_knobs(SamplingKnobs(max_new_tokens=12, min_new_tokens=12), do_sample=False)
    int8.setup_caches(max_batch=2, max_seq_len=64)
    assert len(generate(int8, prompt_ids(5, 20), s)) == 12
    codes = teacher_force_rows(int8, [np.arange(5)])[0]  # the int8 head is widened for stage 2's rows
    assert ids_to_codes(codes).shape == (8, 5)


def test_attending_to_the_live_slots_only_changes_nothing(models):
    ours = models[1]
    ours.setup_caches(max_batch=1, max_seq_len=256)
    ids = prompt_ids(6, 40)[None]
    with torch.inference_mode():
        full = ours(ids, torch.arange(40)[None])
        live = ours(ids, torch.arange(40)[None], attend=40)
    torch.testing.assert_close(live, full, atol=1e-5, rtol=1e-5)


def test_step_functions_trace_as_whole_graphs(mha):
    """What torch.compile(mode="reduce-overhead", fullgraph=True) needs on a GPU: no graph break, same output."""
    ours = mha[1]
    ours.setup_caches(max_batch=4, max_seq_len=64)
    s = stage1_sampling("official", SamplingKnobs(max_new_tokens=8))
    seen = torch.zeros(2, ours.args.vocab_size, dtype=torch.bool)
    seen[:, :50] = True
    allowed = allowed_mask(s, ours.args.vocab_size, torch.device("cpu"))
    tokens, positions = torch.tensor([[5], [6], [5], [6]]), torch.tensor([[3], [4], [0], [0]])
    head, ids = codebook_heads(ours, "official")[0]
    torch._dynamo.reset()
    with torch.inference_mode():
        eager = next_scores(ours, tokens, positions, seen, True, s, allowed)
        traced = torch.compile(next_scores, backend="aot_eager", fullgraph=True)(
            ours, tokens, positions, seen, True, s, allowed)
        assert torch.equal(traced, eager)
        step = torch.compile(next_code, backend="aot_eager", fullgraph=True)
        two = (torch.cat([tokens, tokens], 1), torch.cat([positions, positions + 1], 1))  # cb7 + next cb0
        for feed, at in ((tokens, positions), two):
            assert torch.equal(step(ours, feed, at, head, ids), next_code(ours, feed, at, head, ids))


def test_memory_modes_and_budgets(models):
    gib = 1 << 30
    assert [choose_mode(n * gib) for n in (80, 40, 24, 16)] == ["resident", "resident", "offload", "int8"]
    with pytest.raises(EngineError, match="16 GiB"):
        choose_mode(12 * gib)
    assert kv_cache_bytes(CONFIGS["s1-7b"], 1, 1, torch.bfloat16) == 64 * 1024  # SPEC §10.2: 64 KiB per token
    assert kv_cache_bytes(CONFIGS["s2-1b"], 1, 1, torch.bfloat16) == 256 * 1024
    assert rows_that_fit(CONFIGS["s2-1b"], 2703, torch.bfloat16, 20 * gib) == 22
    model = copy.deepcopy(models[1])
    model.setup_caches(max_batch=2, max_seq_len=32)
    release(model)
    assert model.max_batch == 0 and model.layers[0].attention.kv_cache is None
    model.setup_caches(max_batch=1, max_seq_len=16)
    with torch.inference_mode():
        assert model(prompt_ids(1, 8)[None], torch.arange(8)[None]).shape == (1, 8, model.args.vocab_size)
