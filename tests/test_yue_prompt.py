"""Stage-1 prompts against the official test vectors: lyric split, CoT/ICL layouts, segments, context window."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songforge.engine.yue import prompt as P
from songforge.engine.yue import tokens as T
from songforge.engine.yue.tokenizer import EOA, SOA, XCODEC, MMTokenizer
from songforge.errors import EngineError, ParamsError

DATA = Path(__file__).parents[1].parent / "shared" / "yue" / "data"


@pytest.fixture(scope="module")
def data():
    if not DATA.is_dir():
        pytest.skip(f"needs the project's shared data at {DATA}")
    vectors = json.loads((DATA / "yue_tokenization_vectors.json").read_text())
    egs = DATA / "prompt_egs"
    return vectors, MMTokenizer(DATA / "tokenizer.model"), (egs / "genre.txt").read_text(), \
        (egs / "lyrics.txt").read_text()


def test_split_lyrics_matches_official_sections(data):
    vectors, _, _, lyrics = data
    assert P.split_lyrics(lyrics, "official") == vectors["lyrics_segments"]
    assert P.split_lyrics(lyrics) == vectors["lyrics_segments"]


def test_split_lyrics_quirks_official_drops_fixed_raises():
    text = "intro words\n[verse]\na [b] c\n[pre-chorus]\nlost line\n[chorus]\nla"
    assert P.split_lyrics(text, "official") == ["[verse]\na\n\n", "[b]\nc\n\n", "[chorus]\nla\n\n"]
    with pytest.raises(ParamsError, match="intro words"):
        P.split_lyrics(text)


def test_cot_first_prompt_and_segment_two_suffix(data):
    vectors, tok, genres, lyrics = data
    plan = P.build_plan(tok, genres, lyrics, n_segments=2, compat="official")
    assert P.instruction_text(genres, P.split_lyrics(lyrics)) == vectors["prompt_text_0"]
    first = P.model_input(plan, [], max_new_tokens=3000)
    assert first == vectors["stage1_segment1_cot_prompt_ids"] and len(first) == 460
    generated = [T.XCODEC_OFFSET + 7] * 120 + [EOA]
    second = P.model_input(plan, [plan.prompts[0] + tuple(generated)], max_new_tokens=3000)
    suffix = vectors["stage1_segment2_appended_prompt_ids"]
    assert len(suffix) == 83 and second == first + generated + suffix
    assert (plan.guidance_scale(0, 1.5, 1.2), plan.guidance_scale(1, 1.5, 1.2), plan.guidance_scale(2, 1.5, 1.2)) \
        == (1.5, 1.2, 1.2)


def test_official_never_sings_the_last_section_fixed_does(data):
    _, tok, genres, lyrics = data
    assert len(P.build_plan(tok, genres, lyrics, 6, "official").prompts) == 5
    assert len(P.build_plan(tok, genres, lyrics, 6).prompts) == 6
    assert len(P.build_plan(tok, genres, lyrics, 2).prompts) == 2


def _codes_for(path: Path) -> np.ndarray:
    """Random codebook-0 codes as long as X-Codec would give for this file (50 frames/s at 16 kHz)."""
    info = sf.info(path)
    frames = int(info.frames * 16000 / info.samplerate) // 320
    return np.random.default_rng(len(path.name)).integers(0, 1024, (1, frames))


def single_of(codes):
    return (codes[0, :1500] + T.XCODEC_OFFSET).tolist()


def test_icl_prompts_from_the_example_song_lengths(data):
    vectors, tok, genres, lyrics = data
    egs = DATA / "prompt_egs"
    mix, vocal, inst = (_codes_for(egs / f"pop.00001{s}.mp3") for s in ("", ".Vocals", ".Instrumental"))
    assert mix.shape[1] >= 1500  # the clips are 30.0 s
    single = P.reference_single(mix, 0, 30)
    dual = P.reference_dual(vocal, inst, 0, 30)
    assert len(single) == 1500 and single == (mix[0, :1500] + T.XCODEC_OFFSET).tolist()
    assert len(dual) == 3000 and dual[0::2] == single_of(vocal) and dual[1::2] == single_of(inst)
    assert P.reference_dual(vocal, inst, 10, 12) == dual[1000:1200]  # 100 tokens per second
    plan = P.build_plan(tok, genres, lyrics, 2, "official", reference=dual)
    ids = P.model_input(plan, [], 3000)
    head = vectors["prompt_text_0_ids"]
    ref_block = vectors["start_of_reference"] + [SOA, XCODEC] + dual + [EOA] + vectors["end_of_reference"]
    assert ids == head + ref_block + vectors["stage1_segment1_cot_prompt_ids"][len(head):]
    assert len(ids) == 460 + len(ref_block) and plan.reference_spans == 1
    done = [plan.prompts[0] + (T.XCODEC_OFFSET,) * 100 + (EOA,)]
    v, i = T.split_stage1(np.array(P.full_output(plan, done)), skip_spans=plan.reference_spans)
    assert v.shape == i.shape == (1, 50)


def test_dual_track_lengths_differ_fixed_trims_official_raises():
    v, i = np.zeros((1, 10), int), np.ones((1, 8), int)
    assert len(P.reference_dual(v, i, 0, 30)) == 16
    with pytest.raises(EngineError, match="equal length"):
        P.reference_dual(v, i, 0, 30, compat="official")


def test_context_window_official_keeps_tail_fixed_keeps_header(data):
    _, tok, genres, lyrics = data
    done = [tuple(range(100, 600)) + (EOA,), tuple(range(600, 1100)) + (EOA,)]
    max_new = P.MODEL_CONTEXT - 1 - 1200  # a window of 1200 tokens
    official = P.build_plan(tok, genres, lyrics, 3, "official")
    ids = P.model_input(official, done, max_new)
    whole = (list(official.header) + list(done[0]) + list(official.separator) + list(done[1])
             + list(official.separator) + list(official.prompts[2]))
    assert len(ids) == 1200 and ids == whole[-1200:]
    assert ids[:len(official.header)] != list(official.header)
    fixed = P.build_plan(tok, genres, lyrics, 3)
    ids = P.model_input(fixed, done, max_new)
    assert ids[:len(fixed.header)] == list(fixed.header) and len(ids) <= 1200
    assert ids == list(fixed.header) + list(done[1]) + list(fixed.separator) + list(fixed.prompts[2])
    with pytest.raises(ParamsError, match="window"):
        P.model_input(fixed, done, P.MODEL_CONTEXT - 1 - 300)
