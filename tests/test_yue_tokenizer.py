"""YuE's mm tokenizer against ids computed with the official wrapper (shared/yue/data vectors)."""

from pathlib import Path

import pytest

from songforge.engine.yue.tokenizer import EOA, SOA, STAGE_1, STAGE_2, XCODEC, MMTokenizer
from songforge.errors import EngineError

DATA = Path(__file__).parents[1].parent / "shared" / "yue" / "data"


@pytest.fixture(scope="module")
def tok():
    if not DATA.is_dir():
        pytest.skip(f"needs the project's shared data at {DATA}")
    return MMTokenizer(DATA / "tokenizer.model")


def test_special_ids_and_vocab_size(tok, vectors):
    assert tok.special_ids == vectors["special"]
    assert tok.vocab_size == vectors["vocab_size"] == 83738
    assert (SOA, EOA, STAGE_1, STAGE_2) == (vectors["soa"], vectors["eoa"], vectors["stage_1"], vectors["stage_2"])
    assert [XCODEC] == vectors["xcodec_sep"]


@pytest.mark.parametrize("marker", ["start_of_segment", "end_of_segment", "start_of_reference", "end_of_reference"])
def test_segment_markers_are_plain_text(tok, vectors, marker):
    assert tok.tokenize(f"[{marker}]") == vectors[marker]


def test_instruction_prompt_ids(tok, vectors):
    ids = tok.tokenize(vectors["prompt_text_0"])
    assert ids == vectors["prompt_text_0_ids"] and len(ids) == 391
    assert 1 not in ids[:1], "no BOS is added"


def test_specials_split_text_and_each_chunk_gets_a_dummy_prefix(tok):
    plain = tok.sp.encode_as_ids("hello")
    ids = tok.tokenize("hello<SOA>hello<EOA><s>")
    assert ids == plain + [SOA] + plain + [EOA, 1]
    assert plain[0] == tok.sp.piece_to_id("▁hello")


def test_earliest_special_wins_and_appended_ids(tok):
    assert tok.tokenize("<PAD><CLS>") == [83737, 83734]
    assert tok.tokenize("a</s><s_local>") == tok.sp.encode_as_ids("a") + [2, 32007]
    assert tok.detokenize(tok.tokenize("hi<SOA>there")).split() == ["hi", "<SOA>", "there"]


def test_missing_model_file_names_the_fetch_command(tmp_path):
    with pytest.raises(EngineError, match="songforge models pull"):
        MMTokenizer(tmp_path / "tokenizer.model")
