"""The intelligibility step: the last vocal stem the plan made, transcribed by an ASR, held against the song's lyrics
as phoneme and word error rates (songforge.judge.intelligibility), the best of `passes` ASR passes kept.

Opt-in (no ASR weights exist on a fresh machine): a song or the album's defaults writes `intelligibility: {}` (Whisper
large-v3, `songforge models pull whisper-large-v3`), or `intelligibility: {asr: NAME_OR_FOLDER, passes: 4}`;
`asr: pocketsphinx` needs no download (English only, and far weaker than Whisper). A song without lyric lines
(instrumental sections only) gets `per: None`, with `per_note` saying why.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import Field

from ..artifacts import StageOutput, output
from ..audio.io import read_audio, to_mono
from ..errors import ParamsError
from ..judge import asr
from ..judge.folders import identity, need
from ..judge.intelligibility import judge, wer_unit
from ..judge.phonemes import lyric_text, phonemes
from ..params import Frozen
from ..paths import write_json
from ..registry import register_step
from ..step import Inputs, Progress, Step

NO_LYRICS = "no lyric lines to hear (an instrumental song): PER and WER do not apply"


class IntelligibilitySettings(Frozen):
    """What a song may set for its lyric intelligibility."""

    asr: str = Field(asr.WHISPER, min_length=1, description="a catalogue name (`songforge models pull NAME`), the "
                     "folder of a transformers ASR checkpoint, or pocketsphinx (offline, English only)")
    passes: int = Field(1, ge=1, le=8, description="ASR passes, 1 to 8; the lowest PER is kept (the first pass is "
                        "greedy, each further one samples temperature_step hotter); WildSongBench uses 4")
    temperature_step: float = Field(0.2, gt=0, le=1, description="how much hotter each further pass samples, "
                                    "above 0 and at most 1")


class IntelligibilityCall(Frozen):
    """What a song's error rates depend on: the settings, the sung text and its language, the ASR's identity."""

    settings: IntelligibilitySettings
    language: str
    lyrics: str
    asr_identity: str


def intelligibility_call(song: Any, album: Any) -> IntelligibilityCall | None:
    """The song's judgement, or None (not asked for). ParamsError, before anything runs, for pocketsphinx on a song
    that is not in English."""
    settings = song.steps.get("intelligibility")
    if settings is None:
        return None
    if settings.asr == asr.POCKETSPHINX and song.language != "en":
        raise ParamsError("intelligibility.asr", f"is pocketsphinx, which hears English only, and the song is in "
                          f"'{song.language}'", f"use asr: {asr.WHISPER} (or another multilingual checkpoint)")
    ident = (f"pocketsphinx-{version('pocketsphinx')}" if settings.asr == asr.POCKETSPHINX
             else identity(settings.asr, asr.NEEDED))
    return IntelligibilityCall(settings=settings, language=song.language, lyrics=lyric_text(song.lyrics),
                               asr_identity=ident)


def judge_lyrics(call: IntelligibilityCall, inputs: Inputs, folder: Path,
                 progress: Progress | None = None) -> StageOutput:
    """intelligibility.json (every pass's transcript and rates, the ASR and its licence); the data are the song's
    `per` and `wer` (None, with `per_note`, for a song without lyrics)."""
    s = call.settings
    record = {"asr": s.asr, "asr_identity": call.asr_identity, "licence": str(asr.asr_licence(s.asr)),
              "language": call.language, "lyrics": call.lyrics}
    if not phonemes(call.lyrics, call.language):
        data = {"per": None, "wer": None, "wer_unit": wer_unit(call.language), "per_note": NO_LYRICS}
        return output("intelligibility", data, intelligibility=write_json(folder / "intelligibility.json",
                                                                          {**record, **data}))
    audio, _ = read_audio(inputs["vocals"].path("vocals"), asr.SAMPLE_RATE)
    with asr.loaded_asr(s.asr) as transcribe:
        result = judge(to_mono(audio), call.lyrics, call.language, transcribe, s.passes, s.temperature_step)
    data = {"per": result.best.per, "wer": result.best.wer, "wer_unit": result.wer_unit}
    return output("intelligibility", data, intelligibility=write_json(folder / "intelligibility.json",
                                                                      {**record, **result.to_dict()}))


def models(call: IntelligibilityCall) -> list:
    """The ASR folder, named by the check before any run when it is not pulled (pocketsphinx ships its model)."""
    return [] if call.settings.asr == asr.POCKETSPHINX else [need("intelligibility", call.settings.asr, asr.NEEDED)]


STEP = register_step(Step(
    name="intelligibility", version="1", phase="measure", params=intelligibility_call, run=judge_lyrics,
    settings=IntelligibilitySettings, reads=("vocals",), makes=("intelligibility",), artifacts=("intelligibility",),
    metrics=True, metric_names=("per", "wer"), loads_models=True,
    licence=lambda call: asr.asr_licence(call.settings.asr), models=models))
