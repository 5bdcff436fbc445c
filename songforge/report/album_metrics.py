"""An album's metrics.json (what `dvc metrics` and `dvc exp show` compare): each song's numbers and album figures."""

from __future__ import annotations

import math
from statistics import fmean
from typing import Any

from .values import meets_target

DIGITS = 3


def tempo_error_pct(measured_bpm: float | None, requested_bpm: float) -> float | None:
    """Measured tempo against the requested one, in percent (+ = too fast); None when unmeasured."""
    if measured_bpm is None or not math.isfinite(measured_bpm):
        return None
    return round(100.0 * (measured_bpm - requested_bpm) / requested_bpm, 2)


def song_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a song's metrics (strings, flags and missing values left out)."""
    return {key: round(float(value), DIGITS) for key, value in sorted(metrics.items())
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)}


def album_metrics(songs: dict[str, dict[str, float]],
                  targets: dict[str, tuple[str, float]] | None = None) -> dict[str, Any]:
    """{'album': means and album-wide figures, 'songs': {song folder name: numbers}}.

    `<metric>_mean` averages the songs that have the metric; `lufs_spread_lu` (loudest
    minus quietest song) shows how even the album plays; `true_peak_dbtp_max` is its
    worst peak. With `targets` (name -> (comparison, target), as the report shows them):
    `<name>_target_met`, how many songs meet each, and `songs_meeting_all_targets`.
    """
    names = sorted({name for numbers in songs.values() for name in numbers})
    album: dict[str, float] = {"songs": len(songs)}
    for name in names:
        values = [numbers[name] for numbers in songs.values() if name in numbers]
        album[f"{name}_mean"] = round(fmean(values), DIGITS)
    lufs = [numbers["lufs"] for numbers in songs.values() if "lufs" in numbers]
    if lufs:
        album["lufs_spread_lu"] = round(max(lufs) - min(lufs), DIGITS)
    peaks = [numbers["true_peak_dbtp"] for numbers in songs.values() if "true_peak_dbtp" in numbers]
    if peaks:
        album["true_peak_dbtp_max"] = max(peaks)
    if targets:
        met = {name: [meets_target(numbers.get(name), *target) is True for numbers in songs.values()]
               for name, target in targets.items()}
        album.update({f"{name}_target_met": sum(flags) for name, flags in met.items()})
        album["songs_meeting_all_targets"] = sum(all(flags) for flags in zip(*met.values()))
    return {"album": album, "songs": songs}
