"""Level flags: a take that is silent (or mostly), and clipped runs in any of its signals."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..audio.loudness import SHORT_TERM_S, SHORT_TERM_STEP_S, Loudness, loudness
from .flag import Flag
from .settings import ClippingLimits, SilenceLimits

MAX_LISTED = 8  # spans or times listed in evidence: enough to find them by ear
# A clamp stores one value: its samples are equal to the peak, while a band-limited peak (below ~10 Hz aside)
# moves more than this between neighbouring samples, also after 24-bit quantisation.
PLATEAU_TOLERANCE = 1e-6


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of True in a 1-D bool mask; ends exclusive."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def detect_silence(mix: np.ndarray, sample_rate: int, limits: SilenceLimits, reading: Loudness | None = None) -> Flag:
    """Near-silence of float (samples,) or (samples, channels) audio: its integrated loudness below max_lufs, or
    more than max_silent_share of its 3 s short-term windows below silent_lufs (silent spans listed). `reading`:
    the audio's loudness when the caller has it (songforge measure reads it once for LUFS, LRA and this flag)."""
    reading = reading if reading is not None else loudness(mix, sample_rate)
    lufs, windows = reading.integrated_lufs, reading.short_term_lufs
    silent = windows < limits.silent_lufs if windows.size else np.array([not lufs > limits.silent_lufs])
    share = float(silent.mean())
    starts, ends = true_runs(silent)
    duration = len(mix) / sample_rate
    # a span runs from its first silent window's start to its last one's end (the file's end for the last window)
    spans = [[s * SHORT_TERM_STEP_S, duration if e == windows.size else (e - 1) * SHORT_TERM_STEP_S + SHORT_TERM_S]
             for s, e in zip(starts[:MAX_LISTED], ends)] if windows.size else []
    quiet, mostly = not lufs >= limits.max_lufs, share > limits.max_silent_share
    summary = (f"the take is at {lufs:.1f} LUFS, under {limits.max_lufs:g}" if quiet else
               f"{share:.0%} of it is silent (under {limits.silent_lufs:g} LUFS), over {limits.max_silent_share:.0%}"
               if mostly else f"{lufs:.1f} LUFS, {share:.0%} silent")
    return Flag("silence", quiet or mostly, summary, {
        "lufs": lufs, "silent_share": share, "silent_spans_s": spans, "max_lufs": limits.max_lufs,
        "silent_lufs": limits.silent_lufs, "max_silent_share": limits.max_silent_share})


def clipped_runs(audio: np.ndarray, sample_rate: int, limits: ClippingLimits) -> dict[str, object]:
    """Runs of at least min_run_samples samples at full scale, or flat at the signal's own peak when that is at
    least plateau_min_peak, in float (samples,) or (samples, channels) audio: their count, samples and first times."""
    audio = np.abs(np.asarray(audio, dtype=np.float32))
    audio = audio[:, None] if audio.ndim == 1 else audio
    peak = float(audio.max(initial=0.0))
    at_peak = peak >= limits.plateau_min_peak
    runs, samples, times = 0, 0, []
    for channel in audio.T:
        mask = channel >= limits.full_scale
        if at_peak:
            mask |= channel >= peak * (1.0 - PLATEAU_TOLERANCE)
        starts, ends = true_runs(mask)
        long = ends - starts >= limits.min_run_samples
        runs, samples = runs + int(long.sum()), samples + int((ends - starts)[long].sum())
        times += (starts[long] / sample_rate).tolist()
    return {"runs": runs, "clipped_samples": samples, "peak": peak,
            "first_s": sorted(times)[:MAX_LISTED]}


def detect_clipping(signals: Mapping[str, np.ndarray], sample_rate: Mapping[str, int], limits: ClippingLimits) -> Flag:
    """Clipped runs in each named signal (the master, the mix, the stems before the mix): raised when one has more
    than max_runs. The master is true-peak limited, so its clips are rare; the stems show what an engine clamped."""
    found = {name: clipped_runs(audio, sample_rate[name], limits) for name, audio in signals.items()}
    clipped = [name for name, runs in found.items() if runs["runs"] > limits.max_runs]
    summary = (", ".join(f"{found[name]['runs']} clipped runs in the {name}" for name in clipped) if clipped else
               "no signal clipped more than " + f"{limits.max_runs} times")
    return Flag("clipping", bool(clipped), summary, {
        "signals": found, "clipped": clipped, "full_scale": limits.full_scale,
        "min_run_samples": limits.min_run_samples, "plateau_min_peak": limits.plateau_min_peak,
        "max_runs": limits.max_runs})
