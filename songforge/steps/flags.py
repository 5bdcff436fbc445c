"""The flags step: whether the take failed (silence, clipping, ending before its words, voiceless sections, loops),
in every song's plan; `failed` counts the flags raised, flags.json holds each flag's evidence.

A song (or an album's defaults) tunes the thresholds with `flags: {silence: {...}, clipping: {...}, voice: {...},
loop: {...}}` (songforge.flags.settings); without it the defaults apply. Takes selection never keeps a take
whose `failed` is above 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..artifacts import StageOutput, output
from ..audio.io import read_audio
from ..flags.flag import FLAG_NAMES
from ..flags.settings import FlagSettings
from ..lyrics import parse_lyrics
from ..params import Frozen
from ..paths import write_json
from ..registry import register_step
from ..step import Inputs, Progress, Step

STEMS = ("vocals", "instrumental", "engine_mix")


class FlagsCall(Frozen):
    """What a take's flags depend on: the thresholds and the song's lyrics (its written form)."""

    settings: FlagSettings
    lyrics: str


def flags_call(song: Any, album: Any) -> FlagsCall:
    """Always a call: a song without `flags:` settings is judged by the defaults."""
    return FlagsCall(settings=song.steps.get("flags") or FlagSettings(), lyrics=song.sections.text)


def judge(call: FlagsCall, inputs: Inputs, folder: Path, progress: Progress | None = None) -> StageOutput:
    """flags.json ({failed, flags: [{name, raised, summary, evidence}]}); the data are failed, flag_<name> (0/1)
    and flags_note (the raised flags' summaries)."""
    from ..flags.flag import flag_metrics
    from ..flags.judge import judge_take

    def audio(role: str) -> tuple:
        return read_audio(inputs[role].path(role))

    take = json.loads(inputs["take"].path("take").read_text()) if "take" in inputs else None
    stems = {role: audio(role) for role in STEMS if role in inputs}
    flags = judge_take(audio("master"), stems["vocals"], parse_lyrics(call.lyrics), call.settings, take=take,
                       mix=audio("mix") if "mix" in inputs else None, stems=stems)
    metrics = flag_metrics(flags)
    document = {"failed": metrics["failed"], "flags": [flag.to_dict() for flag in flags]}
    return output("flags", metrics, flags=write_json(folder / "flags.json", document))


STEP = register_step(Step(
    name="flags", version="1", phase="measure", params=flags_call, run=judge, settings=FlagSettings,
    reads=("master", "vocals"), may_read=("mix", "take", "instrumental", "engine_mix"), makes=("flags",),
    artifacts=("flags",), metrics=True, metric_names=("failed", *(f"flag_{name}" for name in FLAG_NAMES))))
