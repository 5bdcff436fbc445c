"""Every measurement of a finished song in one record: `measure_audio` and `measure_file`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..audio.analysis import MixAnalysis
from ..audio.io import read_audio
from ..audio.loudness import true_peak_dbtp
from ..audio.spectrum import bandwidth_hz, clipped_samples, duration_s, rolloff_99_hz, stereo_width
from ..errors import AudioError, ParamsError
from ..music import Key
from .key import estimate_key, key_score
from .pitch import MODELS as PITCH_MODELS, VocalPitch, vocal_pitch
from .rhythm import estimate_tempo, tempo_accuracy1, tempo_accuracy2


@dataclass(frozen=True)
class SongMetrics:
    """Measurements of one mix; a field is None when the input it needs was not given.

    bandwidth_hz is how far the content reaches (the highest frequency above the noise floor),
    rolloff_99_hz where 99 % of the energy lies below. tempo_acc1/acc2 (1.0 or 0.0) and key_score need a requested bpm/key; the vocal fields
    (MIDI note numbers) need a vocal stem. The pitch contour rides along in `pitch` for
    plots but stays out of `to_dict`.
    """

    lufs: float
    true_peak_dbtp: float
    lra_lu: float
    duration_s: float
    bandwidth_hz: float
    rolloff_99_hz: float
    stereo_width: float
    clipped_samples: int
    tempo_bpm: float
    key: str | None
    tempo_acc1: float | None = None
    tempo_acc2: float | None = None
    key_score: float | None = None
    vocal_range_semitones: int | None = None
    vocal_lowest: int | None = None
    vocal_highest: int | None = None
    pitch: VocalPitch | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, float | int | str | None]:
        """Flat, strictly JSON-able dict; non-finite floats (silence's -inf LUFS) become None."""
        return {f.name: _json_safe(getattr(self, f.name)) for f in fields(self) if f.name != "pitch"}


def measure_audio(
    audio: np.ndarray,
    sample_rate: int,
    vocals: np.ndarray | None = None,
    vocals_sample_rate: int | None = None,
    bpm: float | None = None,
    key: Key | str | None = None,
    pitch_model: str = "tiny",
    analysis: MixAnalysis | None = None,
) -> SongMetrics:
    """Measure a mix: (samples,) or (samples, channels) float audio at `sample_rate`.

    Tempo and key are measured on the full mix; the vocal range on `vocals` (its rate
    defaults to `sample_rate`). Every input is checked before any work starts. Pitch
    tracking dominates the cost: about 0.05 s of CPU per second of sung vocals with 'tiny',
    against about 0.01 s per second of mix for everything else. `analysis`: the mix's shared
    intermediates (MixAnalysis of the same audio) when the caller reads more from them (the flags).
    """
    reference_key = _as_key(key)
    _check_audio("audio", audio, sample_rate)
    if vocals is not None:
        _check_audio("vocals", vocals, vocals_sample_rate or sample_rate)
    _check_request(bpm, pitch_model)
    analysis = analysis if analysis is not None else MixAnalysis(audio, sample_rate)
    tempo = estimate_tempo(audio, sample_rate, analysis)
    found_key = estimate_key(audio, sample_rate, analysis=analysis)
    pitch = vocal_pitch(vocals, vocals_sample_rate or sample_rate, pitch_model) if vocals is not None else None
    return SongMetrics(
        lufs=analysis.loudness.integrated_lufs,
        true_peak_dbtp=true_peak_dbtp(audio, sample_rate),
        lra_lu=analysis.loudness.lra_lu,
        duration_s=duration_s(audio, sample_rate),
        bandwidth_hz=bandwidth_hz(audio, sample_rate, spectrum=analysis.spectrum),
        rolloff_99_hz=rolloff_99_hz(audio, sample_rate, spectrum=analysis.spectrum),
        stereo_width=stereo_width(audio),
        clipped_samples=clipped_samples(audio),
        tempo_bpm=tempo,
        key=found_key.name if found_key else None,
        tempo_acc1=float(tempo_accuracy1(tempo, bpm)) if bpm is not None else None,
        tempo_acc2=float(tempo_accuracy2(tempo, bpm)) if bpm is not None else None,
        key_score=_key_score(found_key, reference_key),
        vocal_range_semitones=pitch.range_semitones if pitch else None,
        vocal_lowest=pitch.lowest_midi if pitch else None,
        vocal_highest=pitch.highest_midi if pitch else None,
        pitch=pitch,
    )


def measure_file(
    path: Path,
    vocals_path: Path | None = None,
    bpm: float | None = None,
    key: Key | str | None = None,
    pitch_model: str = "tiny",
) -> SongMetrics:
    """`measure_audio` on a file (any format read_audio knows), with an optional vocal stem file."""
    audio, rate = read_audio(Path(path))
    vocals, vocals_rate = read_audio(Path(vocals_path)) if vocals_path is not None else (None, None)
    return measure_audio(audio, rate, vocals, vocals_rate, bpm=bpm, key=key, pitch_model=pitch_model)


def _check_audio(name: str, audio: np.ndarray, sample_rate: int) -> None:
    """Fail early, naming the input, on audio no measurement can use."""
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise ParamsError(f"{name} sample_rate", f"{sample_rate!r} is not a sample rate",
                          "pass a positive int in Hz, e.g. 44100")
    shape = np.shape(audio)
    if len(shape) not in (1, 2) or shape[0] == 0:
        raise AudioError(f"{name}: expected (samples,) or (samples, channels) audio, got shape {shape}. "
                         "Fix: pass a non-empty float32 array.")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{name}: contains NaN or infinite samples. "
                         "Fix: find the stage that produced them; measurements need finite audio.")


def _check_request(bpm: float | None, pitch_model: str) -> None:
    if bpm is not None and not bpm > 0:
        raise ParamsError("bpm", f"{bpm} is not a tempo", "give the requested tempo in beats per minute, e.g. 120")
    if pitch_model not in PITCH_MODELS:
        raise ParamsError("pitch_model", f"'{pitch_model}' is not a crepe model", "use 'tiny' or 'full'")


def _as_key(key: Key | str | None) -> Key | None:
    if key is None or isinstance(key, Key):
        return key
    try:
        return Key.parse(key)
    except ValueError:
        raise ParamsError("key", f"'{key}' is not a key",
                          "name a key like 'A minor', 'F# major' or 'Bb'") from None


def _key_score(found: Key | None, reference: Key | None) -> float | None:
    """No reference, no score; a reference but no detectable key (silence) scores 0."""
    if reference is None:
        return None
    return key_score(found, reference) if found is not None else 0.0


def _json_safe(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
