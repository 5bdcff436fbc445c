"""The album's review page: one self-contained HTML file that links its songs' audio and pictures by relative path."""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Mapping, Sequence
from urllib.parse import quote

from ..errors import ParamsError
from ..paths import write_text

Metric = float | int | str | bool | None
_APPROX = re.compile(r"^\s*[≈~]\s*±?\s*(\d+(?:\.\d*)?|\.\d+)\s*$")
_ORDER = {"≤": "<=", "<=": "<=", "≥": ">=", ">=": ">=", "<": "<", ">": ">", "=": "=", "==": "="}
_UNIT_SUFFIXES = (("_dbtp", "dBTP"), ("_lufs", "LUFS"), ("_lu", "LU"), ("_dbfs", "dBFS"), ("_db", "dB"),
                  ("_bpm", "BPM"), ("_hz", "Hz"), ("_cents", "cents"), ("_ms", "ms"), ("_s", "s"), ("_pct", "%"))
_NAMED_UNITS = {"lufs": ("loudness", "LUFS"), "lra": ("loudness range", "LU"), "tempo": ("tempo", "BPM")}
_PAUSE_OTHERS = ("document.addEventListener('play', e => document.querySelectorAll('audio')"
                 ".forEach(a => { if (a !== e.target) a.pause(); }), true);")


@dataclass(frozen=True)
class SongReport:
    """What the report shows of one song. Every path is relative to the report's folder.

    audio: label -> file, e.g. {"master (mp3)": "01-rain/master.mp3", "vocals": "01-rain/vocals.wav"}.
    images: PNGs shown in order. metrics: name -> value; a name's unit comes from its suffix
    (`_db`, `_dbtp`, `_lufs`, `_bpm`, `_hz`, `_s`, ...). targets: name -> (comparison, target)
    with comparison one of ≤ ≥ < > = or '≈±tolerance', e.g. {'lufs': ('≈±0.5', -14)}.
    """

    title: str
    folder: str
    audio: Mapping[str, str] = field(default_factory=dict)
    lyrics: str = ""
    images: Sequence[str] = ()
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    targets: Mapping[str, tuple[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("title", "lyrics"):
            if not isinstance(getattr(self, name), str):
                raise ParamsError(name, f"{getattr(self, name)!r} is not text", f"pass the song's {name} as a str")
        _relative(self.folder, "folder")
        for label, file in self.audio.items():
            _relative(file, f"audio[{label!r}]")
        for index, image in enumerate(self.images):
            _relative(image, f"images[{index}]")
        for name, target in self.targets.items():
            if not (isinstance(target, (tuple, list)) and len(target) == 2):
                raise ParamsError(f"targets[{name!r}]", f"{target!r} is not a (comparison, target) pair", "write e.g. ('≤', -1.0)")
            meets_target(0.0, *target, field=f"targets[{name!r}]")

    def missed(self) -> list[str]:
        """Names of the metrics whose target is missed or whose value is missing."""
        return [name for name, target in self.targets.items() if meets_target(self.metrics.get(name), *target) is not True]


def meets_target(value: Metric, comparison: str, target: float, field: str = "target") -> bool | None:
    """Whether `value` meets `comparison target` ('≤', '≥', '<', '>', '=', '≈±tol'); None if value isn't a number."""
    if not _finite(target):
        raise ParamsError(field, f"target {target!r} is not a finite number", "write the target as a number")
    if not isinstance(comparison, str):
        raise ParamsError(field, f"comparison {comparison!r} is not text", "use one of ≤ ≥ < > = or '≈±0.5'")
    approx = _APPROX.match(comparison) if isinstance(comparison, str) else None
    if not approx and comparison not in _ORDER:
        raise ParamsError(field, f"unknown comparison {comparison!r}", "use one of ≤ ≥ < > = (or <= >= ==) or '≈±tolerance', e.g. '≈±0.5'")
    if not _finite(value):
        return None
    value, target = float(value), float(target)
    if approx:
        return abs(value - target) <= float(approx.group(1)) + 1e-9
    op = _ORDER[comparison]
    if op == "=":
        return math.isclose(value, target, rel_tol=1e-9, abs_tol=1e-9)
    return {"<=": value <= target, ">=": value >= target, "<": value < target, ">": value > target}[op]


def album_report_html(album_title: str, songs: Sequence[SongReport], path: Path) -> Path:
    """Write the album's report to `path` (atomically) and return it.

    An album header, a summary table (one row per song, missed targets in red), then a card per
    song: players, lyrics, pictures, metrics. Inline CSS, no external fetches; audio and images
    are linked relative to `path`'s folder so the folder can be moved or logged as an artifact.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ParamsError("path", f"'{path}' does not end in .html", "name the report <something>.html")
    if not songs or not all(isinstance(song, SongReport) for song in songs):
        raise ParamsError("songs", "needs at least one SongReport", "pass a list of SongReport, one per song")
    names = _metric_names(songs)
    body = "\n".join([_album_header(album_title, songs), _summary_table(songs, names)]
                     + [_song_card(index, song, path.parent) for index, song in enumerate(songs, start=1)])
    return write_text(path, _page(album_title, body))


# -- page parts ---------------------------------------------------------------------------------


def _page(album_title: str, body: str) -> str:
    css = resources.files("songforge.report").joinpath("templates/album.css").read_text(encoding="utf-8")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(album_title)} · songforge report</title>\n<style>\n{css}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n<footer>made by songforge</footer>\n</main>\n"
        f"<script>{_PAUSE_OTHERS}</script>\n</body>\n</html>\n"
    )


def _album_header(album_title: str, songs: Sequence[SongReport]) -> str:
    missed = sum(bool(song.missed()) for song in songs)
    judged = sum(bool(song.targets) for song in songs)
    chips = [f"<span class=\"chip\">{len(songs)} song{'s' * (len(songs) != 1)}</span>"]
    if judged:
        kind = "miss" if missed else "ok"
        chips.append(f"<span class=\"chip {kind}\">{judged - missed} of {judged} meet every target</span>")
    return (f"<header class=\"album-header\"><div class=\"kicker\">album report</div>"
            f"<h1>{escape(album_title)}</h1><div class=\"chips\">{''.join(chips)}</div></header>")


def _summary_table(songs: Sequence[SongReport], names: list[str]) -> str:
    head = "".join(f"<th>{_header_label(name)}{_shared_target(songs, name)}</th>" for name in names)
    rows = []
    for index, song in enumerate(songs, start=1):
        cells = "".join(_metric_cell(song, name) for name in names)
        missed = len(song.missed())
        rows.append(f"<tr><td class=\"title\"><a href=\"#song-{index:02d}\">{index:02d} · {escape(song.title)}</a></td>"
                    f"{cells}<td class=\"{'miss' if missed else ''}\">{missed}</td></tr>")
    return (f"<h3>summary</h3><div class=\"table-wrap\"><table class=\"summary\"><thead><tr><th>song</th>{head}"
            f"<th>missed<span class=\"unit\">targets</span></th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _song_card(index: int, song: SongReport, report_dir: Path) -> str:
    missed = song.missed()
    badge = (f"<span class=\"chip badge {'miss' if missed else 'ok'}\">"
             f"{f'{len(missed)} of {len(song.targets)} targets missed' if missed else 'all targets met'}</span>") if song.targets else ""
    return (
        f"<section class=\"song\" id=\"song-{index:02d}\"><header><span class=\"num\">{index:02d}</span>"
        f"<h2>{escape(song.title)}</h2><a class=\"folder\" href=\"{_href(song.folder.rstrip('/') + '/')}\">{escape(song.folder)}</a>{badge}</header>"
        f"<div class=\"song-body\"><div>{_players(song, report_dir)}{_metrics_table(song)}{_lyrics(song.lyrics)}</div>"
        f"<div>{_pictures(song)}</div></div></section>"
    )


def _players(song: SongReport, report_dir: Path) -> str:
    if not song.audio:
        return "<h3>listen</h3><p class=\"empty\">no audio</p>"
    players = []
    for label, file in song.audio.items():
        missing = "" if (report_dir / file).is_file() else "<span class=\"missing\">missing</span>"
        players.append(f"<figure class=\"player\"><figcaption><span>{escape(label)}</span>{missing}</figcaption>"
                       f"<audio controls preload=\"none\" src=\"{_href(file)}\"></audio></figure>")
    return "<h3>listen</h3>" + "".join(players)


def _lyrics(text: str) -> str:
    if not text.strip():
        return ""
    lines = [f"<span class=\"tag\">{escape(line)}</span>" if re.fullmatch(r"\s*\[[^\]]*\]\s*", line) else escape(line)
             for line in text.strip("\n").splitlines()]
    return "<h3>lyrics</h3><div class=\"lyrics\">" + "\n".join(lines) + "</div>"


def _pictures(song: SongReport) -> str:
    if not song.images:
        return "<h3>pictures</h3><p class=\"empty\">no pictures</p>"
    images = "".join(f"<a href=\"{_href(image)}\"><img src=\"{_href(image)}\" loading=\"lazy\" "
                     f"alt=\"{escape(PurePosixPath(image).stem)} of {escape(song.title)}\"></a>" for image in song.images)
    return f"<h3>pictures</h3><div class=\"pictures\">{images}</div>"


def _metrics_table(song: SongReport) -> str:
    names = list(dict.fromkeys([*song.metrics, *song.targets]))
    if not names:
        return ""
    rows = "".join(
        f"<tr><td>{_header_label(name, inline=True)}</td>{_metric_cell(song, name)}"
        f"<td>{escape(_target_text(song.targets[name])) if name in song.targets else ''}</td></tr>" for name in names
    )
    return (f"<h3>metrics</h3><div class=\"table-wrap\"><table class=\"metrics\"><thead><tr><th>metric</th><th>value</th>"
            f"<th>target</th></tr></thead><tbody>{rows}</tbody></table></div>")


# -- cells and labels ---------------------------------------------------------------------------


def _metric_cell(song: SongReport, name: str) -> str:
    value = song.metrics.get(name)
    if name not in song.targets:
        return f"<td>{escape(_format(value))}</td>"
    met = meets_target(value, *song.targets[name])
    kind = {True: "met", False: "miss", None: "unknown"}[met]
    title = f"target {_target_text(song.targets[name])}" + {True: "", False: " (missed)", None: " (not measured)"}[met]
    return f"<td class=\"{kind}\" title=\"{escape(title)}\">{escape(_format(value))}</td>"


def _metric_names(songs: Sequence[SongReport]) -> list[str]:
    return list(dict.fromkeys(name for song in songs for name in [*song.metrics, *song.targets]))


def _shared_target(songs: Sequence[SongReport], name: str) -> str:
    """The target under a column's header, when every song that sets one sets the same."""
    targets = {(str(t[0]), float(t[1])) for song in songs if (t := song.targets.get(name))}
    return f"<span class=\"target\">{escape(_target_text(targets.pop()))}</span>" if len(targets) == 1 else ""


def _header_label(name: str, inline: bool = False) -> str:
    """'true_peak_dbtp' -> 'true peak' over 'dBTP' (or 'true peak (dBTP)' inline)."""
    label, unit = _NAMED_UNITS.get(name.lower(), (name, ""))
    if not unit:
        suffix = next(((s, u) for s, u in _UNIT_SUFFIXES if name.lower().endswith(s) and len(name) > len(s)), None)
        label, unit = (name[: -len(suffix[0])], suffix[1]) if suffix else (name, "")
    label = escape(label.replace("_", " "))
    if not unit:
        return label
    return f"{label} ({escape(unit)})" if inline else f"{label}<span class=\"unit\">{escape(unit)}</span>"


def _target_text(target: tuple[str, float]) -> str:
    comparison, value = target
    approx = _APPROX.match(str(comparison))
    return f"{_format(value)} ± {approx.group(1)}" if approx else f"{_ORDER[comparison].replace('<=', '≤').replace('>=', '≥')} {_format(value)}"


def _format(value: Metric) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return {True: "yes", False: "no"}.get(value, str(value)) if isinstance(value, bool) else str(value)
    value = float(value)
    magnitude = abs(value)
    if not math.isfinite(value):
        return "—" if math.isnan(value) else f"{value}"
    if value.is_integer() and magnitude < 1e6:
        return f"{value:.0f}"
    if magnitude >= 100 or magnitude < 0.01:
        return f"{value:.1f}" if magnitude >= 100 else f"{value:.2g}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _finite(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _relative(file: str, field: str) -> str:
    """Refuse paths a moved report could not follow: absolute ones, and URLs."""
    text = str(file)
    if not text or PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive or "://" in text:
        raise ParamsError(field, f"'{text}' is not a relative path", "pass the path relative to the report's folder, e.g. os.path.relpath(p, report_dir)")
    return text


def _href(file: str) -> str:
    """A relative path as an attribute value: '/'-separated, percent-encoded, HTML-escaped."""
    return escape(quote(PureWindowsPath(file).as_posix() if "\\" in file else file, safe="/"))
