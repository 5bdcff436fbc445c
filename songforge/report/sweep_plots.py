"""A sweep's pictures: one PNG per metric, a panel per swept param, a point per take and song.

Same look and the same rules as plots.py: matplotlib's object API only, a Figure per call.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import ParamsError
from ..paths import atomic_path
from .plots import ACCENT, ACCENT_2, BG, DPI, GRID, INK, MUTED, NOTE, PANEL, WARN

PANEL_W_PX, PANEL_H_PX = 520, 380
SONG_COLOURS = (ACCENT, ACCENT_2, NOTE, WARN, "#ff6b9a", "#f5c451")
CATEGORICAL = {"seed"}  # numbers, but 2 is no nearer to 1 than 7 is: one slot per value


def plotted_metrics(rows: Sequence[dict[str, Any]], exclude: Sequence[str] = ()) -> list[str]:
    """Metric columns with at least one finite number, in first-seen order."""
    names = dict.fromkeys(k for row in rows for k in row if k not in exclude)
    return [name for name in names if any(_number(row.get(name)) for row in rows)]


def metric_vs_params_png(rows: Sequence[dict[str, Any]], metric: str, swept: Sequence[str], path: Path) -> Path:
    """Write `metric` against each swept param: points coloured by song, the mean over songs as a line.

    A param whose values are all numbers gets a numeric axis; any other (a seed, a reference
    track, a program name) gets one slot per value, in the order the takes give them.
    """
    if not swept:
        raise ParamsError("swept", "no swept params to plot against", "sweep at least one param")
    if Path(path).suffix.lower() != ".png":
        raise ParamsError("path", f"'{path}' does not end in .png", "name the picture <something>.png")
    fig = Figure(figsize=(PANEL_W_PX * len(swept) / DPI, PANEL_H_PX / DPI), dpi=DPI, facecolor=BG)
    FigureCanvasAgg(fig)
    fig.suptitle(metric.replace("_", " "), color=INK, fontsize=13, x=0.01, ha="left")
    songs = list(dict.fromkeys(row["song"] for row in rows))
    for index, param in enumerate(swept):
        ax = fig.add_subplot(1, len(swept), index + 1)
        _panel(ax, rows, metric, param, songs)
    fig.subplots_adjust(left=0.08 / len(swept) + 0.04, right=0.98, top=0.84, bottom=0.16, wspace=0.28)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, facecolor=BG)
    return Path(path)


def _panel(ax, rows: Sequence[dict[str, Any]], metric: str, param: str, songs: list[str]) -> None:
    values = list(dict.fromkeys(_key(row.get(param)) for row in rows))
    numeric = param not in CATEGORICAL and all(_number(v) for v in values)
    x_of = (lambda v: float(v)) if numeric else (lambda v: float(values.index(v)))  # noqa: E731
    for colour, song in zip(_cycle(SONG_COLOURS, len(songs)), songs):
        points = [(x_of(_key(r.get(param))), float(r[metric])) for r in rows if r["song"] == song and _number(r.get(metric))]
        if points:
            ax.scatter(*zip(*points), s=36, color=colour, label=song, zorder=3, edgecolors=BG, linewidths=0.6)
    means = _means(rows, metric, param, x_of)
    if len(means) > 1:
        ax.plot(*zip(*means), color=MUTED, linewidth=1.2, linestyle="--", zorder=2, label="mean")
    if not numeric:
        ax.set_xticks(range(len(values)), [str(v) for v in values], rotation=20, ha="right")
    ax.set_xlabel(param, color=MUTED)
    ax.set_facecolor(PANEL)
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.tick_params(colors=MUTED, labelsize=9)
    for spine in ax.spines.values():
        spine.set_color(GRID)
    if len(songs) > 1 or len(means) > 1:
        ax.legend(fontsize=8, facecolor=PANEL, edgecolor=GRID, labelcolor=INK, loc="best")


def _means(rows: Sequence[dict[str, Any]], metric: str, param: str, x_of) -> list[tuple[float, float]]:
    groups: dict[float, list[float]] = {}
    for row in rows:
        if _number(row.get(metric)):
            groups.setdefault(x_of(_key(row.get(param))), []).append(float(row[metric]))
    return sorted((x, sum(ys) / len(ys)) for x, ys in groups.items())


def _key(value: Any) -> Any:
    """A hashable, printable form of a param value (a path shows as its name)."""
    return value if isinstance(value, (numbers.Real, str)) or value is None else str(value)


def _cycle(colours: Sequence[str], n: int) -> list[str]:
    return [colours[i % len(colours)] for i in range(n)]


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
