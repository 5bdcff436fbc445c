"""How a metric reads on the review page: its label and unit, its value as text, and whether it meets its target."""

from __future__ import annotations

import math
import numbers
import re

from ..errors import ParamsError
from ..music import midi_to_name

Metric = float | int | str | bool | None
APPROX = re.compile(r"^\s*[≈~]\s*±?\s*(\d+(?:\.\d*)?|\.\d+)\s*$")
ORDER = {"≤": "<=", "<=": "<=", "≥": ">=", ">=": ">=", "<": "<", ">": ">", "=": "=", "==": "="}
_UNIT_SUFFIXES = (("_dbtp", "dBTP"), ("_lufs", "LUFS"), ("_lu", "LU"), ("_dbfs", "dBFS"), ("_db", "dB"),
                  ("_bpm", "BPM"), ("_hz", "Hz"), ("_cents", "cents"), ("_semitones", "semitones"),
                  ("_ms", "ms"), ("_s", "s"), ("_pct", "%"))
# Names whose plain reading beats the suffix rule: (label, unit).
_NAMED = {"lufs": ("loudness", "LUFS"), "lra": ("loudness range", "LU"), "lra_lu": ("loudness range", "LU"),
          "tempo": ("tempo", "BPM"), "tempo_bpm": ("tempo", "BPM"), "duration_s": ("duration", "m:ss"),
          "true_peak_dbtp": ("true peak", "dBTP"), "tempo_acc1": ("tempo acc.", ""), "tempo_acc2": ("tempo acc. (×2, ×½)", ""),
          "vocal_range_semitones": ("vocal range", "semitones"), "vocal_lowest": ("lowest sung", ""),
          "vocal_highest": ("highest sung", "")}


def meets_target(value: Metric, comparison: str, target: float, field: str = "target") -> bool | None:
    """Whether `value` meets `comparison target` ('≤', '≥', '<', '>', '=', '≈±tol'); None if value isn't a number."""
    if not is_finite(target):
        raise ParamsError(field, f"target {target!r} is not a finite number", "write the target as a number")
    if not isinstance(comparison, str):
        raise ParamsError(field, f"comparison {comparison!r} is not text", "use one of ≤ ≥ < > = or '≈±0.5'")
    approx = APPROX.match(comparison)
    if not approx and comparison not in ORDER:
        raise ParamsError(field, f"unknown comparison {comparison!r}", "use one of ≤ ≥ < > = (or <= >= ==) or '≈±tolerance', e.g. '≈±0.5'")
    if not is_finite(value):
        return None
    value, target = float(value), float(target)
    if approx:
        return abs(value - target) <= float(approx.group(1)) + 1e-9
    op = ORDER[comparison]
    if op == "=":
        return math.isclose(value, target, rel_tol=1e-9, abs_tol=1e-9)
    return {"<=": value <= target, ">=": value >= target, "<": value < target, ">": value > target}[op]


def label_and_unit(name: str) -> tuple[str, str]:
    """'true_peak_dbtp' -> ('true peak', 'dBTP'); 'bandwidth_hz' -> ('bandwidth', 'Hz'); 'key' -> ('key', '')."""
    if name.lower() in _NAMED:
        return _NAMED[name.lower()]
    suffix = next(((s, u) for s, u in _UNIT_SUFFIXES if name.lower().endswith(s) and len(name) > len(s)), None)
    label, unit = (name[: -len(suffix[0])], suffix[1]) if suffix else (name, "")
    return label.replace("_", " "), unit


def target_text(target: tuple[str, float]) -> str:
    """('≈±0.5', -14) -> '-14 ± 0.5'; ('<=', -1) -> '≤ -1'."""
    comparison, value = target
    approx = APPROX.match(str(comparison))
    if approx:
        return f"{format_value(value)} ± {approx.group(1)}"
    return f"{ORDER[comparison].replace('<=', '≤').replace('>=', '≥')} {format_value(value)}"


def format_metric(name: str, value: Metric) -> str:
    """A metric as a person reads it: durations as m:ss, sung notes by name, numbers rounded sensibly."""
    lowered = name.lower()
    if lowered == "duration_s" and is_finite(value) and value >= 0:
        seconds = int(round(value))
        return f"{seconds // 60}:{seconds % 60:02d}"
    if lowered in ("vocal_lowest", "vocal_highest") and is_finite(value) and 0 <= value <= 127:
        return f"{midi_to_name(int(round(value)))} ({int(round(value))})"
    return format_value(value)


def format_value(value: Metric) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, numbers.Real):
        return str(value)
    value = float(value)
    magnitude = abs(value)
    if not math.isfinite(value):
        return "—" if math.isnan(value) else f"{value}"
    if value.is_integer() and magnitude < 1e6:
        return f"{value:.0f}"
    if magnitude >= 100 or magnitude < 0.01:
        return f"{value:.1f}" if magnitude >= 100 else f"{value:.2g}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def is_finite(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
