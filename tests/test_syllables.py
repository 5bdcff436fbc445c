"""Sung syllables counted as a singer counts them, per language and per script.

Every expected count below was counted by hand (by syllable, mora or block), not by the counter.
"""

from __future__ import annotations

import pytest

from songforge import syllables
from songforge.syllables import line_syllables, morae, sung_words


@pytest.mark.parametrize("language, line, per_word", [
    # Chinese: one syllable per character; each character its own word.
    ("zh", "夏天的风吹过海边", [1] * 8),
    ("zh", "我们一起唱", [1] * 5),
    ("zh", "啦啦啦 夏天", [1] * 5),
    # Korean: one syllable per Hangul block; words are the spaced groups.
    ("ko", "사랑해 너를", [3, 2]),  # sa-rang-hae neo-reul
    ("ko", "나는 노래해요", [2, 4]),  # na-neun no-rae-hae-yo
    # Italian: vowel groups, hiatus between strong vowels, i/u glides.
    ("it", "Il paese è bello", [1, 3, 1, 2]),  # il pa-e-se è bel-lo
    ("it", "Aiuto, che noia", [3, 1, 2]),  # a-iu-to che no-ia
    ("it", "Cuore e amore", [2, 1, 3]),  # cuo-re e a-mo-re (no synalepha across words)
    ("it", "l'acqua dov'è", [2, 2]),  # lac-qua do-vè
    # English: vowel groups, silent final e.
    ("en", "Hello beautiful world", [2, 3, 1]),
    ("en", "City lights are fading into morning", [2, 1, 1, 2, 2, 2]),
    ("en", "Hold on, hold on", [1, 1, 1, 1]),
    ("en", "Make a promise", [1, 1, 2]),  # make (silent e), a, pro-mise
])
def test_hand_counted_lines(language, line, per_word):
    assert line_syllables(line, language) == per_word


@pytest.mark.parametrize("kana, expected", [
    ("きょうはいっしょにうたおう", ["きょ", "う", "は", "い", "っ", "しょ", "に", "う", "た", "お", "う"]),
    ("ラーメン", ["ラ", "ー", "メ", "ン"]),  # the long mark and ン are morae of their own
    ("チョコレート", ["チョ", "コ", "レ", "ー", "ト"]),
    ("ファンタジー", ["ファ", "ン", "タ", "ジ", "ー"]),  # small ァ joins フ
    ("がっこう", ["が", "っ", "こ", "う"]),  # small っ is a mora
])
def test_kana_count_morae_as_singers_do(kana, expected):
    assert list(morae(kana)) == expected
    assert sum(line_syllables(kana, "ja")) == len(expected)
    assert sum(line_syllables(kana, "zh")) == len(expected)  # kana read the same in any song


def test_kanji_are_read_through_pykakasi_in_a_japanese_song():
    pytest.importorskip("pykakasi", reason="pykakasi is a project dependency: pip install -e .")
    words = sung_words("夏の空に歌う", "ja")
    # na-tsu no so-ra ni u-ta-u: 9 morae
    assert sum(len(w.syllables) for w in words) == 9
    assert [w.text for w in words] == ["夏", "の", "空", "に", "歌う"]
    assert words[0].syllables == ("な", "つ")
    assert sum(line_syllables("東京タワー", "ja")) == 7  # to-u-kyo-u ta-wa-a


def test_without_a_reading_library_each_kanji_counts_one(monkeypatch):
    monkeypatch.setattr(syllables, "_reader", lambda: None)
    assert sum(line_syllables("夏の空に歌う", "ja")) == 6  # 夏 の 空 に 歌 う


def test_a_kanji_outside_the_readers_dictionary_still_counts():
    pytest.importorskip("pykakasi")
    # pykakasi drops 𠮷 (U+20BB7): it counts one, 野家 no-e two, へ one.
    assert sum(line_syllables("𠮷野家へ", "ja")) == 4


@pytest.mark.parametrize("line", ["1 2 3 4", "♪ ♪ ♪", "!!! ... 2024 ---", "♪♪ 123 ★"])
def test_digits_and_symbols_are_not_sung(line):
    for language in ("en", "zh", "ja", "ko", "it"):
        assert line_syllables(line, language) == [] and sung_words(line, language) == []


def test_the_song_language_picks_the_latin_rule_and_the_kanji_reading():
    assert line_syllables("cuore paese", "it") == [2, 3]
    assert line_syllables("cuore paese", "en") == [1, 1]  # English drops the final e
    assert sum(line_syllables("歌う", "zh")) == 2  # a character, a kana
    pytest.importorskip("pykakasi")
    assert sum(line_syllables("歌う", "ja")) == 3  # u-ta-u


def test_mixed_scripts_count_by_script_per_token():
    assert line_syllables("我爱你 baby", "zh") == [1, 1, 1, 2]  # wo ai ni ba-by
    assert line_syllables("love你", "zh") == [1, 1]
    assert line_syllables("사랑해 my love", "ko") == [3, 1, 1]
    assert line_syllables("Amore 夏天 bella", "it") == [3, 1, 1, 2]  # a-mo-re xia tian bel-la


def test_words_keep_their_text_and_syllables_for_singing():
    words = sung_words("Hello, 夏天 ラーメン!", "zh")
    assert [w.text for w in words] == ["Hello", "夏", "天", "ラーメン"]
    assert [w.syllables for w in words] == [("Hel", "lo"), ("夏",), ("天",), ("ラ", "ー", "メ", "ン")]
    # fullwidth letters and halfwidth kana are read after NFKC
    assert line_syllables("ＨＥＬＬＯ ｶﾞｯｺｳ", "ja") == [2, 4]
