"""`songforge measure`'s work on files: the metrics of a mix and the failure flags judged from the same files.

Silence, clipping and loops come from the mix alone; a take that ends before its lyrics and sections with lyrics
but no voice also need the vocal stem and the take's lyric timeline (the take.json an engine writes beside its
stems). The mix is analysed once (MixAnalysis): its loudness pass and spectrogram serve the metrics and the flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio.analysis import MixAnalysis
from ..audio.io import read_audio
from ..errors import ParamsError
from ..flags.flag import Flag, flag_metrics
from ..flags.judge import judge_take
from ..flags.settings import FlagSettings
from ..lyrics import Lyrics, parse_lyrics
from ..music import Key
from .metrics import SongMetrics, measure_audio

VOICE_FLAGS = ("ends_early", "voiceless_sections")
NEEDS_TIMELINE = "needs the song's lyric timeline: pass --take take.json (written by the engine beside the stems)"
NEEDS_VOCALS = "needs the vocal stem: pass --vocals"


@dataclass(frozen=True)
class FileCheck:
    """The metrics of a mix and its flags (FLAG_NAMES order); a flag whose evidence says `skipped` was not checked."""

    metrics: SongMetrics
    flags: list[Flag]

    def to_dict(self) -> dict[str, Any]:
        """The metrics, `failed` and `flag_<name>` (1 raised, 0 not, None not checked), and each flag's record."""
        values = flag_metrics(self.flags)
        checked = {f"flag_{flag.name}": None if "skipped" in flag.evidence else values[f"flag_{flag.name}"]
                   for flag in self.flags}
        return {**self.metrics.to_dict(), "failed": values["failed"], **checked,
                "flags": [flag.to_dict() for flag in self.flags]}


def check_file(path: Path, vocals_path: Path | None = None, take_path: Path | None = None,
               bpm: float | None = None, key: Key | str | None = None, pitch_model: str = "tiny",
               settings: FlagSettings | None = None) -> FileCheck:
    """Measure a mix file and judge its flags; the take file is read (and refused, naming the fix) first."""
    take = read_take(take_path) if take_path is not None else None
    audio, rate = read_audio(Path(path))
    vocals = read_audio(Path(vocals_path)) if vocals_path is not None else None
    analysis = MixAnalysis(audio, rate)
    metrics = measure_audio(audio, rate, *(vocals or (None, None)), bpm=bpm, key=key, pitch_model=pitch_model,
                            analysis=analysis)
    flags = judge_take((audio, rate), vocals, take_lyrics(take), settings or FlagSettings(), take=take,
                       analysis=analysis)
    return FileCheck(metrics, [_unchecked(flag, take, vocals) for flag in flags])


def read_take(path: Path) -> dict[str, Any]:
    """take.json as a dict; a missing or unreadable file is refused with the fix."""
    fix = "pass the take.json an engine wrote beside the song's stems (its sections give the lyric timeline)"
    try:
        take = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ParamsError("--take", f"{path} cannot be read as JSON ({error})", fix) from None
    if not isinstance(take, dict):
        raise ParamsError("--take", f"{path} holds {type(take).__name__}, not a take's JSON object", fix)
    return take


def take_lyrics(take: dict[str, Any] | None) -> Lyrics:
    """The lyrics the take's sections hold (the loop flag allows what they repeat); none without a take."""
    sections = [s for s in (take or {}).get("sections") or [] if isinstance(s, dict) and s.get("lines")]
    text = "".join(f"[{s.get('tag') or 'verse'}]\n" + "".join(f"{line}\n" for line in s["lines"]) for s in sections)
    try:
        return parse_lyrics(text) if text else Lyrics(sections=())
    except ParamsError:  # lines the lyrics parser refuses: judge loops as for a song without lyrics
        return Lyrics(sections=())


def _unchecked(flag: Flag, take: dict[str, Any] | None, vocals: object) -> Flag:
    """The voice flags without a take or a vocal stem: not checked, saying which option would check them."""
    if flag.name not in VOICE_FLAGS or (take is not None and vocals is not None):
        return flag
    need = NEEDS_TIMELINE if take is None else NEEDS_VOCALS
    return Flag(flag.name, False, f"not checked: {need}", {"skipped": need})
