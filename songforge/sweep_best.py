"""The winning take of a sweep: a metric, which way is better, and the pick per song."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ParamsError
from .params import MasterSpec, SongSpec

# Which way is better, for the metrics where one way is.
MAXIMISE = ("key_score", "tempo_acc1", "tempo_acc2", "vocal_range_semitones", "bandwidth_hz")
MINIMISE = ("lufs_error", "tempo_error_bpm", "true_peak_dbtp", "clipped_samples")
# Neither way is better in general (a louder master is not a better one): the user says which.
EITHER_WAY = ("lufs", "lra_lu", "stereo_width", "duration_s", "tempo_bpm", "vocal_lowest", "vocal_highest")
METRICS = MAXIMISE + MINIMISE + EITHER_WAY


@dataclass(frozen=True)
class BestRule:
    """Pick the take whose `metric` is highest ('max') or lowest ('min')."""

    metric: str
    direction: Literal["max", "min"]

    def __str__(self) -> str:
        return f"{self.direction}:{self.metric}"


def parse_best(text: str, source: str | None = None, field: str = "--best") -> BestRule:
    """'key_score' (known direction), 'max:lufs' or 'min:lufs'; an error names the metrics otherwise."""
    direction, _, metric = text.strip().rpartition(":")
    if direction not in ("", "max", "min"):
        raise ParamsError(field, f"'{direction}:' is not a direction", "prefix the metric with 'max:' or 'min:', or neither", source)
    if metric not in METRICS:
        close = difflib.get_close_matches(metric, METRICS, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ParamsError(field, f"'{metric}' is not a metric", f"use one of: {', '.join(METRICS)}{hint}", source)
    if not direction and metric in EITHER_WAY:
        raise ParamsError(field, f"'{metric}' is better neither higher nor lower",
                          f"say which: 'max:{metric}' or 'min:{metric}'", source)
    return BestRule(metric, direction or ("max" if metric in MAXIMISE else "min"))


def derived_metrics(measured: dict[str, Any], song: SongSpec, master: MasterSpec) -> dict[str, float | None]:
    """Distances from what was asked: LUFS from the loudness target (None when mastered to a reference), tempo from bpm."""
    lufs, tempo = measured.get("lufs"), measured.get("tempo_bpm")
    return {"lufs_error": round(abs(lufs - master.target_lufs), 3) if _number(lufs) and master.reference is None else None,
            "tempo_error_bpm": round(abs(tempo - song.bpm), 3) if _number(tempo) else None}


def pick_best(rows: list[dict[str, Any]], rule: BestRule) -> dict[str, dict[str, Any] | None]:
    """Song -> its winning row (the first take wins a tie); None for a song with no measured value."""
    best: dict[str, dict[str, Any] | None] = {}
    for row in rows:
        best.setdefault(row["song"], None)
        value, current = row.get(rule.metric), best[row["song"]]
        if not _number(value):
            continue
        if current is None or (value > current[rule.metric] if rule.direction == "max" else value < current[rule.metric]):
            best[row["song"]] = row
    return best


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
