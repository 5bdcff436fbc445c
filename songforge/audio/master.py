"""Master a stereo mix to a reference track (Matchering) or to a loudness target, under a true-peak ceiling."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import AudioError
from .loudness import integrated_lufs, true_peak_dbtp
from ..params import MasterSpec
from .dsp import bus_compress, check_audio, db_to_gain, limit_true_peak
from .io import read_audio, resample, to_stereo

log = logging.getLogger(__name__)

MATCHERING_RATE = 44100  # the only internal rate Matchering is tested at
MIN_REFERENCE_S = 3.0  # Matchering compares loudest pieces; a few seconds is the least that means anything
SILENCE_LUFS = -70.0  # the BS.1770 absolute gate: quieter than this has no measurable loudness
LOUDNESS_TOLERANCE_LU = 0.1  # aim well inside the promised 0.5 LU so the final ceiling trim cannot push us out
MAX_LOUDNESS_PASSES = 8
COMPRESS_ABOVE_REDUCTION_DB = 3.0  # more limiting than this sounds squashed: let a bus compressor share it
BUS_THRESHOLD_ABOVE_TARGET_DB = 4.0
REFERENCE_FIX = ("Fix: point master.reference at a full-length, non-silent WAV/FLAC/MP3 of a finished song "
                 f"(at least {MIN_REFERENCE_S:.0f} s), or remove master.reference to master to master.target_lufs.")


@dataclass(frozen=True)
class MasterResult:
    """The mastered audio, float32 (samples, 2) at `sample_rate`, and what mastering did to it."""

    audio: np.ndarray
    sample_rate: int
    mode: Literal["reference", "loudness"]
    input_lufs: float
    gain_db: float  # static gain before the dynamics (loudness) / Matchering's net level change (reference)
    output_lufs: float
    output_true_peak_dbtp: float
    reference_lufs: float | None = None

    def metrics(self) -> dict[str, float | str]:
        """The numbers, JSON-able, for run logs and reports."""
        numbers = {"input_lufs": self.input_lufs, "gain_db": self.gain_db, "output_lufs": self.output_lufs,
                   "output_true_peak_dbtp": self.output_true_peak_dbtp}
        if self.reference_lufs is not None:
            numbers["reference_lufs"] = self.reference_lufs
        return {"mode": self.mode, **{k: round(float(v), 3) for k, v in numbers.items()}}


def master(mix: np.ndarray, sample_rate: int, spec: MasterSpec) -> MasterResult:
    """Master float32 (samples, channels) `mix`: reference mode if `spec.reference`, else loudness mode.

    Both end in a true-peak limiter, so `true_peak_dbtp(result.audio) <= spec.true_peak_dbtp`.
    """
    mix = to_stereo(check_audio(mix, "mix"))
    input_lufs = integrated_lufs(mix, sample_rate)
    if not input_lufs > SILENCE_LUFS:
        raise AudioError(f"mix: integrated loudness is {input_lufs:.1f} LUFS, too quiet (or under 0.4 s) to master. "
                         "Fix: check the stems and the mix gains (mix.vocals_gain_db, mix.instrumental_gain_db).")
    if spec.reference is not None:
        return _master_to_reference(mix, sample_rate, spec, input_lufs)
    return _master_to_loudness(mix, sample_rate, spec, input_lufs)


def _master_to_loudness(mix: np.ndarray, sample_rate: int, spec: MasterSpec, input_lufs: float) -> MasterResult:
    """Gain towards target_lufs, compress if the limiter would work too hard, limit; repeat until on target.

    Limiting eats some of each dB of gain, so each pass corrects by the remaining error divided by
    the measured slope (output LU per dB of gain) of the last two passes.
    """
    gain_db = spec.target_lufs - input_lufs
    compress = true_peak_dbtp(mix, sample_rate) + gain_db - spec.true_peak_dbtp > COMPRESS_ABOVE_REDUCTION_DB
    history: list[tuple[float, float]] = []
    for _ in range(MAX_LOUDNESS_PASSES):
        out = _gain_and_limit(mix, sample_rate, spec, gain_db, compress)
        history.append((gain_db, integrated_lufs(out, sample_rate)))
        error = spec.target_lufs - history[-1][1]
        if abs(error) <= LOUDNESS_TOLERANCE_LU:
            break
        gain_db += error / _slope(history)
    else:
        log.warning("mastering reached %.2f LUFS, not %.2f: the mix cannot get that loud under %.1f dBTP",
                    history[-1][1], spec.target_lufs, spec.true_peak_dbtp)
    applied_db, out_lufs = history[-1]
    return MasterResult(out, sample_rate, "loudness", input_lufs, applied_db, out_lufs,
                        true_peak_dbtp(out, sample_rate))


def _gain_and_limit(mix: np.ndarray, sample_rate: int, spec: MasterSpec, gain_db: float, compress: bool) -> np.ndarray:
    audio = (mix * db_to_gain(gain_db)).astype(np.float32)
    if compress:
        audio = bus_compress(audio, sample_rate, threshold_db=spec.target_lufs + BUS_THRESHOLD_ABOVE_TARGET_DB)
    return limit_true_peak(audio, sample_rate, spec.true_peak_dbtp)


def _slope(history: list[tuple[float, float]]) -> float:
    """Output LU per dB of gain, from the last two passes; 1 until there are two."""
    if len(history) < 2:
        return 1.0
    (g0, l0), (g1, l1) = history[-2:]
    slope = (l1 - l0) / (g1 - g0) if abs(g1 - g0) > 1e-6 else 1.0
    return float(np.clip(slope, 0.2, 1.0))  # limiting only ever flattens it; keep each step bounded


def _master_to_reference(mix: np.ndarray, sample_rate: int, spec: MasterSpec, input_lufs: float) -> MasterResult:
    """Matchering matches the reference's RMS, frequency response and peak; then the true-peak limiter."""
    reference = load_reference(Path(spec.reference))
    reference_lufs = integrated_lufs(reference, MATCHERING_RATE)
    matched = _matchering(resample(mix, sample_rate, MATCHERING_RATE), reference)
    matched = _fit_length(resample(matched, MATCHERING_RATE, sample_rate), mix.shape[0])
    gain_db = integrated_lufs(matched, sample_rate) - input_lufs
    out = limit_true_peak(matched, sample_rate, spec.true_peak_dbtp)
    out_lufs = integrated_lufs(out, sample_rate)
    return MasterResult(out, sample_rate, "reference", input_lufs, gain_db, out_lufs,
                        true_peak_dbtp(out, sample_rate), reference_lufs)


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad (samples, channels) audio to `length` samples (resampling rounds lengths)."""
    return np.pad(audio[:length], ((0, max(0, length - audio.shape[0])), (0, 0)))


def load_reference(path: Path) -> np.ndarray:
    """The reference track as float32 (samples, 2) at MATCHERING_RATE; AudioError if it is unusable."""
    try:
        audio, _ = read_audio(path, MATCHERING_RATE)
        audio = to_stereo(audio)
    except AudioError as error:
        raise AudioError(f"master.reference: {error} {REFERENCE_FIX}") from error
    seconds = audio.shape[0] / MATCHERING_RATE
    if seconds < MIN_REFERENCE_S:
        raise AudioError(f"master.reference: '{path}' is {seconds:.2f} s long, too short to match. {REFERENCE_FIX}")
    loudness = integrated_lufs(audio, MATCHERING_RATE)
    if not loudness > SILENCE_LUFS:
        raise AudioError(f"master.reference: '{path}' is silent ({loudness:.1f} LUFS). {REFERENCE_FIX}")
    return audio


def _matchering(target: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Matchering's stages in memory (no temp files) on (samples, 2) arrays at MATCHERING_RATE."""
    import matchering
    from matchering.log import ModuleError
    from matchering.stages import main

    _route_matchering_logs()
    config = matchering.Config(internal_sample_rate=MATCHERING_RATE, allow_equality=True)
    try:
        target, _ = matchering.check(target.astype(np.float64), MATCHERING_RATE, config, "target")
        reference, _ = matchering.check(reference.astype(np.float64), MATCHERING_RATE, config, "reference")
        result, _, _ = main(target, reference, config, need_default=True)
    except ModuleError as error:
        raise AudioError(f"mastering to master.reference failed in Matchering: {error}. {REFERENCE_FIX}") from error
    return result.astype(np.float32)


def _route_matchering_logs() -> None:
    """Matchering reports through its own global handlers; send them to this module's logger, quietly."""
    import matchering

    matchering.log(default_handler=log.debug, warning_handler=log.info)
