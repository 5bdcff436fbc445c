"""The sketch engine's own params: a few knobs over form, feel, band and balance."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import EngineParams

VocalProgram = Literal["auto", "choir_aahs", "voice_oohs", "synth_voice"]


class SketchParams(EngineParams):
    """Params of the sketch engine; `{}` is valid and gives a fitted, genre-styled guide track."""

    sample_rate: Literal[44100] = 44100
    bars_per_line: Literal[1, 2, 4] | None = Field(
        None, description="bars each lyric line gets; None fits the lines to the song's duration_s")
    swing: float | None = Field(
        None, ge=0, le=1, description="off-beat eighth delay, 0 straight .. 1 triplet; None picks by genre")
    humanize: float = Field(0.5, ge=0, le=1, description="timing and velocity looseness, 0 = quantised")
    drums: bool = True
    vocal_program: VocalProgram = Field("auto", description="GM voice for the guide vocal; auto reads the voice tags")
    sing_words: bool = Field(
        True, description="festival sings the lyrics where it has the language's voice (en, it); false: the GM "
        "synth voice plays the melody without words (a cleaner pitch guide, e.g. for MusicGen-Melody's chroma)")
    vocal_balance_db: float = Field(
        0.0, ge=-12, le=12, description="guide vocal loudness relative to the instrumental, in LU")
    reverb_wet: float = Field(0.15, ge=0, le=1, description="room reverb on the instrumental, 0 = dry")
    temperature: float = Field(
        1.0, gt=0, le=2, description="melodic and rhythmic variety of the composer: low = safest choices, 1 = default")
