"""Lyric intelligibility: how far what an ASR hears in a vocal is from the lyrics, as phoneme and word error rates,
the best of several ASR passes kept (as WildSongBench does: each candidate's PER is the lowest of its passes).

PER: the edit distance between the phonemes of the transcript and of the lyrics (songforge.judge.phonemes), over
the lyrics' phoneme count (jiwer's WER over phoneme tokens). WER: jiwer's word error rate over plain words; for
Chinese and Japanese, written without spaces between words, the character error rate (jiwer's CER over the
characters, spaces dropped), as the field reports them; `wer_unit` says which. Both are ratios (0 = every phoneme
heard as written; above 1 when the ASR hears more than was written).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from .phonemes import phonemes, plain_words

CHARACTER_LANGUAGES = ("zh", "ja")  # written without spaces: error rates over characters


@dataclass(frozen=True)
class Heard:
    """One ASR pass: its temperature and seed, the transcript, and its error rates against the lyrics."""

    temperature: float
    seed: int
    transcript: str
    per: float
    wer: float


@dataclass(frozen=True)
class Intelligibility:
    """The best pass (lowest PER; the first of equals) and every pass, in order."""

    best: Heard
    passes: tuple[Heard, ...]
    wer_unit: str  # "word", or "character" for zh and ja

    def to_dict(self) -> dict[str, Any]:
        return {"per": self.best.per, "wer": self.best.wer, "wer_unit": self.wer_unit,
                "transcript": self.best.transcript, "passes": [asdict(heard) for heard in self.passes]}


def wer_unit(language: str) -> str:
    return "character" if language in CHARACTER_LANGUAGES else "word"


def phoneme_error_rate(lyrics: str, transcript: str, language: str) -> float:
    """PER of `transcript` against `lyrics` (plain text, any punctuation); ValueError if the lyrics have no phonemes."""
    import jiwer

    written = phonemes(lyrics, language)
    if not written:
        raise ValueError("the lyrics have no phonemes to hear")
    return float(jiwer.wer(" ".join(written), " ".join(phonemes(transcript, language))))


def word_error_rate(lyrics: str, transcript: str, language: str) -> float:
    """WER (CER for zh and ja) of `transcript` against `lyrics`, both lower-cased with punctuation dropped."""
    import jiwer

    written, heard = plain_words(lyrics), plain_words(transcript)
    if language in CHARACTER_LANGUAGES:
        return float(jiwer.cer(written.replace(" ", ""), heard.replace(" ", "")))
    return float(jiwer.wer(written, heard))


def pass_temperatures(passes: int, step: float) -> list[float]:
    """Pass 1 greedy (0), then each pass `step` hotter, at most 1."""
    return [min(round(n * step, 6), 1.0) for n in range(passes)]


def judge(audio: np.ndarray, lyrics: str, language: str, transcribe: Callable[..., str], passes: int = 1,
          temperature_step: float = 0.2) -> Intelligibility:
    """Transcribe 16 kHz mono `audio` (samples,) `passes` times (seed = pass index) and keep the lowest PER against
    `lyrics` (plain sung text). `transcribe(audio, language, temperature, seed) -> text` (songforge.judge.asr)."""
    heard = []
    for seed, temperature in enumerate(pass_temperatures(passes, temperature_step)):
        text = transcribe(audio, language, temperature, seed)
        heard.append(Heard(temperature, seed, text, phoneme_error_rate(lyrics, text, language),
                           word_error_rate(lyrics, text, language)))
    best = min(heard, key=lambda one: one.per)  # min keeps the first of equals
    return Intelligibility(best, tuple(heard), wer_unit(language))
