"""A sweep's comparison: comparison.csv, comparison.html (takes side by side, best highlighted), best.json, plots."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from ..artifacts import StageOutput, output
from ..paths import write_json, write_text
from ..select import SelectRule
from ..sweep_best import pick_best
from .safe_text import csv_text
from .sweep_plots import metric_vs_params_png, plotted_metrics

_PAUSE_OTHERS = ("document.addEventListener('play', e => document.querySelectorAll('audio')"
                 ".forEach(a => { if (a !== e.target) a.pause(); }), true);")
_BEST_ROW = ' class="best"'


@dataclass(frozen=True)
class TakeSong:
    """One take of one song. `audio` and `image` are relative to the comparison page's folder."""

    take: str
    label: str
    song: str
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    audio: str = ""
    image: str | None = None

    def row(self) -> dict[str, Any]:
        """The take's CSV/table row: ids, swept values, then metrics."""
        return {"take": self.take, "label": self.label, "song": self.song, **self.params, **self.metrics}


def write_comparison(title: str, entries: Sequence[TakeSong], swept: Sequence[str], folder: Path,
                     rule: SelectRule | None = None) -> StageOutput:
    """Write the comparison into `folder`; a StageOutput with roles csv, html, best (with a rule) and plot-<metric>."""
    rows = [entry.row() for entry in entries]
    files = {"csv": write_text(folder / "comparison.csv", csv_text(rows))}
    winners = pick_best(rows, rule) if rule else {}
    if rule:
        files["best"] = write_json(folder / "best.json", best_json(winners, rule, entries))
    for metric in plotted_metrics(rows, exclude=[*swept, "take", "label", "song"]):
        files[f"plot-{metric}"] = metric_vs_params_png(rows, metric, list(swept), folder / "plots" / f"{metric}.png")
    plots = [files[k].relative_to(folder).as_posix() for k in files if k.startswith("plot-")]
    best_takes = {song: row["take"] for song, row in winners.items() if row}
    files["html"] = write_text(folder / "comparison.html", comparison_html(title, entries, swept, best_takes, rule, plots))
    return output("sweep-comparison", {"best": {song: take for song, take in best_takes.items()}}, **files)


def best_json(winners: Mapping[str, dict | None], rule: SelectRule, entries: Sequence[TakeSong]) -> dict[str, Any]:
    audio = {(e.song, e.take): e.audio for e in entries}
    return {"rule": str(rule), "metric": rule.metric, "direction": rule.direction, "songs": {
        song: None if row is None else {"take": row["take"], "label": row["label"], "value": row.get(rule.metric),
                                        "values": {metric: row.get(metric) for metric in rule.metrics},
                                        "audio": audio[(song, row["take"])]}
        for song, row in winners.items()}}


def comparison_html(title: str, entries: Sequence[TakeSong], swept: Sequence[str], best_takes: Mapping[str, str],
                    rule: SelectRule | None, plots: Sequence[str]) -> str:
    """One page: a header, per song the takes' cards side by side and their metrics table, then the plots."""
    songs = list(dict.fromkeys(e.song for e in entries))
    chips = [f"{len({e.take for e in entries})} takes", f"{len(songs)} song{'s' * (len(songs) != 1)}",
             *[f"swept: {key}" for key in swept]]
    chips_html = "".join(f"<span class=\"chip\">{escape(c)}</span>" for c in chips)
    if rule:
        chips_html += f"<span class=\"chip best\">best by {escape(str(rule))}</span>"
    header = (f"<header><div class=\"kicker\">sweep comparison</div><h1>{escape(title)}</h1>"
              f"<div class=\"chips\">{chips_html}</div></header>")
    sections = [_song_section(i, song, [e for e in entries if e.song == song], swept, best_takes.get(song), rule)
                for i, song in enumerate(songs, start=1)]
    gallery = "".join(f"<a href=\"{_href(p)}\"><img src=\"{_href(p)}\" loading=\"lazy\" alt=\"{escape(Path(p).stem)} "
                      f"against the swept params\"></a>" for p in plots)
    plots_html = f"<details open><summary>metrics against the swept params</summary><div class=\"plots\">{gallery}</div></details>" if plots else ""
    return _page(title, header + "".join(sections) + plots_html)


def _song_section(index: int, song: str, entries: Sequence[TakeSong], swept: Sequence[str], best: str | None,
                  rule: SelectRule | None) -> str:
    cards = "".join(_take_card(e, e.take == best, rule) for e in entries)
    return (f"<section class=\"song\" id=\"song-{index:02d}\"><h2>{escape(song)}</h2><div class=\"takes\">{cards}</div>"
            f"{_metrics_table(entries, swept, best, rule)}</section>")


def _take_card(entry: TakeSong, best: bool, rule: SelectRule | None) -> str:
    badge = f"<span class=\"chip best\">best {escape(', '.join(rule.metrics))}</span>" if best and rule else ""
    params = "".join(f"<span class=\"chip\">{escape(k)} = {escape(_format(v))}</span>" for k, v in entry.params.items())
    image = f"<img src=\"{_href(entry.image)}\" loading=\"lazy\" alt=\"waveform of {escape(entry.take)}\">" if entry.image else ""
    return (f"<article class=\"take{' best' if best else ''}\" data-take=\"{escape(entry.take)}\">"
            f"<header><span class=\"id\">{escape(entry.take)}</span>{badge}</header><div class=\"chips\">{params}</div>"
            f"<audio controls preload=\"none\" src=\"{_href(entry.audio)}\"></audio>{image}</article>")


def _metrics_table(entries: Sequence[TakeSong], swept: Sequence[str], best: str | None, rule: SelectRule | None) -> str:
    metrics = list(dict.fromkeys(k for e in entries for k, v in e.metrics.items() if _number(v) or isinstance(v, str)))
    marked = {k: " class=\"swept\"" for k in swept} | {metric: " class=\"rule\"" for metric in (rule.metrics if rule else ())}
    head = "".join(f"<th{marked.get(k, '')}>{escape(k)}</th>" for k in ["take", *swept, *metrics])
    rows = "".join(
        f"<tr{_BEST_ROW if e.take == best else ''}><td>{escape(e.take)}</td>"
        + "".join(f"<td{marked.get(k, '')}>{escape(_format(e.params.get(k)))}</td>" for k in swept)
        + "".join(f"<td{marked.get(k, '')}>{escape(_format(e.metrics.get(k)))}</td>" for k in metrics) + "</tr>"
        for e in entries)
    return f"<div class=\"table-wrap\"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"


def _page(title: str, body: str) -> str:
    css = resources.files("songforge.report").joinpath("templates/compare.css").read_text(encoding="utf-8")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)} · songforge sweep</title>\n<style>\n{css}</style>\n</head>\n"
            f"<body>\n<main>\n{body}\n<footer>made by songforge</footer>\n</main>\n"
            f"<script>{_PAUSE_OTHERS}</script>\n</body>\n</html>\n")


def _format(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return "—"
    if value.is_integer() and abs(value) < 1e6:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3g}"


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _href(file: str) -> str:
    return escape(quote(file, safe="/"))
