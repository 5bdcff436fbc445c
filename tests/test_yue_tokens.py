"""X-Codec token layouts: offsets, interleaving, stage-1 splitting, stage-2 layouts and .npy round trips."""

from pathlib import Path

import numpy as np
import pytest

from songforge.engine.yue import tokens as T
from songforge.engine.yue.tokenizer import EOA, SOA, XCODEC
from songforge.errors import EngineError

DATA = Path(__file__).parents[1].parent / "shared" / "yue" / "data"


def test_official_toy_vectors(vectors):
    vocal, inst = np.array(vectors["toy_vocal_codes"]), np.array(vectors["toy_inst_codes"])
    v_ids, i_ids = T.offset_codes(vocal)[0], T.offset_codes(inst)[0]
    assert v_ids.tolist() == vectors["toy_vocal_ids"] and i_ids.tolist() == vectors["toy_inst_ids"]
    assert T.interleave_tracks(v_ids, i_ids).tolist() == vectors["toy_interleaved"]
    assert T.unoffset_codes(T.deinterleave_tracks(np.array(vectors["toy_interleaved"]))[0][None]).tolist() \
        == vectors["toy_vocal_roundtrip"]
    assert T.stage2_prompt(np.array([5, 6, 7])).tolist() == vectors["toy_stage2_prompt_3frames"]
    frame = np.array([[5], [101], [102], [103], [104], [105], [106], [107]])
    assert T.flatten_frames(frame).tolist() == vectors["toy_stage2_frame_tokens"]
    two_frames = np.array(vectors["toy_stage2_frame_tokens"] * 2)
    assert T.unflatten_frames(two_frames).tolist() == vectors["toy_stage2_ids2npy"]


def test_offsets_are_symmetric_per_codebook():
    codes = np.random.default_rng(0).integers(0, 1024, size=(8, 37))
    ids = T.offset_codes(codes)
    for k in range(8):
        lo, hi = T.codebook_range(k)
        assert lo <= ids[k].min() and ids[k].max() < hi
    assert np.array_equal(T.unoffset_codes(ids), codes)
    assert np.array_equal(T.unoffset_codes(T.offset_codes(codes[1:], 1), 1), codes[1:])
    assert T.codebook_range(0) == (45334, 46358) and T.codebook_range(7)[1] == 53526


def test_out_of_range_codes_and_ids_raise():
    with pytest.raises(EngineError, match="0..1023"):
        T.offset_codes(np.array([[1024]]))
    with pytest.raises(EngineError, match="codebook 0"):
        T.unoffset_codes(np.array([[T.codebook_range(1)[0]]]))  # a codebook-1 id in a codebook-0 row


def test_interleave_round_trip_and_bad_shapes():
    v, i = np.arange(10), np.arange(100, 110)
    assert np.array_equal(np.stack(T.deinterleave_tracks(T.interleave_tracks(v, i))), np.stack([v, i]))
    with pytest.raises(EngineError):
        T.interleave_tracks(v, i[:-1])
    with pytest.raises(EngineError):
        T.deinterleave_tracks(np.arange(5))


def test_split_stage1_skips_reference_strips_xcodec_and_odd_tail():
    rng = np.random.default_rng(1)
    ref = T.offset_codes(rng.integers(0, 1024, (1, 6)))[0].tolist()
    seg = [rng.integers(0, 1024, (2, n)) for n in (5, 4)]  # (vocal, instrumental) codes per segment
    stream = lambda c: T.interleave_tracks(*T.offset_codes(c.reshape(1, -1)).reshape(2, -1)).tolist()
    ids = ([7, 8, SOA, XCODEC] + ref + [EOA, 9] + [SOA, XCODEC] + stream(seg[0]) + [T.XCODEC_OFFSET, EOA]
           + [10, SOA, XCODEC] + stream(seg[1]) + [EOA])
    vocal, inst = T.split_stage1(np.array(ids), skip_spans=1)
    assert vocal.shape == inst.shape == (1, 9)
    assert np.array_equal(vocal[0], np.concatenate([seg[0][0], seg[1][0]]))
    assert np.array_equal(inst[0], np.concatenate([seg[0][1], seg[1][1]]))
    with pytest.raises(EngineError, match="<SOA>"):
        T.split_stage1(np.array(ids[:-1]))


def test_npy_round_trip_in_official_layout(tmp_path):
    rng = np.random.default_rng(2)
    for shape in [(1, 50), (8, 300)]:
        codes = rng.integers(0, 1024, shape)
        path = T.save_codes(tmp_path / f"{shape[0]}.npy", codes)
        raw = np.load(path)
        assert raw.dtype == np.uint32 and raw.shape == shape
        assert np.array_equal(T.load_codes(path), codes)
    with pytest.raises(EngineError, match="missing"):
        T.load_codes(tmp_path / "absent.npy")


def test_official_finetune_npy_loads():
    path = DATA / "finetune_example" / "npy" / "dummy.Instrumental.npy"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    codes = T.load_codes(path)  # int64 (1, 4258) as the official preprocessing wrote it
    assert codes.shape == np.load(path).shape and codes.shape[0] == 1
    assert T.unoffset_codes(T.offset_codes(codes)).tolist() == codes.tolist()
