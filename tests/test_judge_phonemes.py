"""Lyrics and transcripts as phonemes (espeak-ng through phonemizer, with pykakasi and pypinyin readings), and the
error rates over them, for every language YuE sings."""

from __future__ import annotations

import pytest

from songforge.judge.intelligibility import judge, pass_temperatures, phoneme_error_rate, word_error_rate
from songforge.judge.phonemes import LANGUAGE_VOICES, lyric_text, phonemes, plain_words

LINES = {"en": "Paper planes over the river", "zh": "夏天的风吹过河面", "ja": "紙飛行機が川を越えていく",
         "ko": "종이비행기가 강을 건너가요", "it": "Aeroplani di carta sopra il fiume"}


def test_every_language_yue_sings_gives_its_own_phonemes():
    found = {language: phonemes(line, language) for language, line in LINES.items()}
    assert set(found) == set(LANGUAGE_VOICES)
    assert all(len(sequence) >= 8 for sequence in found.values()), found
    assert len({tuple(sequence) for sequence in found.values()}) == len(found)  # no two alike


def test_kanji_are_read_as_their_kana_and_hanzi_as_pinyin_not_spelled_in_english():
    assert phonemes("世界", "ja") == phonemes("せかい", "ja")  # espeak-ng alone names a kanji "Chinese letter"
    assert phonemes("你好", "zh") == ["n", "i3", "h", "ao3"]  # espeak-ng 1.51 alone: n ɪ θ ɹ iː (English "three")
    assert phonemes("你好 love", "zh")[4:] == phonemes("love", "en")


def test_lyrics_lose_their_section_tags_and_punctuation():
    lyrics = "[verse]\nPaper planes, over the river!\n\n[inst]\n\n[chorus]\n(Oh) fly — away...\n"
    assert lyric_text(lyrics) == "Paper planes, over the river!\n(Oh) fly — away..."
    assert plain_words(lyric_text(lyrics)) == "paper planes over the river oh fly away"
    assert phonemes(lyric_text(lyrics), "en") == phonemes("paper planes over the river oh fly away", "en")
    assert "verse" not in plain_words(lyric_text(lyrics))


@pytest.mark.parametrize("language", sorted(LINES))
def test_error_rates_are_zero_for_the_lyrics_and_grow_with_each_mistake(language):
    line = LINES[language]
    assert phoneme_error_rate(line, line, language) == 0 and word_error_rate(line, line, language) == 0
    half = line[: len(line) // 2]
    assert 0 < phoneme_error_rate(line, half, language) < 1
    assert phoneme_error_rate(line, "", language) == 1.0


def test_chinese_and_japanese_count_characters_other_languages_words():
    assert word_error_rate("夏天的风", "夏天的雨", "zh") == pytest.approx(1 / 4)  # one character in four
    assert word_error_rate("paper planes over the river", "paper planes over a river", "en") == pytest.approx(1 / 5)
    assert phoneme_error_rate("夏天的风", "夏天的雨", "zh") == pytest.approx(2 / 8)  # f eng1 -> y u3


def test_the_best_pass_is_the_lowest_per_and_the_first_of_equals():
    # A scripted transcriber stands in for the ASR here (the passes' bookkeeping is under test, not hearing):
    # the real ASRs go through the same `judge` in test_judge_asr.py and test_intelligibility_step.py.
    heard = {0: "paper cranes over a liver", 1: "paper planes over the river", 2: "paper planes over the river"}
    calls = []

    def transcribe(audio, language, temperature, seed):
        calls.append((temperature, seed))
        return heard[seed]

    result = judge(None, LINES["en"], "en", transcribe, passes=3, temperature_step=0.3)
    assert calls == [(0.0, 0), (0.3, 1), (0.6, 2)]
    assert result.best is result.passes[1] and result.best.per == 0 and result.passes[0].per > 0
    assert result.to_dict()["per"] == 0 and [p["seed"] for p in result.to_dict()["passes"]] == [0, 1, 2]
    assert pass_temperatures(4, 0.4) == [0.0, 0.4, 0.8, 1.0]
