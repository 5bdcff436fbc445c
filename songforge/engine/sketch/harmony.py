"""Diatonic chords and per-section progressions in a key (harmonic-minor dominant in minor keys)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...music import NOTE_NAMES, Key

_QUALITY_STEPS = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6)}
_QUALITY_SUFFIX = {"maj": "", "min": "m", "dim": "dim"}

# Roman numeral -> (semitones above the tonic, quality). Minor keys borrow the harmonic-minor
# dominant 'V': its leading tone is the strongest cue a listener (or a key finder) has for minor.
_NUMERALS = {
    "major": {"I": (0, "maj"), "ii": (2, "min"), "iii": (4, "min"), "IV": (5, "maj"),
              "V": (7, "maj"), "vi": (9, "min"), "viio": (11, "dim")},
    "minor": {"i": (0, "min"), "iio": (2, "dim"), "III": (3, "maj"), "iv": (5, "min"),
              "v": (7, "min"), "V": (7, "maj"), "VI": (8, "maj"), "VII": (10, "maj")},
}

# Four-bar templates per section kind; a song picks one per kind so repeated sections repeat.
# Bridges avoid the tonic for contrast; intros and outros lean on it so the key is clear. Minor
# templates favour chords holding the minor third (i, III, VI), the cue that tells minor from major;
# major templates lean on IV and ii (the fourth degree tells the key from its dominant's key).
_TEMPLATES = {
    "major": {
        "intro": ("I IV I V", "I V IV I", "I vi IV V"),
        "verse": ("I V vi IV", "I vi IV V", "I IV vi V", "I IV ii V"),
        "prechorus": ("IV V IV V", "ii IV ii V", "vi IV ii V"),
        "chorus": ("I V vi IV", "IV I V I", "I IV I V", "I vi IV V"),
        "bridge": ("vi IV ii V", "IV V vi IV", "ii IV vi V", "vi IV vi V"),
        "instrumental": ("I V vi IV", "I IV I V", "IV I V I"),
        "outro": ("I IV V I", "IV V I I", "I IV I I"),
    },
    "minor": {
        "intro": ("i VI III V", "i iv III V", "i VI iv V"),
        "verse": ("i VI III VII", "i III VI V", "i iv III VI", "i VI iv V"),
        "prechorus": ("VI III iv V", "iv VI III V", "VI VII III V"),
        "chorus": ("i VI III VII", "i III VI V", "i iv VI V", "VI III i V"),
        "bridge": ("VI III VII iv", "iv VII III VI", "VI VII III iv"),
        "instrumental": ("i VI III V", "i VI iv V", "i III iv V"),
        "outro": ("iv V i i", "VI V i i", "i iv i i"),
    },
}


@dataclass(frozen=True)
class Chord:
    """A triad: root pitch class (0 = C), quality and its numeral in the key."""

    root: int
    quality: str
    numeral: str

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """Root, third, fifth as pitch classes."""
        return tuple((self.root + step) % 12 for step in _QUALITY_STEPS[self.quality])

    @property
    def name(self) -> str:
        return NOTE_NAMES[self.root] + _QUALITY_SUFFIX[self.quality]


def chord(key: Key, numeral: str) -> Chord:
    """The chord a Roman numeral names in `key` ('V' in a minor key is the harmonic-minor major V)."""
    offset, quality = _NUMERALS[key.mode][numeral]
    return Chord((key.tonic + offset) % 12, quality, numeral)


def tonic_chord(key: Key) -> Chord:
    return chord(key, "I" if key.mode == "major" else "i")


def dominant_chord(key: Key) -> Chord:
    return chord(key, "V")


def pick_templates(key: Key, rng: np.random.Generator) -> dict[str, tuple[Chord, ...]]:
    """One four-chord progression per section kind, chosen with `rng`."""
    picked = {}
    for kind, options in _TEMPLATES[key.mode].items():
        numerals = options[int(rng.integers(len(options)))].split()
        picked[kind] = tuple(chord(key, n) for n in numerals)
    return picked


def section_chords(template: tuple[Chord, ...], bars: int, key: Key, turnaround: bool, final: bool) -> list[Chord]:
    """One chord per bar, cycling `template`.

    `turnaround` ends the section on the dominant (the next section starts on the tonic);
    `final` ends it on the tonic (the song's last section).
    """
    chords = [template[bar % len(template)] for bar in range(bars)]
    if final and chords:
        chords[-1] = tonic_chord(key)
        if bars >= 2 and chords[-2] == chords[-1]:
            chords[-2] = dominant_chord(key)
    elif turnaround and bars >= 2:
        chords[-1] = dominant_chord(key)
    return chords
