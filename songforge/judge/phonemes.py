"""Sung words as phonemes, for the intelligibility judge: lyrics made plain text (section tags and punctuation gone),
and text of any language YuE sings (en, zh, ja, ko; and it) turned into phoneme sequences by espeak-ng.

phonemizer drives espeak-ng (Debian `espeak-ng`) with the song language's voice (LANGUAGE_VOICES). Two scripts go
through a reading first, the same way for lyrics and transcripts:
- Japanese kanji become kana through pykakasi (espeak-ng reads kana, and names each kanji as "Chinese letter");
- Chinese becomes pinyin with tone digits through pypinyin, then initials and tonal finals are its phonemes:
  espeak-ng 1.51's Mandarin dictionary (Debian 12) reads most hanzi as their pinyin spelled out in English
  ("你" -> n ɪ θ ɹ iː), which is no phoneme sequence of the song. Initial + tonal final is the unit Mandarin
  lyric error rates are counted in.
Stress and length marks are dropped (a sung syllable's stress is the melody's), so `ˈa` and `a` are one phoneme.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from ..lyrics import parse_lyrics

LANGUAGE_VOICES = {"en": "en-us", "zh": "cmn", "ja": "ja", "ko": "ko", "it": "it"}
_MARKS = str.maketrans("", "", "ˈˌːˑ")  # espeak-ng's stress and length marks
_SPACE = re.compile(r"\s+")


def lyric_text(lyrics: str) -> str:
    """The sung words of YuE-format lyrics, one line per lyric line: section tags and empty sections dropped."""
    return "\n".join(line for section in parse_lyrics(lyrics).sections for line in section.lines)


def plain_words(text: str) -> str:
    """`text` lower-cased, with punctuation and symbols (any script's) replaced by spaces, spaces collapsed."""
    kept = "".join(" " if unicodedata.category(char)[0] in "PSZC" else char for char in text.lower())
    return _SPACE.sub(" ", kept).strip()


def phonemes(text: str, language: str) -> list[str]:
    """The phonemes of `text` (any punctuation) in `language` (our code: en, zh, ja, ko, it), in order; [] for text
    with no words. Words in another script (English in a Korean line) are read by espeak-ng's own language switch."""
    words = plain_words(text)
    if not words:
        return []
    if language == "zh":
        return _mandarin(words)
    if language == "ja":
        words = _kana(words)
    return [phone.translate(_MARKS) for phone in _espeak(words, voice(language)).split()
            if phone.translate(_MARKS)]


def voice(language: str) -> str:
    """espeak-ng's voice for one of our language codes; ValueError naming the choices otherwise."""
    if language not in LANGUAGE_VOICES:
        raise ValueError(f"no espeak-ng voice for language '{language}' (known: {', '.join(LANGUAGE_VOICES)})")
    return LANGUAGE_VOICES[language]


_ESPEAK = threading.Lock()


@lru_cache(maxsize=8)
def _backend(voice: str):
    """One espeak-ng backend per voice (loading the voice costs more than reading a line)."""
    from phonemizer.backend import EspeakBackend

    return EspeakBackend(voice, language_switch="remove-flags", preserve_punctuation=False, with_stress=False)


def _espeak(words: str, voice: str) -> str:
    """Phonemes separated by spaces (word bounds too: they are not phonemes)."""
    from phonemizer.separator import Separator

    with _ESPEAK:  # one espeak-ng library per process, not thread-safe: two steps on two GPU slots take turns
        found = _backend(voice).phonemize([words], separator=Separator(phone=" ", word=" | ", syllable=""),
                                          strip=True, njobs=1)
    return found[0].replace("|", " ") if found else ""


def _kana(words: str) -> str:
    """Japanese with every kanji replaced by its hiragana reading (pykakasi's dictionary guess; kana kept)."""
    import pykakasi

    return "".join(part["hira"] if part["orig"] != part["hira"] else part["orig"]
                   for part in pykakasi.kakasi().convert(words))


def _mandarin(words: str) -> list[str]:
    """Initial and tonal final of each hanzi (pinyin, neutral tone 5); other scripts' words read by espeak-ng."""
    from pypinyin import Style, pinyin

    found: list[str] = []
    for chunk in re.split(r"([\u3400-\u9fff\uf900-\ufaff]+)", words):
        if not chunk.strip():
            continue
        if not re.match(r"[\u3400-\u9fff\uf900-\ufaff]", chunk):
            found += phonemes(chunk, "en")  # latin words in a Chinese line are mostly English
            continue
        initials = pinyin(chunk, style=Style.INITIALS, strict=False)
        finals = pinyin(chunk, style=Style.FINALS_TONE3, strict=False, neutral_tone_with_five=True)
        for (initial,), (final,) in zip(initials, finals):
            found += [part for part in (initial, final) if part]
    return found
