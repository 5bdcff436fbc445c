"""Property tests of the lyricist's fit rules (songforge.lyricist.fit) in every language a song may be in.

Lines are built from words whose sung syllables are known in each language, so a test knows each line's count
without asking the counter it checks; hypothesis draws the sections, the line lengths, the bpm and the length.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from songforge.engine.sketch.compose import TAIL_S
from songforge.engine.sketch.form import BEATS_PER_BAR, SYLLABLES_PER_BAR, plan_form
from songforge.lyricist.fit import (MAX_LINE_SYLLABLES, MAX_SECTIONS, fit_problems, fitting_duration_s,
                                    tag_problems, vocal_seconds)
from songforge.lyrics import parse_lyrics
from songforge.params import LANGUAGES

# Per language: words of one, two and three sung syllables (the counts are the language's, checked below).
WORDS = {
    "en": (["light", "hold", "road", "sea"], ["morning", "harbour", "over"], ["tomorrow", "beautiful"]),
    "it": (["sol", "mar", "non", "per"], ["mare", "sole", "cuore", "notte"], ["amore", "domani", "parola"]),
    "zh": (["海", "风", "光", "心"], ["离开", "港口"], ["小城市", "我爱你"]),
    "ja": (["う", "か", "そ"], ["うみ", "そら", "かぜ"], ["さくら", "みなと"]),
    "ko": (["바", "꿈", "별"], ["바다", "하늘"], ["사랑해", "내일도"]),
}
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def line_of(language: str, syllables: int, salt: int = 0) -> str:
    """A line of exactly `syllables` sung syllables in `language` (threes, then twos, then ones)."""
    ones, twos, threes = WORDS[language]
    words, left, k = [], syllables, salt
    for size, pool in ((3, threes), (2, twos), (1, ones)):
        while left >= size and (size == 1 or left - size != 1 or size == 2):
            words.append(pool[k % len(pool)])
            left, k = left - size, k + 1
    return " ".join(words)


def song_text(language: str, verses: list[list[int]], chorus: list[int]) -> str:
    """verse, chorus, verse, chorus, ...: each verse's and the chorus's line lengths in syllables."""
    chorus_text = "[chorus]\n" + "\n".join(line_of(language, n, 7) for n in chorus) + "\n"
    parts = ["[verse]\n" + "\n".join(line_of(language, n, i) for i, n in enumerate(verse)) + "\n" + chorus_text
             for verse in verses]
    return "".join(parts)


@pytest.mark.parametrize("language", LANGUAGES)
def test_words_have_the_counts_the_tests_assume(language):
    from songforge.syllables import line_syllables

    for size, pool in enumerate(WORDS[language], start=1):
        assert all(sum(line_syllables(word, language)) == size for word in pool), (language, pool)
    assert all(sum(line_syllables(line_of(language, n), language)) == n for n in range(1, 20))


sections = st.lists(st.lists(st.integers(3, 10), min_size=2, max_size=6), min_size=2, max_size=3)


@pytest.mark.parametrize("language", LANGUAGES)
@SETTINGS
@given(verses=sections, chorus=st.lists(st.integers(3, 10), min_size=2, max_size=4), bpm=st.integers(60, 180))
def test_a_song_at_its_fitting_duration_keeps_every_rule(language, verses, chorus, bpm):
    text = song_text(language, verses, chorus)
    duration = fitting_duration_s(parse_lyrics(text), language, bpm)
    assert fit_problems(text, language, bpm, duration) == []
    # what the rules promise, checked on the form itself: every line within its bars at the roomy pace
    form = plan_form(parse_lyrics(text), bpm, duration, TAIL_S, None, language)
    for section in form:
        for line in section.lines:
            assert line.n_syllables <= SYLLABLES_PER_BAR * line.beats / BEATS_PER_BAR


@pytest.mark.parametrize("language", LANGUAGES)
@SETTINGS
@given(verses=sections, long=st.integers(MAX_LINE_SYLLABLES + 1, 30), at=st.integers(0, 20), bpm=st.integers(60, 180))
def test_a_line_over_two_bars_of_syllables_is_named(language, verses, long, at, bpm):
    verse = verses[0]
    index = at % len(verse)
    verse[index] = long
    text = song_text(language, verses, [6, 6])
    problems = [p for p in fit_problems(text, language, bpm, 600) if p.rule == "line_syllables"]
    assert [p.where for p in problems] == [f"section 1 [verse] line {index + 1}"]
    assert f"has {long} sung syllables" in problems[0].detail


long_lines = st.lists(st.lists(st.integers(7, 12), min_size=2, max_size=6), min_size=2, max_size=3)


@pytest.mark.parametrize("language", LANGUAGES)
@SETTINGS
@given(verses=long_lines, bpm=st.integers(60, 180), share=st.floats(0.2, 0.8))
def test_lyrics_longer_than_the_song_are_refused_at_its_bpm(language, verses, bpm, share):
    text = song_text(language, verses, [8, 8, 8])
    sung_s = vocal_seconds(parse_lyrics(text), language, bpm)  # lines of 7+ syllables: two bars each at 6 a bar
    assert sung_s == pytest.approx((sum(map(len, verses)) + 3 * len(verses))
                                   * 2 * BEATS_PER_BAR * 60 / bpm)
    problems = fit_problems(text, language, bpm, math.floor(share * sung_s))
    assert {p.rule for p in problems} & {"fits_duration", "line_crowded"}
    # the same lyrics sung faster need less time
    lyrics = parse_lyrics(text)
    assert fitting_duration_s(lyrics, language, min(240, 2 * bpm)) < fitting_duration_s(lyrics, language, bpm)


@pytest.mark.parametrize("language", LANGUAGES)
@SETTINGS
@given(lines=st.integers(2, 4), bpm=st.integers(60, 180))
def test_a_long_song_of_few_lines_asks_for_more(language, lines, bpm):
    text = song_text(language, [[6] * lines], [6, 6])
    bar_s = BEATS_PER_BAR * 60 / bpm
    duration = min(600.0, math.ceil(2 * bar_s * (2 * lines + 4) / 0.4) + 10)  # the lines fill well under 40 %
    problems = [p for p in fit_problems(text, language, bpm, duration) if p.rule == "fills_duration"]
    assert len(problems) == 1 and problems[0].where == "song"


@pytest.mark.parametrize("language", LANGUAGES)
def test_structure_rules_name_the_section(language):
    good = song_text(language, [[6, 6], [6, 6]], [5, 5])
    changed = good.replace("[chorus]", "[refrain_x]", 1).rsplit("[chorus]", 1)
    assert {(p.where, p.rule) for p in fit_problems(changed[0] + "[chorus]" + changed[1], language, 110, 600)
            if p.rule == "section_tag"} == {("section 2 [refrain_x]", "section_tag")}
    last = good.rstrip("\n").rsplit("\n", 1)[0] + "\n" + line_of(language, 4) + "\n"  # the last chorus changed
    found = {(p.where, p.rule) for p in fit_problems(last, language, 110, 60)}
    assert ("section 4 [chorus]", "chorus_repeats") in found
    one = song_text(language, [[6, 6]], [5, 5])
    assert ("song", "chorus_repeats") in {(p.where, p.rule) for p in fit_problems(one, language, 110, 30)}
    many = song_text(language, [[4, 4]] * 6, [4, 4])
    assert ("song", "sections") in {(p.where, p.rule) for p in fit_problems(many, language, 110, 600)}
    assert len(parse_lyrics(many).sections) > MAX_SECTIONS


def test_tags_come_from_the_engine_vocabulary():
    assert tag_problems({"genre": ["folk"], "voice": ["female"], "mood": ["melancholic"]}) == []
    problems = tag_problems({"genre": ["folk", "harbourcore"], "instrument": ["acoustic guitar"]})
    assert [(p.where, p.rule) for p in problems] == [("genre[1]", "tag_vocabulary")]
    assert fit_problems("no tags here", "en", 110, 45)[0].rule == "format"


def test_a_chorus_sung_the_same_is_the_same_whatever_its_case_and_punctuation():
    first = "[verse]\nHold the light over the sea\nHold the road over the sea\n"
    text = (first + "[chorus]\nStay, stay with me\nOver the harbour\n" + first
            + "[chorus]\nstay stay with me!\nOver  the harbour.\n")
    assert "chorus_repeats" not in {p.rule for p in fit_problems(text, "en", 110, 60)}
    other = text.replace("stay stay with me!", "go, go from me")
    assert "chorus_repeats" in {p.rule for p in fit_problems(other, "en", 110, 60)}


def test_the_italian_prompt_counts_as_the_counter_does_each_word_alone():
    from songforge.lyricist.prompts import opening
    from songforge.syllables import line_syllables

    system = opening("it", "il porto")[0]["content"]
    assert "senza sinalefe" in system and '"canta ancora" ha cinque sillabe' in system
    assert sum(line_syllables("canta ancora", "it")) == 5  # no synalepha: what the prompt tells the model
