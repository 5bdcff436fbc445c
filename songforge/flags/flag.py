"""A failure flag as data: its name, whether it is raised, one line a person reads, and the evidence behind it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

FLAG_NAMES = ("silence", "clipping", "ends_early", "voiceless_sections", "loop")


@dataclass(frozen=True)
class Flag:
    """name: one of FLAG_NAMES. summary: why it is (or is not) raised, in words. evidence: JSON-able times (s),
    values and the thresholds they were held against; `skipped` in it says why a check could not be made."""

    name: str
    raised: bool
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.name in FLAG_NAMES, self.name
        object.__setattr__(self, "raised", bool(self.raised))  # a detector's numpy bool, as JSON's true/false

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "raised": self.raised, "summary": self.summary, "evidence": _json(self.evidence)}


def flag_metrics(flags: list[Flag]) -> dict[str, int | str]:
    """The step's metrics: `failed` (flags raised), `flag_<name>` 0/1 each, `flags_note` (raised ones' summaries)."""
    raised = [flag for flag in flags if flag.raised]
    return {"failed": len(raised), **{f"flag_{flag.name}": int(flag.raised) for flag in flags},
            "flags_note": "; ".join(f"{flag.name.replace('_', ' ')}: {flag.summary}" for flag in raised)}


def _json(value: Any) -> Any:
    """Evidence as strict JSON: numpy numbers as Python ones, floats rounded to 4 places, non-finite as None."""
    if isinstance(value, dict):
        return {str(key): _json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(item) for item in value]
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value
