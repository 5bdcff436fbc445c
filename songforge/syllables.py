"""Sung syllables of lyric lines, counted by script as a singer counts them: the one syllabification engines share.

A line is cut at whitespace into tokens, and each token into runs of one script; digits,
punctuation and symbols are never sung. Per run:

- Han characters (漢字/汉字): one syllable each, each its own word. In a Japanese song
  (`language: ja`) kanji and kana are read together through pykakasi and count the morae of
  their reading; without pykakasi each kanji counts one.
- Kana: morae. A small kana (ゃゅょぁぃぅぇぉゎ and katakana ャュョァィゥェォヮ) joins the kana
  before it; っ/ッ, the long mark ー and ん/ン are morae of their own.
- Hangul: one syllable per syllable block.
- Latin letters: vowel groups. English (any language but `it`): a silent final 'e' is
  dropped, at least one. Italian: see `_italian_nuclei`.
- Other letters (Cyrillic, Greek, ...): one syllable per run.

Every word is counted alone: vowels merging across words (synalepha) are left to the singer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import Callable, Iterator

_SMALL_KANA = set("ぁぃぅぇぉゃゅょゎゕゖァィゥェォャュョヮㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ")  # not ヵ/ヶ: they read ka/ke
_HAN_MARKS = set("々〆〇")  # iteration mark, shime, ideographic zero: written and sung as a kanji
_EN_VOWELS = set("aeiouyæœø")
_IT_VOWELS = set("aeiouy")


@dataclass(frozen=True)
class Word:
    """A sung word: its text as written (in NFKC) and the text of each syllable, in order."""

    text: str
    syllables: tuple[str, ...]


def sung_words(line: str, language: str = "en") -> list[Word]:
    """The words of a lyric line that are sung, each with its syllables; digits and symbols are left out."""
    words: list[Word] = []
    for token in unicodedata.normalize("NFKC", line).split():
        for script, text in _runs(token, japanese=language == "ja"):
            words += _WORDS[script](text, language)
    return [w for w in words if w.syllables]


def line_syllables(line: str, language: str = "en") -> list[int]:
    """Syllables per sung word of a lyric line (words with none are left out)."""
    return [len(word.syllables) for word in sung_words(line, language)]


def _script(char: str) -> str | None:
    """The script class of a character: han, kana, hangul, latin, other, mark; None if never sung."""
    code = ord(char)
    if 0xAC00 <= code <= 0xD7A3:
        return "hangul"
    category = unicodedata.category(char)
    if (0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF) and category in ("Lo", "Lm"):
        return "kana"  # not ・ or ゠ (punctuation) nor the voicing marks ゛゜ (symbols)
    if char in _HAN_MARKS or unicodedata.name(char, "").startswith(("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH")):
        return "han"
    if category.startswith("L"):
        return "latin" if unicodedata.name(char, "").startswith("LATIN") else "other"
    return "mark" if category.startswith("M") else None


def _runs(token: str, japanese: bool) -> Iterator[tuple[str, str]]:
    """(script, text) of each run of one script in a token; unsung characters inside a run stay in its text.

    In a Japanese song kanji and kana form one run ('ja'), so that a reading sees the whole word.
    """
    script, start, end = None, 0, 0
    for index, char in enumerate(token):
        kind = _script(char)
        if kind == "mark" and script is not None:
            end = index + 1  # a combining mark belongs to the letter before it
            continue
        if kind is None or kind == "mark":
            continue
        kind = "ja" if japanese and kind in ("han", "kana") else kind
        if kind != script:
            if script is not None:
                yield script, token[start:end]
            script, start = kind, index
        end = index + 1
    if script is not None:
        yield script, token[start:end]


def morae(kana: str) -> tuple[str, ...]:
    """Morae of a kana string: small kana join the one before; っ, ー and ん count on their own."""
    result: list[str] = []
    for char in kana:
        if char in _SMALL_KANA and result:
            result[-1] += char
        elif _script(char) in ("kana", "han"):
            result.append(char)
    return tuple(result)


def _hangul_words(text: str, language: str) -> list[Word]:
    return [Word(text, tuple(char for char in text if _script(char) == "hangul"))]


def _other_words(text: str, language: str) -> list[Word]:
    return [Word(text, (text,))]


def _japanese_words(text: str, language: str) -> list[Word]:
    """Kanji with kana, read through pykakasi; what it cannot read counts one per kanji and by morae for kana."""
    reader = _reader()
    if reader is None:
        return _cjk_words(text)
    words, done = [], 0
    for chunk in reader(text):
        found = text.find(chunk["orig"], done) if chunk["orig"] else -1
        if found < 0:
            continue
        words += _cjk_words(text[done:found])  # characters the reader skipped (e.g. kanji outside its dictionary)
        reading = chunk["orig"] if all(_script(c) != "han" for c in chunk["orig"]) else chunk["hira"]
        words.append(Word(chunk["orig"], morae(reading) or morae(chunk["orig"])))
        done = found + len(chunk["orig"])
    return words + _cjk_words(text[done:])


def _cjk_words(text: str, language: str = "") -> list[Word]:
    """Kanji and kana without a reading: a word per kanji (one syllable), a word per kana run (its morae)."""
    words = []
    for script, chars in groupby(text, key=_script):
        part = "".join(chars)
        if script == "han":
            words += [Word(char, (char,)) for char in part]
        elif script == "kana":
            words.append(Word(part, morae(part)))
    return words


@lru_cache(maxsize=1)
def _reader() -> Callable[[str], list[dict]] | None:
    """pykakasi's converter (built once: about a second), or None where pykakasi is not installed."""
    try:
        import pykakasi
    except ImportError:
        return None
    return pykakasi.kakasi().convert


def _latin_words(text: str, language: str) -> list[Word]:
    letters = "".join(char for char in text if _script(char) == "latin")
    if not letters:
        return []
    folded = [unicodedata.normalize("NFKD", char)[0].lower() for char in letters]
    if language == "it":
        nuclei = _italian_nuclei(letters, folded)
    else:
        nuclei = _english_nuclei(folded)
    return [Word(text, _split(letters, nuclei))]


def _english_nuclei(folded: list[str]) -> list[tuple[int, int]]:
    """Vowel groups (a e i o u y); a final 'e' after another group is silent unless the word ends in -le or -ee."""
    nuclei = _vowel_groups(folded, _EN_VOWELS)
    word = "".join(folded)
    if len(nuclei) > 1 and word.endswith("e") and not word.endswith(("le", "ee")):
        nuclei.pop()
    return nuclei


def _italian_nuclei(letters: str, folded: list[str]) -> list[tuple[int, int]]:
    """Italian vowel groups, one syllable each, split in two places (both rules only on what is written):

    - between two strong vowels (a, e, o, or any accented vowel): hiatus, as in pa-e-se, po-e-ta;
    - before an unaccented i/u that follows a strong vowel and precedes another vowel: it glides into
      the next syllable, as in a-iu-to, no-ia, ma-ia-le.
    Otherwise i and u join the vowels beside them (diphthongs: cuo-re, pie-no, mai, ac-qua). Stress
    that is not written is not known, so zi-o and po-e-si-a count one syllable less than sung.
    """
    accented = [len(unicodedata.normalize("NFD", char)) > 1 for char in letters]
    strong = [vowel in "aeo" or (vowel in _IT_VOWELS and accent) for vowel, accent in zip(folded, accented)]
    nuclei = []
    for start, end in _vowel_groups(folded, _IT_VOWELS):
        cut = start
        for i in range(start + 1, end):
            hiatus = strong[i - 1] and strong[i]
            glide = not strong[i] and strong[i - 1] and i + 1 < end
            if hiatus or glide:
                nuclei.append((cut, i))
                cut = i
        nuclei.append((cut, end))
    return nuclei


def _vowel_groups(folded: list[str], vowels: set[str]) -> list[tuple[int, int]]:
    """(start, end) of each run of vowels."""
    return [m.span() for m in re.finditer(r"1+", "".join("1" if c in vowels else "0" for c in folded))]


def _split(letters: str, nuclei: list[tuple[int, int]]) -> tuple[str, ...]:
    """The letters cut into one piece per nucleus: a lone consonant between nuclei starts the next
    piece (ca-sa), of several only the last does (tan-to); no nucleus: the whole word is one syllable."""
    if not nuclei:
        return (letters,)
    cuts = [0]
    for (_, end), (start, _) in zip(nuclei, nuclei[1:]):
        cuts.append(max(end, start - 1))
    return tuple(letters[a:b] for a, b in zip(cuts, cuts[1:] + [len(letters)]))


_WORDS: dict[str, Callable[[str, str], list[Word]]] = {
    "han": _cjk_words, "kana": _cjk_words, "hangul": _hangul_words, "latin": _latin_words,
    "other": _other_words, "ja": _japanese_words,
}
