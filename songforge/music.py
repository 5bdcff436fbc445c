"""Pitch classes, keys and note names shared by params, engines and measurements."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10, "Cb": 11, "Fb": 4}
_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])([#b♯♭]?)\s*(major|minor|maj|min|m|M)?\s*$"
)

Mode = Literal["major", "minor"]
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class Key:
    """A musical key: tonic pitch class (0 = C) and mode."""

    tonic: int
    mode: Mode

    @classmethod
    def parse(cls, text: str) -> "Key":
        """Parse 'A minor', 'Am', 'F# major', 'Bb', 'C#m'; raise ValueError otherwise."""
        match = _KEY_RE.match(text)
        if not match:
            raise ValueError(f"'{text}' is not a key")
        letter, accidental, mode = match.groups()
        name = letter.upper() + accidental.replace("♯", "#").replace("♭", "b")
        tonic = _FLATS[name] if name in _FLATS else NOTE_NAMES.index(name.replace("E#", "F").replace("B#", "C"))
        minor = mode in ("minor", "min", "m")
        return cls(tonic % 12, "minor" if minor else "major")

    @property
    def name(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"

    @property
    def scale(self) -> tuple[int, ...]:
        """Pitch classes of the key's scale (natural minor for minor keys)."""
        steps = MAJOR_SCALE if self.mode == "major" else NATURAL_MINOR_SCALE
        return tuple((self.tonic + s) % 12 for s in steps)

    def __str__(self) -> str:
        return self.name


def midi_to_name(midi: int) -> str:
    """60 -> 'C4' (scientific pitch notation)."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def hz_to_midi(hz: float) -> float:
    import math

    return 69.0 + 12.0 * math.log2(hz / 440.0)


def midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
