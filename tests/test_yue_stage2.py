"""Stage 2 teacher forcing against infer.py's per-frame `generate` loop (tiny random model, CPU)."""

import numpy as np
import pytest
import torch
from transformers import LogitsProcessorList

from songforge.engine.yue.stage2 import ids_to_codes, plan_chunks, run_stage2, teacher_force
from songforge.engine.yue.tokenizer import EOA, SOA, STAGE_1, STAGE_2
from songforge.engine.yue.tokens import XCODEC_OFFSET, codebook_range, flatten_frames
from songforge.errors import EngineError

from test_yue_model import BlockTokenRange, tiny_pair


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("tiny-s2")
    hf, ours = tiny_pair(folder, n_kv_heads=4)  # s2 is MHA
    yield hf, ours
    torch.set_num_threads(threads)


def official_stage2_generate(hf, cb0: np.ndarray) -> np.ndarray:
    """infer.py stage2_generate for rows of equal length: re-run `generate` for 7 tokens after every cb0."""
    ids = torch.tensor(cb0 + XCODEC_OFFSET)
    prompt = torch.cat([torch.tensor([[SOA, STAGE_1]] * len(ids)), ids, torch.tensor([[STAGE_2]] * len(ids))], 1)
    blocks = LogitsProcessorList([BlockTokenRange(0, 46358), BlockTokenRange(53526, 83738)])
    start = prompt.shape[1]
    for f in range(ids.shape[1]):
        prompt = torch.cat([prompt, ids[:, f:f + 1]], dim=1)
        prompt = hf.generate(prompt, min_new_tokens=7, max_new_tokens=7, eos_token_id=EOA, pad_token_id=EOA,
                             logits_processor=blocks, do_sample=False)
    return prompt[:, start:].numpy()


@pytest.mark.parametrize("rows, frames", [(1, 9), (2, 5)])
def test_official_mode_equals_per_frame_generate(models, rows, frames):
    hf, ours = models
    cb0 = np.random.default_rng(rows).integers(0, 1024, (rows, frames))
    got = teacher_force(ours, cb0, "official")
    assert got.shape == (rows, 8 * frames) and np.array_equal(got[:, 0::8], cb0 + XCODEC_OFFSET)
    assert np.array_equal(got, official_stage2_generate(hf, cb0))


def test_fixed_mode_keeps_every_code_in_its_codebook(models):
    ours = models[1]
    codes = np.random.default_rng(3).integers(0, 1024, (1, 12))
    ids = teacher_force(ours, codes, "fixed")[0].reshape(-1, 8)
    for k in range(8):
        lo, hi = codebook_range(k)
        assert ((lo <= ids[:, k]) & (ids[:, k] < hi)).all()
    full = ids_to_codes(ids.reshape(-1))
    assert full.shape == (8, 12) and np.array_equal(full[0], codes[0]) and full.max() < 1024


def test_chunk_schedule_like_stage2_inference():
    assert plan_chunks(1500, 4) == [[(0, 300), (300, 600), (600, 900), (900, 1200)], [(1200, 1500)]]
    assert plan_chunks(1234, 4) == [[(0, 300), (300, 600), (600, 900), (900, 1200)], [(1200, 1234)]]
    assert plan_chunks(650, 4, "official") == [[(0, 300), (300, 600)], [(600, 650)]]
    assert plan_chunks(299) == [[(0, 299)]]
    with pytest.raises(EngineError, match="6-s chunk"):
        plan_chunks(299, compat="official")


def test_run_stage2_on_a_short_track_in_fixed_mode(models):
    codes = np.random.default_rng(4).integers(0, 1024, (1, 7))
    out = run_stage2(models[1], codes)
    assert out.shape == (8, 7) and np.array_equal(out[0], codes[0])


def test_official_invalid_code_fix_and_what_it_leaves():
    codes = np.tile(np.arange(8)[:, None] * 10, (1, 4))  # row k holds 10k
    ids = flatten_frames(codes)
    ids[8 * 2 + 3] = codebook_range(5)[0]  # frame 2, codebook 3 gets a codebook-5 id: code 2048
    fixed = ids_to_codes(ids, "official")
    assert fixed[3, 2] == 30 and np.array_equal(np.delete(fixed, 2, 1), np.delete(codes, 2, 1))
    with pytest.raises(EngineError, match="codebook 3 at 1 of 4 frames"):
        ids_to_codes(ids, "fixed")
    ids[8 * 0 + 3] = ids[8 * 1 + 3] = ids[8 * 2 + 3]  # the row's most frequent value is itself invalid
    ids[8 * 3 + 4] = codebook_range(0)[0]  # a lower codebook's id wraps (uint32) to 2**32 - 4096, fixed to 40
    kept = ids_to_codes(ids, "official")  # kept, as official keeps them (test_yue_official_codes)
    assert kept[3].tolist() == [2048, 2048, 2048, 30] and kept[4].tolist() == [40] * 4
    assert np.array_equal(np.delete(kept, 3, 0), np.delete(codes, 3, 0))
    ids[5] = 83800  # a padding row of the model head: official's own assert fails
    with pytest.raises(EngineError, match="outside the X-Codec range"):
        ids_to_codes(ids, "official")
