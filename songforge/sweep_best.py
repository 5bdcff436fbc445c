"""The winning take of a sweep (`--best`), through the one rule engine (songforge.select): the sweep's metric
vocabulary, its derived metrics (distances from what was asked), and the pick per song."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from .params import MasterSpec, SongSpec
from .select import EITHER_WAY as _EITHER_WAY, MAXIMISE as _MAXIMISE, MINIMISE as _MINIMISE
from .select import Criterion, SelectRule, check_metrics, choose, number, parse_rule

def measured_metrics() -> tuple[str, ...]:
    """The numbers the measure step records: SongMetrics' fields but the key's name and the pitch contour."""
    from .measure.metrics import SongMetrics

    return tuple(f.name for f in dataclasses.fields(SongMetrics) if f.name not in ("key", "pitch"))


DERIVED = ("lufs_error", "tempo_error_bpm")  # a sweep's own: how far each take is from what it asked for


METRICS = measured_metrics() + DERIVED  # every take of a sweep has these (its plan may add more)
MAXIMISE = tuple(m for m in _MAXIMISE if m in METRICS)
MINIMISE = tuple(m for m in _MINIMISE if m in METRICS)
EITHER_WAY = tuple(m for m in _EITHER_WAY if m in METRICS)
KNOWN = tuple(dict.fromkeys(METRICS + _MAXIMISE + _MINIMISE + _EITHER_WAY))  # metrics any planned step may make


def best_rule(metric: str, direction: str) -> SelectRule:
    """A one-criterion rule: the take whose `metric` is highest ('max') or lowest ('min')."""
    return SelectRule(criteria=(Criterion(metric=metric, direction=direction),))


BestRule = best_rule  # the sweep's name for a one-criterion rule


def parse_best(text: str, source: str | None = None, field: str = "--best",
               available: Iterable[str] | None = None) -> SelectRule:
    """'key_score' (known direction), 'max:lufs', 'min:per,max:audiobox_pq' (tie-broken in order); an error names
    the metrics otherwise: `available` (what the sweep's plans make, with DERIVED), or every metric songforge knows."""
    names = KNOWN if available is None else tuple(dict.fromkeys([*available, *DERIVED]))
    where = "songforge knows" if available is None else "that the swept songs' steps make"
    for part in str(text).split(","):
        metric = part.strip().rpartition(":")[2].strip()
        check_metrics(best_rule(metric or "?", "max"), names, field, source, where)
    return parse_rule(str(text), field, source)


def swept_metrics(album: Any) -> list[str] | None:
    """The metrics the swept songs' planned steps make (None when a planned metrics step declares none)."""
    from .plan import metric_names

    names = [metric_names(song, album) for song in album.songs]
    return None if any(found is None for found in names) else [name for found in names for name in found]


def derived_metrics(measured: dict[str, Any], song: SongSpec, master: MasterSpec) -> dict[str, float | None]:
    """Distances from what was asked: LUFS from the loudness target (None when mastered to a reference), tempo from bpm."""
    lufs, tempo = measured.get("lufs"), measured.get("tempo_bpm")
    return {"lufs_error": round(abs(lufs - master.target_lufs), 3) if number(lufs) and master.reference is None else None,
            "tempo_error_bpm": round(abs(tempo - song.bpm), 3) if number(tempo) else None}


def pick_best(rows: list[dict[str, Any]], rule: SelectRule) -> dict[str, dict[str, Any] | None]:
    """Song -> its winning row by the rule (a flagged take never wins, the first take wins a tie); None for a song
    none of whose takes could be chosen."""
    songs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        songs.setdefault(row["song"], []).append(row)
    best = {}
    for song, takes in songs.items():
        choice = choose(rule, takes, [str(row.get("take")) for row in takes])
        best[song] = None if choice.index is None else takes[choice.index]
    return best
