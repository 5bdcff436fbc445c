"""What Festival sings each lyric word as: its own pronunciation, in exactly the word's syllables.

The melody numbers the syllables of songforge.syllables; Festival's lexicon (or its letter-to-sound
rules) may count a word otherwise (every: ev-ery / e-ve-ry). Each word is given to Festival as a
token of its own whose lexicon entry is Festival's pronunciation regrouped into the word's syllables
(`fit_syllables`), so the two never fall out of step and the words still sound as Festival says them.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from ...syllables import Word
from .festival import parse_sexpr, run_script, scheme_string

FILLER_WORD = "la"  # a word with no Latin letters (e.g. a kanji in an English song) is sung on 'la'
_SCHWA = "ax"  # a syllable added to a word is built on it where the phone set has it
Syllable = tuple[tuple[str, ...], str]  # (phones, stress mark as Festival writes it)


def fit_syllables(syllables: list[Syllable], n: int, vowels: frozenset[str]) -> list[Syllable]:
    """Festival's syllables of a word regrouped into `n`, every phone kept in order.

    Too many: the boundary whose next syllable has the shortest onset merges first (later ones
    first among equals): fi-re -> fire, i-de-a -> i-dea. Too few: a syllable is added at the
    longest coda inside the word, which becomes its onset, on a schwa (ev-ery -> e-ve-ry); with
    no coda inside the word, its last vowel is sung again.
    """
    fitted = [(tuple(phones), stress) for phones, stress in syllables if phones]
    while len(fitted) > n:
        j = min(range(len(fitted) - 1), key=lambda k: (_onset(fitted[k + 1][0], vowels), -k))
        (left, stress), (right, other) = fitted[j], fitted[j + 1]
        fitted[j:j + 2] = [(left + right, max(stress, other))]
    while len(fitted) < n:
        codas = [_coda(phones, vowels) for phones, _ in fitted[:-1]]
        if not any(codas):
            fitted.append(((_last_vowel(fitted, vowels),), "0"))
            continue
        j = max(range(len(codas)), key=lambda k: (codas[k], k))
        phones, stress = fitted[j]
        cut = len(phones) - codas[j]
        filler = _SCHWA if _SCHWA in vowels else _last_vowel(fitted[j:j + 1], vowels)
        fitted[j:j + 1] = [(phones[:cut], stress), (phones[cut:] + (filler,), "0")]
    return fitted


def _onset(phones: tuple[str, ...], vowels: frozenset[str]) -> int:
    """Consonants before the syllable's first vowel."""
    return next((i for i, p in enumerate(phones) if p in vowels), len(phones))


def _coda(phones: tuple[str, ...], vowels: frozenset[str]) -> int:
    """Consonants after the syllable's last vowel (0 for a syllable with no vowel: nothing to split off)."""
    last = max((i for i, p in enumerate(phones) if p in vowels), default=None)
    return 0 if last is None else len(phones) - last - 1


def _last_vowel(fitted: list[Syllable], vowels: frozenset[str]) -> str:
    return next((p for phones, _ in reversed(fitted) for p in reversed(phones) if p in vowels), fitted[-1][0][-1])


def spoken_form(word: Word, accents: bool = False) -> str:
    """The word as Festival's lexicon should look it up: lower case, letters and inner apostrophes only, letters
    folded to ASCII (`accents`: to Latin-1, for Italian, whose rules read the accents); 'la' without letters."""
    text = unicodedata.normalize("NFKC", word.text).lower().replace("\u2019", "'")
    kept = []
    for char in text:
        if char.isalpha():
            if char.isascii() or (accents and char.encode("latin-1", errors="ignore")):
                kept.append(char)
            else:
                kept.append(unicodedata.normalize("NFKD", char)[0].encode("ascii", errors="ignore").decode())
        elif char == "'" and kept:
            kept.append(char)
    return "".join(kept).strip("'") or FILLER_WORD


def lexicon(words: list[Word], voice: str, accents: bool,
            workdir: Path) -> tuple[dict[tuple[str, int], str], list[str]]:
    """The tokens Festival sings the words as, by (spoken form, syllables), and the Scheme that adds each to
    its lexicon with Festival's own pronunciation in exactly the word's syllables (`fit_syllables`).
    `accents`: see `spoken_form`."""
    spoken = sorted({spoken_form(word, accents) for word in words} | {FILLER_WORD})
    pronunciations, vowels = _look_up(spoken, voice, workdir)
    keys: dict[tuple[str, int], str] = {}
    entries = []
    for word in words:
        form, n = spoken_form(word, accents), len(word.syllables)
        if (form, n) not in keys:
            keys[form, n] = _key(form, len(keys))
            said = pronunciations.get(form) or pronunciations[FILLER_WORD]
            entries.append(_entry(keys[form, n], fit_syllables(said, n, vowels)))
    return keys, entries


def _look_up(spoken: list[str], voice: str, workdir: Path) -> tuple[dict[str, list[Syllable]], frozenset[str]]:
    """Festival's syllables for each word (its lexicon, else its letter-to-sound rules; none where both fail),
    and its vowels."""
    script = [f"(voice_{voice})",
              "(define (sf_look i w) (unwind-protect (print (list i (car (cddr (lex.lookup w nil)))))"
              " (print (list i nil))))",
              "(print (cadr (assoc 'phones (PhoneSet.description '(phones)))))"]
    script += [f"(sf_look {i} {scheme_string(word)})" for i, word in enumerate(spoken)]
    printed = [line for line in run_script("\n".join(script) + "\n", workdir).splitlines() if line.strip()]
    vowels = frozenset(str(phone[0]) for phone in parse_sexpr(printed[0]) if len(phone) > 1 and phone[1] == "+")
    found: dict[str, list[Syllable]] = {}
    for text in printed[1:]:
        index, syllables = parse_sexpr(text)
        if isinstance(syllables, list) and syllables:
            found[spoken[int(index)]] = [(tuple(phones), str(stress)) for phones, stress in syllables]
    return found, vowels


def _key(spoken: str, index: int) -> str:
    """A token Festival passes to its lexicon untouched: ASCII letters, unique per (word, syllable count)."""
    letters = "".join(c for c in unicodedata.normalize("NFKD", spoken) if c.isascii() and c.isalpha())
    suffix, number = "", index
    while True:  # base-26 index: 'a', 'b', ... keeps every key distinct
        suffix = chr(ord("a") + number % 26) + suffix
        number //= 26
        if number == 0:
            break
    return f"{letters or 'la'}q{suffix}"


def _entry(key: str, syllables: list[Syllable]) -> str:
    body = " ".join(f"(({' '.join(phones)}) {stress})" for phones, stress in syllables)
    return f"(lex.add.entry '({scheme_string(key)} nil ({body})))"
