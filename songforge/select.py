"""Choosing among takes by their metrics: a rule (criteria tie-broken in order) and the choice, with its reason.

The one rule engine behind a song's `takes:` + `select:` (songforge.takes) and a sweep's `--best`
(songforge.sweep_best). Metric names are free strings (any step's metric); whether a rule's metrics are
made by some planned step is `check_metrics`' job, run when an album or sweep loads. A take whose `failed`
metric (the flags step's count of raised failure flags; missing counts as 0) is above 0 is never chosen.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import ParamsError
from .params_file import excerpt

Direction = Literal["max", "min"]
DIRECTIONS = ("max", "min")

# Which way is better, for the metrics where one way is (a bare metric name takes it).
MAXIMISE = ("key_score", "tempo_acc1", "tempo_acc2", "vocal_range_semitones", "bandwidth_hz", "clap_score", "mulan",
            "audiobox_pq", "audiobox_pc", "audiobox_ce", "audiobox_cu", "songeval_coherence",
            "songeval_memorability", "songeval_naturalness", "songeval_clarity", "songeval_musicality")
MINIMISE = ("lufs_error", "tempo_error_bpm", "true_peak_dbtp", "clipped_samples", "per", "wer", "failed")
# Neither way is better in general (a louder master is not a better one): the user says which.
EITHER_WAY = ("lufs", "lra_lu", "stereo_width", "duration_s", "tempo_bpm", "vocal_lowest", "vocal_highest",
              "rolloff_99_hz")
FAILED = "failed"  # the flags step's count of failure flags: a take with one is never chosen
FLAG_PREFIX = "flag_"
RULE_FIX = ("write the rule as a list of 'max: <metric>' or 'min: <metric>' items, best criterion first, "
            "e.g. 'select: [min: per, max: audiobox_pq]' (a later item breaks ties of the earlier ones)")

RULE_CONFIG = ConfigDict(frozen=True, extra="forbid")  # params.Frozen's: params imports this module


class Criterion(BaseModel):
    """One criterion of a rule: the take whose `metric` is highest ('max') or lowest ('min')."""

    model_config = RULE_CONFIG

    metric: str = Field(min_length=1, max_length=100)
    direction: Direction

    def __str__(self) -> str:
        return f"{self.direction}:{self.metric}"


class SelectRule(BaseModel):
    """Criteria in order: the first decides, each later one breaks the ties of those before it.

    Written as a list (`[min: per, max: audiobox_pq]`, or `["min:per", "key_score"]`), or as one string
    (`"min:per,max:audiobox_pq"`, the sweep's `--best`); a bare metric takes its known direction.
    """

    model_config = RULE_CONFIG

    criteria: tuple[Criterion, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _written(cls, data: Any) -> Any:
        if isinstance(data, dict) and "criteria" in data:
            return data
        return {"criteria": written_criteria(data)}

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(criterion.metric for criterion in self.criteria)

    @property
    def metric(self) -> str:
        """The deciding criterion's metric (the sweep's single-metric view)."""
        return self.criteria[0].metric

    @property
    def direction(self) -> Direction:
        return self.criteria[0].direction

    def __str__(self) -> str:
        return ",".join(map(str, self.criteria))


def written_criteria(data: Any) -> list[dict[str, str]]:
    """The criteria of a rule as written; ValueError (pydantic's) saying what is wrong otherwise."""
    items = [part for part in data.split(",")] if isinstance(data, str) else data
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"{excerpt(data)} is not a non-empty list of criteria")
    return [_criterion(item) for item in items]


def _criterion(item: Any) -> dict[str, str]:
    if isinstance(item, dict) and len(item) == 1:
        (direction, metric), = item.items()
    elif isinstance(item, str):
        direction, _, metric = item.strip().rpartition(":")
    else:
        raise ValueError(f"{excerpt(item)} is not a criterion such as 'min: per'")
    direction, metric = str(direction).strip(), str(metric).strip()
    if direction not in ("", *DIRECTIONS):
        raise ValueError(f"{excerpt(direction)} is not a direction (use 'max' or 'min')")
    if not metric:
        raise ValueError(f"{excerpt(item)} names no metric")
    if not direction:
        if metric in EITHER_WAY:
            raise ValueError(f"'{metric}' is better neither higher nor lower: say which, 'max:{metric}' or "
                             f"'min:{metric}'")
        if metric not in MAXIMISE + MINIMISE:
            raise ValueError(f"{excerpt(metric)} has no known direction: prefix it with 'max:' or 'min:'")
        direction = "max" if metric in MAXIMISE else "min"
    return {"metric": metric, "direction": direction}


def parse_rule(written: Any, field: str = "select", source: str | None = None) -> SelectRule:
    """A rule as written (see SelectRule); ParamsError naming `field` and the fix otherwise."""
    from pydantic import ValidationError

    try:
        return SelectRule.model_validate(written)
    except ValidationError as error:
        problem = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise ParamsError(field, problem, RULE_FIX, source) from None


def check_metrics(rule: SelectRule, available: Iterable[str], field: str = "select",
                  source: str | None = None, where: str = "that a planned step makes") -> None:
    """ParamsError when the rule names a metric none of `available` is, naming those that are."""
    names = sorted(set(available))
    for metric in rule.metrics:
        if metric not in names:
            close = difflib.get_close_matches(metric[:100], names, n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ParamsError(field, f"{excerpt(metric)} is not a metric {where}",
                              f"use one of: {', '.join(names) or 'none'}{hint}, or add the step that makes it", source)


# -- choosing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The chosen candidate's index (None: none could be chosen), why, and the candidates left out for flags."""

    index: int | None
    reason: str
    flagged: tuple[int, ...] = ()


def number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def failure_flags(metrics: Mapping[str, Any]) -> list[str] | None:
    """The raised flags' names (without 'flag_') of a flagged take, None for one that is not flagged."""
    failed = metrics.get(FAILED)
    if not (number(failed) and failed > 0):
        return None
    return [key.removeprefix(FLAG_PREFIX) for key, value in metrics.items()
            if key.startswith(FLAG_PREFIX) and number(value) and value > 0]


def choose(rule: SelectRule, candidates: Sequence[Mapping[str, Any]], labels: Sequence[str] | None = None) -> Choice:
    """The best of `candidates` (their metrics) by `rule`: flagged ones left out, a missing value ranks last in its
    criterion, and a candidate with no value for any criterion is not chosen; the first wins a full tie."""
    labels = list(labels or [f"take {i + 1}" for i in range(len(candidates))])
    flagged = tuple(i for i, metrics in enumerate(candidates) if failure_flags(metrics) is not None)
    eligible = [i for i in range(len(candidates))
                if i not in flagged and any(number(candidates[i].get(m)) for m in rule.metrics)]
    flags = [f"{labels[i]} flagged: {', '.join(failure_flags(candidates[i]) or ['failed'])}" for i in flagged]
    if not eligible:
        why = "every take is flagged" if flagged and len(flagged) == len(candidates) else \
            f"no take has {' or '.join(rule.metrics)}"
        return Choice(None, "; ".join([why, *flags]), flagged)
    ranked = sorted(eligible, key=lambda i: _rank(rule, candidates[i]))  # stable: the first wins a tie
    return Choice(ranked[0], "; ".join([_why(rule, candidates, labels, ranked), *flags]), flagged)


def _rank(rule: SelectRule, metrics: Mapping[str, Any]) -> tuple:
    key = []
    for criterion in rule.criteria:
        value = metrics.get(criterion.metric)
        key.append((0, -value if criterion.direction == "max" else value) if number(value) else (1, 0))
    return tuple(key)


def _why(rule: SelectRule, candidates: Sequence[Mapping[str, Any]], labels: Sequence[str], ranked: list[int]) -> str:
    """'take 2: lowest per 0.12 (take 1: 0.31)', through each criterion needed to break a tie."""
    best, rivals, parts = ranked[0], ranked[1:], []
    for criterion in rule.criteria:
        value = candidates[best].get(criterion.metric)
        others = ", ".join(f"{labels[i]}: {_show(candidates[i].get(criterion.metric))}" for i in rivals)
        word = "highest" if criterion.direction == "max" else "lowest"
        parts.append(f"{word} {criterion.metric} {_show(value)}" + (f" ({others})" if others else ""))
        rivals = [i for i in rivals if candidates[i].get(criterion.metric) == value]
        if not rivals:
            break
    tie = " (a tie: the first take kept)" if rivals else ""
    return f"{labels[best]}: " + ", then ".join(parts) + tie


def _show(value: Any) -> str:
    if not number(value):
        return "none"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
