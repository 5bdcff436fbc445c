"""Where a picture draws its time axis, stored inside the PNG so a page can put a playhead on it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

TIME_AXIS_KEY = "songforge:time-axis"  # a PNG tEXt keyword


@dataclass(frozen=True)
class TimeAxis:
    """left/right: fractions of the picture's width where start_s and end_s (seconds) are drawn;
    top/bottom: fractions of its height (from the top) that the plots sharing that axis span."""

    left: float
    right: float
    start_s: float
    end_s: float
    top: float = 0.0
    bottom: float = 1.0

    def to_text(self) -> str:
        return json.dumps({"left": self.left, "right": self.right, "start_s": self.start_s, "end_s": self.end_s,
                           "top": self.top, "bottom": self.bottom})

    @classmethod
    def from_text(cls, text: str) -> TimeAxis | None:
        """None unless the text holds finite numbers with left < right, top < bottom (within 0..1) and start < end."""
        try:
            data = json.loads(text)
            axis = cls(*(float(data[k]) for k in ("left", "right", "start_s", "end_s")),
                       float(data.get("top", 0.0)), float(data.get("bottom", 1.0)))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        values = (axis.left, axis.right, axis.start_s, axis.end_s, axis.top, axis.bottom)
        sane = (all(map(math.isfinite, values)) and 0 <= axis.left < axis.right <= 1
                and 0 <= axis.top < axis.bottom <= 1 and axis.start_s < axis.end_s)
        return axis if sane else None


def axis_of(time_ax, *sharing) -> TimeAxis:
    """The time axis of matplotlib Axes `time_ax` (and the axes `sharing` it), once the figure is laid out."""
    left, right = time_ax.get_position().intervalx
    start_s, end_s = time_ax.get_xlim()
    low = min(ax.get_position().y0 for ax in (time_ax, *sharing))
    high = max(ax.get_position().y1 for ax in (time_ax, *sharing))
    return TimeAxis(float(left), float(right), float(start_s), float(end_s), 1.0 - float(high), 1.0 - float(low))


def read_time_axis(png: Path) -> TimeAxis | None:
    """The axis a songforge PNG carries; None for other pictures, missing or unreadable files."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(png) as image:
            text = getattr(image, "text", {}).get(TIME_AXIS_KEY)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return TimeAxis.from_text(text) if text else None
