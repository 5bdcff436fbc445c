"""Every failure flag of one take, from its audio, its lyrics and what its engine recorded (take.json)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..audio.analysis import MixAnalysis
from ..lyrics import Lyrics
from .flag import Flag
from .level import detect_clipping, detect_silence
from .loops import detect_loop
from .settings import FlagSettings
from .timeline import lyric_timeline, unsung_sections
from .voice import detect_ends_early, detect_voiceless_sections, vocal_activity

Signal = tuple[np.ndarray, int]
"""Float (samples,) or (samples, channels) audio and its sample rate."""


def judge_take(master: Signal, vocals: Signal | None, lyrics: Lyrics, settings: FlagSettings,
               take: Mapping[str, Any] | None = None, mix: Signal | None = None,
               stems: Mapping[str, Signal] | None = None, analysis: MixAnalysis | None = None) -> list[Flag]:
    """The five flags, in FLAG_NAMES order. Silence is read on the mix when given (mastering lifts a quiet take to
    its target; the mix only ever turns it down), clipping on the master, the mix and each stem (clamps an engine
    made show there, before the mix rescales and the limiter rounds them), the voice on the last vocal stem (not
    checked without one). `analysis`: the master's shared intermediates (loudness, spectrogram) when the caller
    has them (songforge measure)."""
    audio, rate = master
    signals = {"master": master, **({"mix": mix} if mix is not None else {}), **(stems or {})}
    timeline = lyric_timeline(dict(take)) if take else None
    unsung = unsung_sections(dict(take), lyrics) if take else None
    if vocals is not None:
        activity = vocal_activity(*vocals, settings.voice)
        voice = [detect_ends_early(activity, len(audio) / rate, timeline, unsung, settings.voice),
                 detect_voiceless_sections(activity, timeline, settings.voice)]
    else:
        voice = [Flag(name, False, "not checked: no vocal stem", {"skipped": "no vocal stem was given"})
                 for name in ("ends_early", "voiceless_sections")]
    silence = (detect_silence(*mix, settings.silence) if mix is not None else
               detect_silence(audio, rate, settings.silence, analysis.loudness if analysis is not None else None))
    return [
        silence,
        detect_clipping({name: s[0] for name, s in signals.items()}, {name: s[1] for name, s in signals.items()},
                        settings.clipping),
        *voice,
        detect_loop(audio, rate, lyrics, settings.loop, analysis),
    ]
