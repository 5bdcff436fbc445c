"""The album's review page: one self-contained HTML file that links its songs' audio and pictures by relative path.

The page has a sticky nav to jump between songs, an overview table, then a card per song (see
cards.py). Styles and the small player script are package files inlined into the page, so it
works offline from file:// and over http alike; it fetches nothing but the files it links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ParamsError
from ..paths import write_text
from .cards import relative, song_card
from .takes import takes_html
from .values import Metric, format_metric, label_and_unit, meets_target, target_text

__all__ = ["SongReport", "album_report_html", "meets_target"]

# The overview's columns, when the songs have them; any other targeted metric is added after.
OVERVIEW = ("duration_s", "lufs", "true_peak_dbtp", "tempo_acc1", "key_score", "vocal_range_semitones")


@dataclass(frozen=True)
class SongReport:
    """What the report shows of one song. Every path is relative to the report's folder.

    audio: label -> file, e.g. {"master (mp3)": "01-rain/master.mp3", "vocals": "01-rain/stems/vocals.wav"};
    the first is the song's main player. images: PNGs shown in order (a songforge plot gets a playhead).
    metrics: name -> value; a name's unit comes from its suffix (`_db`, `_dbtp`, `_lufs`, `_bpm`,
    `_hz`, `_s`, ...). targets: name -> (comparison, target) with comparison one of ≤ ≥ < > = or
    '≈±tolerance', e.g. {'lufs': ('≈±0.5', -14)}. sections: [(start_s, tag), ...] of the take, to
    follow the lyrics while playing. error: why the song failed, if it did. subtitle: one line
    under the title (key, tempo, style...).
    """

    title: str
    folder: str
    audio: Mapping[str, str] = field(default_factory=dict)
    lyrics: str = ""
    images: Sequence[str] = ()
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    targets: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    sections: Sequence[tuple[float, str]] = ()
    error: str | None = None
    subtitle: str = ""
    takes: Any = None  # a TakesReport (report/takes.py) for a song made as takes, shown after its card
    licences: Mapping[str, str] = field(default_factory=dict)  # metric step -> the licence of the model it used

    def __post_init__(self) -> None:
        for name in ("title", "lyrics", "subtitle"):
            if not isinstance(getattr(self, name), str):
                raise ParamsError(name, f"{getattr(self, name)!r} is not text", f"pass the song's {name} as a str")
        if self.error is not None and not isinstance(self.error, str):
            raise ParamsError("error", f"{self.error!r} is not text", "pass the failure's reason as a str, or None")
        relative(self.folder, "folder")
        for label, file in self.audio.items():
            relative(file, f"audio[{label!r}]")
        for index, image in enumerate(self.images):
            relative(image, f"images[{index}]")
        for name, target in self.targets.items():
            if not (isinstance(target, (tuple, list)) and len(target) == 2):
                raise ParamsError(f"targets[{name!r}]", f"{target!r} is not a (comparison, target) pair", "write e.g. ('≤', -1.0)")
            meets_target(0.0, *target, field=f"targets[{name!r}]")
        for index, section in enumerate(self.sections):
            if not (isinstance(section, (tuple, list)) and len(section) == 2 and isinstance(section[1], str)
                    and meets_target(section[0], "≥", 0) is True):
                raise ParamsError(f"sections[{index}]", f"{section!r} is not a (start_s, tag) pair", "write e.g. (12.5, 'chorus')")

    def missed(self) -> list[str]:
        """Names of the metrics whose target is missed or whose value is missing (none for a failed song)."""
        if self.error is not None:
            return []
        return [name for name, target in self.targets.items() if meets_target(self.metrics.get(name), *target) is not True]

    @property
    def status(self) -> str:
        """'failed', 'miss' (a target missed), 'ok' (every target met) or 'plain' (no targets)."""
        if self.error is not None:
            return "failed"
        return "miss" if self.missed() else ("ok" if self.targets else "plain")


def album_report_html(album_title: str, songs: Sequence[SongReport], path: Path) -> Path:
    """Write the album's report to `path` (atomically) and return it.

    A sticky nav, an album header, an overview table (one row per song, missed targets in red,
    failures with their reason), then a card per song: players, targets, lyrics, pictures with a
    playhead. Audio and images are linked relative to `path`'s folder, so the folder can be
    moved, served or logged as an artifact.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ParamsError("path", f"'{path}' does not end in .html", "name the report <something>.html")
    if not songs or not all(isinstance(song, SongReport) for song in songs):
        raise ParamsError("songs", "needs at least one SongReport", "pass a list of SongReport, one per song")
    body = "\n".join([_album_header(album_title, songs), _overview(songs)]
                     + [song_card(index, song, path.parent) + (takes_html(index, song.takes) if song.takes else "")
                        for index, song in enumerate(songs, start=1)])
    return write_text(path, _page(album_title, _nav(album_title, songs), body))


# -- page parts ---------------------------------------------------------------------------------


def _page(album_title: str, nav: str, body: str) -> str:
    templates = resources.files("songforge.report").joinpath("templates")
    css = templates.joinpath("album.css").read_text(encoding="utf-8")
    script = templates.joinpath("review.js").read_text(encoding="utf-8")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(album_title)} · songforge review</title>\n<style>\n{css}</style>\n</head>\n"
        f"<body>\n{nav}\n<main id=\"top\">\n{body}\n<footer>made by songforge · click a picture or a lyric "
        f"section to play from there</footer>\n</main>\n<script>\n{script}</script>\n</body>\n</html>\n"
    )


def _nav(album_title: str, songs: Sequence[SongReport]) -> str:
    links = "".join(f"<li><a class=\"{song.status}\" href=\"#song-{index:02d}\" title=\"{escape(song.title)}\">"
                    f"<span class=\"dot\"></span>{index:02d} {escape(song.title)}</a></li>"
                    for index, song in enumerate(songs, start=1))
    return (f"<nav class=\"topbar\" aria-label=\"songs\"><a class=\"brand\" href=\"#top\">{escape(album_title)}</a>"
            f"<ol class=\"jump\">{links}</ol></nav>")


def _album_header(album_title: str, songs: Sequence[SongReport]) -> str:
    made = [song for song in songs if song.error is None]
    judged = [song for song in made if song.targets]
    missed = sum(bool(song.missed()) for song in judged)
    chips = [f"<span class=\"chip\">{len(songs)} song{'s' * (len(songs) != 1)}</span>"]
    total_s = sum(float(s.metrics["duration_s"]) for s in made if meets_target(s.metrics.get("duration_s"), "≥", 0))
    if total_s:
        chips.append(f"<span class=\"chip\">{format_metric('duration_s', total_s)} in all</span>")
    if judged:
        chips.append(f"<span class=\"chip {'miss' if missed else 'ok'}\">{len(judged) - missed} of {len(judged)} meet every target</span>")
    if failed := len(songs) - len(made):
        chips.append(f"<span class=\"chip failed\">{failed} failed</span>")
    return (f"<header class=\"album-header\"><div class=\"kicker\">album review</div>"
            f"<h1>{escape(album_title)}</h1><div class=\"chips\">{''.join(chips)}</div></header>")


def _overview(songs: Sequence[SongReport]) -> str:
    names = _overview_names(songs)
    head = "".join(f"<th>{_header_label(name)}{_shared_target(songs, name)}</th>" for name in names)
    rows = [_overview_row(index, song, names) for index, song in enumerate(songs, start=1)]
    return (f"<h3>overview</h3><div class=\"table-wrap\"><table class=\"summary\"><thead><tr><th>song</th>{head}"
            f"<th>missed<span class=\"unit\">targets</span></th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _overview_row(index: int, song: SongReport, names: list[str]) -> str:
    title = f"<td class=\"title\"><a href=\"#song-{index:02d}\">{index:02d} · {escape(song.title)}</a></td>"
    if song.error is not None:
        return (f"<tr class=\"failed\">{title}<td class=\"reason\" colspan=\"{max(len(names), 1)}\">"
                f"<strong>failed</strong> · {escape(song.error)}</td><td>—</td></tr>")
    cells = "".join(_metric_cell(song, name) for name in names)
    missed = len(song.missed())
    return f"<tr>{title}{cells}<td class=\"{'miss' if missed else ''}\">{missed}</td></tr>"


def _overview_names(songs: Sequence[SongReport]) -> list[str]:
    present = list(dict.fromkeys(name for song in songs for name in [*song.metrics, *song.targets]))
    targeted = [name for song in songs for name in song.targets]
    names = list(dict.fromkeys([name for name in OVERVIEW if name in present] + targeted))
    return names or present


def _metric_cell(song: SongReport, name: str) -> str:
    value = song.metrics.get(name)
    if name not in song.targets:
        return f"<td>{escape(format_metric(name, value))}</td>"
    met = meets_target(value, *song.targets[name])
    kind = {True: "met", False: "miss", None: "unknown"}[met]
    title = f"target {target_text(song.targets[name])}" + {True: "", False: " (missed)", None: " (not measured)"}[met]
    return f"<td class=\"{kind}\" title=\"{escape(title)}\">{escape(format_metric(name, value))}</td>"


def _shared_target(songs: Sequence[SongReport], name: str) -> str:
    """The target under a column's header, when every song that sets one sets the same."""
    targets = {(str(t[0]), float(t[1])) for song in songs if (t := song.targets.get(name))}
    return f"<span class=\"target\">{escape(target_text(targets.pop()))}</span>" if len(targets) == 1 else ""


def _header_label(name: str) -> str:
    label, unit = label_and_unit(name)
    return escape(label) + (f"<span class=\"unit\">{escape(unit)}</span>" if unit else "")
