"""compat: official stage 2 writes the codes infer.py writes, unfixable ones included; decoding refuses them.

The tiny model is the random stage-2 LLaMA of test_yue_stage2 with its embedding and head steered (the
layers stay random), so that a track behaves as a trained model's would or as a misfiring one's, on purpose:
- each codebook-k id points the next position at codebook k+1, so a track whose codebook-0 codes are all
  below 512 gets valid codes in every row;
- a codebook-0 code of 512 or more points at 24 "stray" ids of codebook 2 instead: position 1 then holds a
  codebook-2 id (code 2024..2047 in row 1, invalid), and the stray id points on at codebook 2 as a codebook-1
  id would, so only row 1 is hit. In a track where most codes are >= 512, row 1's most frequent value is a
  stray one: infer.py's "fix invalid codes" step keeps it (SPEC §5.2, §9 quirk 8).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from songforge.artifacts import output
from songforge.engine.yue.params import DecodeParams, Stage2Params
from songforge.engine.yue.stage2 import InvalidCodesWarning
from songforge.engine.yue.tokens import (XCODEC_OFFSET, check_decodable, codebook_range, describe_invalid,
                                         invalid_codes, save_codes)
from songforge.errors import EngineError

from test_yue_model import tiny_hf
from test_yue_stage2 import official_stage2_generate

FRAMES = 300  # official stage 2 needs one full 6-s chunk per track
STRAY = 1000  # codes STRAY..1023 of codebook 2 are the stray ids


def steered_s2(folder):
    """The random tiny stage-2 model with the embedding and head steered as the module docstring says."""
    hf = tiny_hf(n_kv_heads=4)  # s2 is MHA
    emb, head = hf.model.embed_tokens.weight, hf.lm_head.weight
    rows = lambda k, lo=0, hi=1024: slice(codebook_range(k)[0] + lo, codebook_range(k)[0] + hi)
    with torch.no_grad():
        for k in range(8):
            emb[rows(k), k] += 4.0  # a codebook-k id carries direction k ...
            if k:
                head[rows(k), k - 1] += 4.0  # ... which codebook k+1 answers
        high, stray = rows(0, 512), rows(2, STRAY)
        emb[high, 0] -= 4.0
        emb[high, 8] += 4.0  # codebook-0 codes >= 512 carry direction 8 ...
        head[stray, 1] -= 4.0
        head[stray, 8] += 8.0  # ... which only the stray ids answer
        emb[stray, 2] -= 4.0
        emb[stray, 1] += 4.0  # a stray id is followed by codebook 2, as a codebook-1 id is
    hf.save_pretrained(folder)
    return hf


def official_ids2npy_and_fix(ids: np.ndarray) -> np.ndarray:
    """infer.py's `codectool_stage2.ids2npy(output)` then its "fix invalid codes" loop, written as it is there."""
    output = ids.reshape(-1, 8).T.astype(np.uint32) - (XCODEC_OFFSET + 1024 * np.arange(8, dtype=np.uint32))[:, None]
    fixed_output = output.copy()
    for i, line in enumerate(output):
        for j, element in enumerate(line):
            if element < 0 or element > 1023:
                counter = Counter(line)
                fixed_output[i, j] = sorted(counter.items(), key=lambda x: x[1], reverse=True)[0][0]
    return fixed_output


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Stage-1 codes of a clean vocal track and a mostly-high instrumental one, and `songforge yue stage2
    --compat official` run on them with the steered model."""
    from app.cli import app

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("official")
    hf = steered_s2(root / "s2")
    rng = np.random.default_rng(0)
    vocal = rng.integers(0, 512, FRAMES)
    instrumental = np.where(rng.random(FRAMES) < 0.7, rng.integers(512, 1024, FRAMES), rng.integers(0, 512, FRAMES))
    vtrack = save_codes(root / "s1" / "x_vtrack.npy", vocal[None])
    itrack = save_codes(root / "s1" / "x_itrack.npy", instrumental[None])
    result = CliRunner().invoke(app, ["yue", "stage2", str(vtrack), str(itrack), "--out", str(root / "s2-out"),
                                      "--model", str(root / "s2"), "--compat", "official"])
    yield {"hf": hf, "root": root, "cb0": np.stack([vocal, instrumental]), "result": result,
           "stage1": (vtrack, itrack), "written": (root / "s2-out" / vtrack.name, root / "s2-out" / itrack.name)}
    torch.set_num_threads(threads)


def test_official_stage2_writes_both_tracks_and_warns_of_the_unfixed_rows(run):
    result, (vtrack, itrack) = run["result"], run["written"]
    assert result.exit_code == 0, result.output
    vocal, instrumental = np.load(vtrack).astype(np.int64), np.load(itrack).astype(np.int64)
    assert vocal.shape == instrumental.shape == (8, FRAMES)
    assert vocal.max() < 1024  # the valid vocal track is written as it is
    high = np.flatnonzero(run["cb0"][1] >= 512)  # where the stray ids answer
    assert 0.5 * FRAMES < len(high) < FRAMES
    assert instrumental[1, high].min() >= 1024 + STRAY and len(set(instrumental[1, high])) == 1  # the row's mode
    assert np.delete(instrumental, 1, axis=0).max() < 1024 and np.delete(instrumental[1], high).max() < 1024
    warning = result.output[result.output.index("warning:"):]
    assert "instrumental track" in warning and f"codebook 1 at {len(high)} of {FRAMES} frames ({high[0]}" in warning
    assert "vocal track" not in warning and "compat: fixed" in warning


@pytest.mark.slow
def test_official_stage2_writes_what_infer_py_writes(run):
    """The written codes equal the per-frame `generate` loop of infer.py followed by its ids2npy and fix step."""
    ids = official_stage2_generate(run["hf"], run["cb0"])  # both tracks are one 300-frame chunk: one batch
    for written, track_ids in zip(run["written"], ids):
        np.testing.assert_array_equal(np.load(written), official_ids2npy_and_fix(track_ids))


def test_decode_refuses_the_unfixed_track_naming_file_rows_and_fix(run, monkeypatch):
    from app.cli import app

    monkeypatch.setenv("SONGFORGE_MODELS", str(run["root"] / "no-models"))  # the codec is never reached
    vtrack, itrack = run["written"]
    out = run["root"] / "audio"
    result = CliRunner().invoke(app, ["yue", "decode", str(vtrack), str(itrack), "--out", str(out)])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())  # the error is wrapped to the terminal's width
    assert f"{itrack}: codebook 1 at " in message and str(vtrack) not in message
    assert "re-run stage 2 with the default compat: fixed" in message and "pull" not in message
    assert not out.exists()


def test_engine_and_album_decode_refuse_before_the_codec(run, monkeypatch, tmp_path):
    from songforge.engine.yue.engine import decode
    from songforge.engine.yue.steps import DecodeCall, run_decode

    monkeypatch.setenv("SONGFORGE_MODELS", str(tmp_path / "no-models"))  # the codec is never reached
    vtrack, itrack = run["written"]
    vocal, instrumental = (np.load(path).astype(np.int64) for path in (vtrack, itrack))
    params = DecodeParams(codec_model="xcodec", low_band_hz=5500.0, rescale=False)
    with pytest.raises(EngineError, match=r"instrumental track: codebook 1 at \d+ of 300 frames") as error:
        decode(vocal, instrumental, params)
    assert "vocal track:" not in str(error.value) and "compat: fixed" in str(error.value)
    song_dir = tmp_path / "01-x"
    with pytest.raises(EngineError, match=f"{itrack}: codebook 1 at"):
        stage2 = output("yue-stage2", vtrack=vtrack, itrack=itrack)
        run_decode(DecodeCall(settings=params, codec_identity="codec", take={}), {"vtrack": stage2, "itrack": stage2},
                   song_dir)
    assert not song_dir.exists()


def test_album_stage2_writes_the_official_codes_too(run, tmp_path):
    from songforge.engine.yue.steps import Stage2Call, run_stage2

    vtrack, itrack = run["stage1"]
    params = Stage2Params(model=str(run["root"] / "s2"), compat="official", dtype="auto")
    stage1 = output("yue-stage1", vtrack=vtrack, itrack=itrack)
    with pytest.warns(InvalidCodesWarning, match="instrumental track.*: codebook 1 at"):
        done = run_stage2(Stage2Call(settings=params, model_identity="s2"), {"vtrack": stage1, "itrack": stage1},
                          tmp_path / "01-x")
    for role, written in zip(("vtrack", "itrack"), run["written"]):
        np.testing.assert_array_equal(np.load(done.path(role)), np.load(written))


def test_invalid_code_finder_on_a_hand_made_array():
    codes = np.zeros((8, 12), dtype=np.int64)
    codes[1, [0, 1, 2, 3, 5, 9, 10]] = 2024  # a stray codebook-2 id in row 1
    codes[4, 11] = 2**32 - 1024  # a codebook-3 id in row 4, wrapped as official's uint32 arithmetic wraps it
    codes[6, 7] = 1023  # the largest valid code
    found = invalid_codes(codes)
    assert list(found) == [1, 4]
    np.testing.assert_array_equal(found[1], [0, 1, 2, 3, 5, 9, 10])
    np.testing.assert_array_equal(found[4], [11])
    assert describe_invalid(codes) == "codebook 1 at 7 of 12 frames (0-3, 5, 9-10), codebook 4 at 1 of 12 frames (11)"
    assert describe_invalid(codes, max_spans=2).startswith("codebook 1 at 7 of 12 frames (0-3, 5, ...)")
    assert invalid_codes(np.minimum(codes, 1023)) == {} and describe_invalid(np.minimum(codes, 1023)) == ""
    check_decodable({"ok": np.minimum(codes, 1023)})
    with pytest.raises(EngineError, match=r"a.npy: codebook 1 at 7 of 12 frames .*; b.npy: codebook 1"):
        check_decodable({"a.npy": codes, "b.npy": codes})
