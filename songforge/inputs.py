"""Audio input files checked when params load: master references and engine prompt audio.

A reference that would ruin every master (too short, sampled low, band-limited) or a prompt that
holds no audio is found here, before generation, not at the master stage hours later. Each check
returns problems (ParamsErrors naming the field, the measured numbers and the fix) and warnings
(text), so the loader can report every problem of a file at once. Lyrics files are text: the
params loader reads them (songforge/params_file.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .audio.loudness import integrated_lufs
from .audio.spectrum import bandwidth_hz
from .confine import Roots, confine
from .errors import AudioError, ParamsError
from .params import EngineParams

# A reference under any of these is refused unless master.allow_poor_reference is true: Matchering
# copies the reference's spectrum, so a band-limited or low-rate reference cuts the master's top end.
MIN_GOOD_REFERENCE_S = 5.0
MIN_REFERENCE_RATE = 32000
MIN_REFERENCE_BANDWIDTH_HZ = 10000.0
MIN_PROMPT_S = 1.0  # an audio prompt window shorter than this gives the model nothing to continue
ANALYSIS_S = 120.0  # content is measured on at most this much from the middle of a file
POOR_REFERENCE_FIX = ("use a full-length, full-band reference (a WAV or FLAC of a finished song at 44.1 or 48 kHz), "
                      "or set 'master.allow_poor_reference: true' to master to this one anyway")


class InputWarning(UserWarning):
    """An input file that works but may disappoint, e.g. a mono reference (the master comes out narrow)."""


@dataclass(frozen=True)
class AudioFacts:
    """What an audio file is: its length, rate and channels, and (when measured) its content."""

    duration_s: float
    sample_rate: int
    channels: int
    bandwidth_hz: float | None = None
    lufs: float | None = None

    def describe(self) -> str:
        """'0.2 s, 8000 Hz, mono, content up to 3,906 Hz'."""
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels} channels")
        parts = [f"{self.duration_s:.1f} s", f"{self.sample_rate} Hz", layout]
        if self.bandwidth_hz is not None:
            parts.append(f"content up to {self.bandwidth_hz:,.0f} Hz")
        return ", ".join(parts)


def audio_facts(path: Path, content: bool = True) -> AudioFacts:
    """Length, rate and channels from the header; with `content`, bandwidth and loudness measured on up to
    ANALYSIS_S from the middle of the file. AudioError when the file cannot be read as audio."""
    try:
        info = sf.info(str(path))
        if not content:
            return AudioFacts(info.frames / info.samplerate, info.samplerate, info.channels)
        span = min(info.frames, int(ANALYSIS_S * info.samplerate))
        audio, rate = sf.read(str(path), frames=span, start=(info.frames - span) // 2, dtype="float32",
                              always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        why = getattr(error, "error_string", None) or str(error)  # libsndfile's reason, without the path again
        raise AudioError(f"cannot be read as audio ({why})") from error
    return AudioFacts(info.frames / info.samplerate, info.samplerate, info.channels,
                      bandwidth_hz(audio, rate), integrated_lufs(audio, rate))


def reference_problems(path: Path, field: str, allow_poor: bool,
                       source: str | None = None) -> tuple[list[ParamsError], list[str]]:
    """A master reference: unusable (unreadable, too short or silent to match, over two channels) is
    always refused; poor (short, low rate, band-limited) refused unless `allow_poor`; mono warned."""
    from .audio.master import MIN_REFERENCE_S, REFERENCE_FIX, SILENCE_LUFS  # audio.master imports params

    fix = REFERENCE_FIX.removeprefix("Fix: ").rstrip(".")
    if not Path(path).is_file():
        return [ParamsError(field, f"'{_name(path)}' does not exist", fix, source)], []
    try:
        facts = audio_facts(path)
    except AudioError as error:
        return [ParamsError(field, f"'{_name(path)}' {error}", fix, source)], []
    name, numbers = _name(path), facts.describe()
    if facts.duration_s < MIN_REFERENCE_S or facts.channels > 2 or not facts.lufs > SILENCE_LUFS:
        why = (f"shorter than {MIN_REFERENCE_S:.0f} s" if facts.duration_s < MIN_REFERENCE_S else
               "more than two channels" if facts.channels > 2 else f"silent ({facts.lufs:.0f} LUFS)")
        return [ParamsError(field, f"'{name}' cannot be mastered to: {numbers}; {why}", fix, source)], []
    poor = [why for bad, why in [
        (facts.duration_s < MIN_GOOD_REFERENCE_S, f"shorter than {MIN_GOOD_REFERENCE_S:.0f} s"),
        (facts.sample_rate < MIN_REFERENCE_RATE, f"sampled under {MIN_REFERENCE_RATE // 1000} kHz"),
        (facts.bandwidth_hz < MIN_REFERENCE_BANDWIDTH_HZ,
         f"content ends below {MIN_REFERENCE_BANDWIDTH_HZ / 1000:g} kHz"),
    ] if bad]
    problem = f"'{name}' would make a poor master: {numbers} ({', '.join(poor)})"
    problems = [ParamsError(field, problem, POOR_REFERENCE_FIX, source)] if poor and not allow_poor else []
    notes = [f"{field}: {problem}; used because allow_poor_reference is true"] if poor and allow_poor else []
    if facts.channels == 1:
        notes.append(f"{field}: '{name}' is mono: the master will be matched to a mono reference and come out "
                     "narrow. A stereo reference gives a stereo master")
    return problems, notes


def prompt_problems(path: Path, field: str, start_s: float, end_s: float,
                    source: str | None = None) -> list[ParamsError]:
    """An engine's audio prompt: it exists, reads as audio, and holds MIN_PROMPT_S in [start_s, end_s)."""
    fix = "point it at a WAV/FLAC/MP3 file (relative paths are read from the folder songforge runs in)"
    if not Path(path).is_file():
        return [ParamsError(field, f"'{_name(path)}' does not exist", fix, source)]
    try:
        facts = audio_facts(path, content=False)
    except AudioError as error:
        return [ParamsError(field, f"'{_name(path)}' {error}", "convert it to WAV or FLAC", source)]
    window_s = min(end_s, facts.duration_s) - start_s
    if window_s < MIN_PROMPT_S:
        return [ParamsError(field, f"'{_name(path)}' ({facts.describe()}) holds {max(0.0, window_s):.1f} s between "
                            f"prompt_start_s {start_s:g} and prompt_end_s {end_s:g}",
                            f"pick a window of at least {MIN_PROMPT_S:g} s inside the file (about 30 s of a chorus "
                            "works best)", source)]
    return []


def engine_input_problems(params: EngineParams, roots: Roots = None) -> list[ParamsError]:
    """Every file an engine's params name, confined to `roots` and checked as an audio prompt; fields relative to
    the song ('engine.params.prompt_audio'). The prompt window comes from the params where the engine has one (YuE)."""
    problems = []
    for name, path in params.file_fields().items():
        field = f"engine.params.{name}"
        try:
            confine(path, roots, field)
        except ParamsError as error:
            problems.append(error)
            continue
        problems += prompt_problems(path, field, getattr(params, "prompt_start_s", 0.0),
                                    getattr(params, "prompt_end_s", math.inf))
    return problems


def _name(path: Path) -> str:
    from .params_file import clip

    return clip(str(path), 200)
